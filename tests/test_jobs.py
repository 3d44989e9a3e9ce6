"""Job files and `importer sync`: parsing, refusals (secrets never echoed), globs, thresholds,
several jobs with one summary, a job that cannot start, and real runs into the sandbox."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from importer.cli import main
from importer.cli.console import worst
from importer.contracts.contract import RateLimit
from importer.errors import InputError, JobFileError, MissingCredential
from importer.jobs import FailureThreshold, load_job_file, newest_match, prepare
from importer.jobs.threshold import ThresholdError
from importer.lifecycle import Reason, RowOutcome, State
from importer.report.totals import Totals
from importer.sandbox import EmbeddedSandbox
from tests.conftest import REPO, SAMPLE_DATA

LEAK = "LEAK"
"""Every fake secret below holds it: a message holding it echoed a secret."""
SHEET = """Full Name,Email,Type
Ada Lovelace,ada.jobs@example.com,lead
Grace Hopper,grace.jobs@example.com,customer
Bad Email,not-an-email,lead
Alan Turing,alan.jobs@example.com,lead
"""
"""Four rows, one of which fails validation (25%)."""
NO_CREDENTIALS = {"OFFERGRID_API_KEY": None, "ACME_OFFERGRID_KEY": None}
"""Unset: the embedded sandbox then uses its own credential."""


def write(folder: Path, name: str, text: str) -> Path:
    """Write ``text`` to ``folder/name`` and return its path."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    path.write_text(text, encoding="utf-8")
    return path


def job_file(folder: Path, body: str) -> Path:
    """Write a job file holding one job ``x`` of offergrid-leads with ``body`` on line 4."""
    return write(
        folder, "jobs.toml", f'[job.x]\nsheet = "a.csv"\nvendor = "offergrid-leads"\n{body}\n'
    )


def sync(*args: str, env: dict[str, str | None] | None = None) -> Result:
    """Run ``importer sync ARGS...`` in process (no terminal)."""
    result = CliRunner().invoke(main, ["sync", *args], env={**NO_CREDENTIALS, **(env or {})})
    assert result.exception is None or isinstance(result.exception, SystemExit), result.output
    return result


def summary_rows(stdout: str) -> dict[str, list[str]]:
    """Return the summary table's rows by job name: the cells after the name."""
    lines = stdout.splitlines()
    start = max(index for index, line in enumerate(lines) if line.startswith("job "))
    return {line.split()[0]: line.split()[1:] for line in lines[start + 1 :] if line.strip()}


def test_a_job_file_is_read_whole_with_defaults_and_paths_beside_it(tmp_path: Path) -> None:
    path = write(
        tmp_path / "conf",
        "nightly.toml",
        """
[defaults]
state = "state"
concurrency = 4

[job.leads]
sheet = "exports/leads-*.csv"
vendor = "offergrid-leads"
base_url = "https://api.offergrid.io"
account = "acme"
mapping = "leads.yaml"
set = { kind = "lead", "custom.count" = 5, vip = true }
rate_limit = "50/min"
time_budget = 600
out = "reports/{job}/{date}"
credentials = { OFFERGRID_API_KEY = "ACME_OFFERGRID_KEY" }
fail_if_failed_over = "5%"

[job.orders]
sheet = "/data/orders.xlsx"
worksheet = "Orders"
header_row = 3
vendor = "offergrid-orders"
sandbox = true
concurrency = 2
fail_if_failed_over = 3
""",
    )
    jobs = load_job_file(path, env={}).jobs
    assert [job.name for job in jobs] == ["leads", "orders"]
    leads, orders = jobs
    folder = (tmp_path / "conf").resolve()
    assert leads.sheet == folder / "exports" / "leads-*.csv"
    assert leads.state == orders.state == folder / "state"
    assert leads.mapping == folder / "leads.yaml"
    assert leads.out == str(folder / "reports" / "{job}" / "{date}")
    assert orders.out == str(folder / "reports" / "{job}" / "{stamp}")
    assert leads.constants == {"kind": "lead", "custom.count": "5", "vip": "true"}
    assert leads.credentials == {"OFFERGRID_API_KEY": "ACME_OFFERGRID_KEY"}
    assert leads.rate_limit == RateLimit(50, 60)
    assert leads.time_budget == 600.0
    assert (leads.concurrency, orders.concurrency) == (4, 2)
    assert leads.fail_if_failed_over == FailureThreshold(percent=5.0)
    assert orders.fail_if_failed_over == FailureThreshold(rows=3)
    assert orders.sheet == Path("/data/orders.xlsx") and orders.worksheet == "Orders"
    assert orders.header_row == 3 and leads.header_row is None
    assert orders.sandbox and orders.base_url is None


def test_prepare_builds_the_run_config_and_reads_renamed_credentials(tmp_path: Path) -> None:
    tmp_path = tmp_path / "a {folder}"  # a brace in the folder's name is no placeholder
    path = write(
        tmp_path,
        "jobs.toml",
        """
[job.leads]
sheet = "leads.csv"
vendor = "offergrid-leads"
base_url = "https://api.offergrid.io"
state = "state"
concurrency = 3
time_budget = 60
set = { kind = "lead" }
credentials = { OFFERGRID_API_KEY = "ACME_OFFERGRID_KEY" }
fail_if_failed_over = 2
""",
    )
    (job,) = load_job_file(path, env={}).jobs
    now = datetime(2025, 7, 1, 2, 30, 5, tzinfo=UTC)
    env = {"OFFERGRID_API_KEY": "the-default-account-key", "ACME_OFFERGRID_KEY": "acme-key-1"}
    prepared = prepare(job, env=env, now=now, dry_run=False)
    config = prepared.config
    assert config.sheet_path == tmp_path / "leads.csv"
    assert config.out_dir == tmp_path / "reports" / "leads" / "20250701T023005Z"
    assert config.state_dir == tmp_path / "state"
    assert config.base_url == "https://api.offergrid.io" and not config.use_sandbox
    assert config.constants == {"kind": "lead"}
    assert config.push.concurrency == 3 and config.push.max_run_seconds == 60.0
    assert prepared.env["OFFERGRID_API_KEY"] == "acme-key-1"
    assert prepared.threshold == FailureThreshold(rows=2)
    with pytest.raises(MissingCredential, match="ACME_OFFERGRID_KEY is not set: job leads"):
        prepare(job, env={"OFFERGRID_API_KEY": "the-default-account-key"}, now=now, dry_run=False)


def test_a_glob_reads_its_newest_match(tmp_path: Path) -> None:
    exports = tmp_path / "exports"
    for day, stamp in (("01", 1_000), ("03", 3_000), ("02", 2_000)):
        path = write(exports, f"leads-2025-07-{day}.csv", SHEET)
        os.utime(path, (stamp, stamp))
    (exports / "leads-2025-07-04.csv").mkdir()  # a folder never counts
    newest = newest_match(exports / "leads-*.csv")
    assert newest == exports / "leads-2025-07-03.csv"
    os.utime(exports / "leads-2025-07-01.csv", (5_000, 5_000))
    assert newest_match(exports / "leads-*.csv") == exports / "leads-2025-07-01.csv"
    assert newest_match(tmp_path / "plain.csv") == tmp_path / "plain.csv"
    with pytest.raises(InputError, match=r"no file matches .*orders-\*\.csv"):
        newest_match(exports / "orders-*.csv")


SECRETS_IN_FILES = [
    ('api_key = "sk-LEAK-7f3a9c"', 4, "'api_key' looks like it holds a secret"),
    ("password = 91412345", 4, "'password' looks like it holds a secret"),
    ('token = "LEAK-token-value"', 4, "'token' looks like it holds a secret"),
    ('account = "sk_live_LEAK4eC39HqLyjWDarjtT1zdp7dc"', 4, "value of 'account' looks like"),
    ('account = "q8LEAKZr2Vx7Kp4mN9sT1wY6"', 4, "value of 'account' looks like a credential"),
    ('account = "eyJhbGciOiJIUzI1NiJ9.eyJMEAKsdWIiOiIxMjM0NTY3ODkwIn0.sig"', 4, None),
    ("account = 'Bearer LEAK-0123456789'", 4, None),
    ('credentials = { OFFERGRID_API_KEY = "sk-LEAK-7f3a9c" }', 4, "must name the environment"),
    ('credentials = { OFFERGRID_API_KEY = "AKIALEAKIOSFODNN7EXA" }', 4, None),
    ('base_url = "https://ops:pw-LEAK@api.offergrid.io"', 4, "a user name or password"),
    ('base_url = "https://api.offergrid.io/?key=LEAK-99"', 4, "base_url carries a query"),
    ('set = { kind = "lead", api_token = "LEAK-5" }', 4, "'api_token' looks like it holds"),
    ('account = "acme"\n\n[job.x.set]\nsecret = "LEAK-value"', 7, "'secret' looks like it"),
]


@pytest.mark.parametrize(("body", "line", "words"), SECRETS_IN_FILES)
def test_a_file_holding_a_secret_is_refused_without_echoing_it(
    tmp_path: Path, body: str, line: int, words: str | None
) -> None:
    path = job_file(tmp_path, body)
    with pytest.raises(JobFileError) as refused:
        load_job_file(path, env={})
    message = str(refused.value)
    assert message.startswith(f"jobs.toml line {line}: [job.x] "), message
    assert words is None or words in message, message
    assert LEAK not in message and "LEAK".lower() not in message.lower()


def test_a_value_that_is_a_credential_of_the_environment_is_refused(tmp_path: Path) -> None:
    env = {"OFFERGRID_API_KEY": "plain-words-key"}
    path = job_file(tmp_path, 'account = "team plain-words-key"')
    with pytest.raises(JobFileError, match=r"line 4: .* looks like a credential") as refused:
        load_job_file(path, env=env)
    assert "plain-words-key" not in str(refused.value)
    renamed = job_file(
        tmp_path, 'credentials = { OFFERGRID_API_KEY = "ACME_KEY" }\naccount = "acme-key-value"'
    )
    with pytest.raises(JobFileError, match="line 5") as refused:
        load_job_file(renamed, env={"ACME_KEY": "acme-key-value"})
    assert "acme-key-value" not in str(refused.value)


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ('sheets = "b.csv"', "line 4: [job.x] unknown key 'sheets' (did you mean 'sheet'?)"),
        ("concurrency = 0", "line 4: [job.x] concurrency must be a whole number from 1 to 256"),
        ("header_row = 0", "line 4: [job.x] header_row must be a row number, 1 or more"),
        ('rate_limit = "fast"', "line 4: [job.x] rate_limit 'fast' is not a rate like 100/min"),
        ('fail_if_failed_over = "120%"', "line 4: [job.x] fail_if_failed_over must be a row count"),
        ('out = "out/{run_id}"', "line 4: [job.x] out has an unknown placeholder {run_id}"),
        (
            '[job.y]\nsheet = "a.csv"\nvendor = "nope"',
            "line 6: [job.y] vendor 'nope' is not a vendor id",
        ),
        ('sandbox = "yes"', "line 4: [job.x] sandbox must be true or false"),
        ("set = { kind = [1] }", "line 4: [job.x] set kind must be a single value"),
        (
            'credentials = { COMMENDA_API_TOKEN = "ACME_TOKEN" }',
            "line 4: [job.x] credentials names COMMENDA_API_TOKEN, which offergrid-leads does "
            "not read; it reads OFFERGRID_API_KEY",
        ),
        (
            'base_url = "https://api.offergrid.io"\nsandbox = true',
            "line 1: [job.x] gives both base_url and sandbox = true; keep one",
        ),
        ('[job."a b"]\nsheet = "a.csv"', "line 4: [job.a b] job name 'a b' must be letters"),
        ('[defaults]\nstat = "s"', "line 5: [defaults] unknown key 'stat' (did you mean 'state'?)"),
        ('[other]\nname = "v"', "line 4: unknown key 'other': a job file holds [defaults]"),
        ("sheet = ", "is not valid TOML: Invalid value (at line 4, column 9)"),
    ],
)
def test_a_wrong_key_or_value_is_refused_naming_its_line(
    tmp_path: Path, body: str, expected: str
) -> None:
    with pytest.raises(JobFileError) as refused:
        load_job_file(job_file(tmp_path, body), env={})
    assert expected in str(refused.value)


def test_files_without_jobs_or_with_a_job_list_are_refused(tmp_path: Path) -> None:
    with pytest.raises(JobFileError, match=r"holds no job: add a \[job.NAME\] table"):
        load_job_file(write(tmp_path, "empty.toml", '[defaults]\nstate = "s"\n'), env={})
    listed = write(tmp_path, "list.toml", '[[job]]\nsheet = "a.csv"\n')
    with pytest.raises(JobFileError, match=r"line 1: job must be a table such as \[job.NAME\]"):
        load_job_file(listed, env={})
    with pytest.raises(JobFileError, match="needs sheet"):
        load_job_file(write(tmp_path, "nosheet.toml", '[job.x]\nvendor = "commenda"\n'), env={})
    with pytest.raises(JobFileError, match="does not exist"):
        load_job_file(tmp_path / "missing.toml", env={})


def test_sync_refuses_a_bad_file_in_one_line_without_the_secret(tmp_path: Path) -> None:
    path = job_file(tmp_path, 'api_key = "sk-LEAK-7f3a9c"')
    for form in ("text", "json"):
        result = sync(str(path), "--log-format", form)
        assert result.exit_code == 2
        output = result.stdout + result.stderr
        assert LEAK not in output
        (line,) = output.strip().splitlines()
        if form == "json":
            event = json.loads(line)
            assert event["event"] == "error" and "'api_key' looks like" in event["message"]
        else:
            assert line.startswith("importer: error: jobs.toml line 4: [job.x] 'api_key'")
    unknown = sync(str(job_file(tmp_path, "")), "--job", "nope")
    assert unknown.exit_code == 2
    assert "jobs.toml has no job 'nope'; its jobs: x" in unknown.stderr


def test_thresholds_read_and_judge_the_totals() -> None:
    assert FailureThreshold.parse("5%") == FailureThreshold(percent=5.0)
    assert FailureThreshold.parse(" 2.5 % ") == FailureThreshold(percent=2.5)
    assert FailureThreshold.parse(10) == FailureThreshold.parse("10") == FailureThreshold(rows=10)
    for bad in ("-1", -1, "101%", "five", True, "5 %%"):
        with pytest.raises(ThresholdError):
            FailureThreshold.parse(bad)
    totals = Totals()
    outcomes = [RowOutcome(row, State.CREATED, Reason.CREATED) for row in range(2, 20)]
    outcomes += [RowOutcome(row, State.FAILED, Reason.VALIDATION, "x") for row in (20, 21)]
    totals.add(outcomes)
    assert FailureThreshold(percent=10).crossed(totals) is None  # 2 of 20 is 10%, not more
    assert FailureThreshold(percent=9.9).crossed(totals) == (
        "2 of 20 rows failed (10.0%), more than 9.9%"
    )
    assert FailureThreshold(rows=2).crossed(totals) is None
    assert FailureThreshold(rows=1).crossed(totals) == "2 rows failed, more than 1"
    assert FailureThreshold(percent=0).crossed(Totals()) is None


def test_the_worst_exit_code_wins_in_a_fixed_order() -> None:
    assert worst([0, 1, 0]) == 1
    assert worst([1, 3, 0]) == 3
    assert worst([3, 2, 1]) == 2
    assert worst([]) == 0


def two_jobs(folder: Path) -> Path:
    """Write a job file of two sandbox jobs into ``folder``, with the sheets they read."""
    write(folder / "exports", "leads-2025-07-01.csv", SHEET)
    return write(
        folder,
        "nightly.toml",
        f"""
[defaults]
state = "state"
out = "reports/{{job}}/{{stamp}}"
sandbox = true
account = "acme"

[job.small]
sheet = "exports/leads-*.csv"
vendor = "offergrid-leads"
credentials = {{ OFFERGRID_API_KEY = "ACME_OFFERGRID_KEY" }}

[job.sample]
sheet = "{SAMPLE_DATA / "leads.csv"}"
vendor = "offergrid-leads"
""",
    )


def test_two_jobs_run_in_order_with_one_summary_and_remember_what_they_sent(
    tmp_path: Path,
) -> None:
    path = two_jobs(tmp_path)
    first = sync(str(path))
    assert first.exit_code == 1, first.output
    assert first.stdout.index("job small:") < first.stdout.index("job sample:")
    assert len(re.findall(r"^job +rows +created", first.stdout, flags=re.MULTILINE)) == 1
    rows = summary_rows(first.stdout)
    assert rows["small"] == ["4", "3", "0", "1", "0", "0", "0", "1"]
    assert rows["sample"] == ["104", "76", "2", "16", "10", "0", "0", "1"]
    assert "importer: small: started: offergrid-leads from" in first.stderr
    (report,) = (tmp_path / "reports" / "small").iterdir()
    assert json.loads((report / "summary.json").read_text())["totals"]["created"] == 3
    again = sync(str(path), "--log-format", "json")
    assert again.exit_code == 1
    events = [json.loads(line) for line in again.stdout.splitlines()]
    assert again.stderr == ""
    (finished,) = [event for event in events if event["event"] == "sync_finished"]
    assert [job["job"] for job in finished["jobs"]] == ["small", "sample"]
    assert finished["jobs"][0]["skipped"] == 3 and finished["jobs"][0]["created"] == 0
    assert {event.get("job") for event in events if event["event"] == "finished"} == {
        "small",
        "sample",
    }


def test_a_job_that_cannot_start_does_not_stop_the_next(
    tmp_path: Path, leads_sandbox: EmbeddedSandbox
) -> None:
    write(tmp_path, "leads.csv", SHEET)
    path = write(
        tmp_path,
        "jobs.toml",
        f"""
[defaults]
state = "state"
vendor = "offergrid-leads"

[job.no-sheet]
sheet = "exports/missing-*.csv"
sandbox = true

[job.no-key]
sheet = "leads.csv"
base_url = "{leads_sandbox.base_url}"
credentials = {{ OFFERGRID_API_KEY = "ACME_OFFERGRID_KEY" }}

[job.runs]
sheet = "leads.csv"
sandbox = true
""",
    )
    result = sync(str(path))
    assert result.exit_code == 2, result.output
    rows = summary_rows(result.stdout)
    assert rows["no-sheet"][:8] == ["-"] * 7 + ["2"]
    assert " ".join(rows["no-sheet"][8:]).startswith("cannot start: no file matches")
    assert "ACME_OFFERGRID_KEY is not set: job no-key" in " ".join(rows["no-key"])
    assert rows["runs"] == ["4", "3", "0", "1", "0", "0", "0", "1"]
    assert "importer: error: no-sheet: cannot start: no file matches" in result.stderr
    assert "Traceback" not in result.output


def test_a_job_over_its_threshold_makes_the_sync_exit_3(tmp_path: Path) -> None:
    write(tmp_path, "leads.csv", SHEET)
    path = write(
        tmp_path,
        "jobs.toml",
        """
[defaults]
sheet = "leads.csv"
vendor = "offergrid-leads"
sandbox = true

[job.strict]
fail_if_failed_over = "20%"

[job.lenient]
fail_if_failed_over = 1
""",
    )
    result = sync(str(path))
    assert result.exit_code == 3, result.output
    rows = summary_rows(result.stdout)
    assert rows["strict"][7:] == [
        "3",
        "1",
        "of",
        "4",
        "rows",
        "failed",
        "(25.0%),",
        "more",
        "than",
        "20%",
    ]
    assert rows["lenient"][7:] == ["1"]
    assert "importer: error: strict: over the failure threshold: 1 of 4 rows failed" in (
        result.stderr
    )
    dry = sync(str(path), "--dry-run", "--job", "lenient")
    assert dry.exit_code == 1
    assert summary_rows(dry.stdout)["lenient"][:6] == ["4", "0", "0", "1", "0", "3"]


def test_run_takes_the_threshold_too(tmp_path: Path) -> None:
    sheet = write(tmp_path, "leads.csv", SHEET)
    args = ["run", str(sheet), "--vendor", "offergrid-leads", "--dry-run", "--out"]
    over = CliRunner().invoke(main, [*args, str(tmp_path / "a"), "--fail-if-failed-over", "0"])
    assert over.exit_code == 3
    assert "over the failure threshold: 1 row failed, more than 0" in over.stderr
    within = CliRunner().invoke(main, [*args, str(tmp_path / "b"), "--fail-if-failed-over", "25%"])
    assert within.exit_code == 1
    bad = CliRunner().invoke(main, [*args, str(tmp_path / "c"), "--fail-if-failed-over", "x"])
    assert bad.exit_code == 2 and "a threshold is a row count" in bad.stderr


def readme_blocks(language: str) -> list[str]:
    """Return the README's code blocks of ``language`` in its "Nightly sync" section."""
    text = (REPO / "README.md").read_text(encoding="utf-8")
    section = text.split("\n## Nightly sync\n", 1)[1].split("\n## ", 1)[0]
    blocks: list[str] = []
    lines: list[str] | None = None
    fence = ""
    for line in section.splitlines():
        if not line.startswith("```"):
            if lines is not None:
                lines.append(line)
        elif lines is None:
            lines, fence = [], line[3:].strip()
        else:
            if fence == language:
                blocks.append("\n".join(lines) + "\n")
            lines = None
    return blocks


@pytest.fixture
def repo_copy(tmp_path: Path) -> Iterator[Path]:
    """A folder that looks like the repository to the README's commands (its sample data)."""
    (tmp_path / "sample_data").symlink_to(SAMPLE_DATA)
    yield tmp_path


def test_the_readme_nightly_example_runs_as_written(repo_copy: Path) -> None:
    (job_text,) = readme_blocks("toml")
    shell, *_ = readme_blocks("sh")
    (repo_copy / "nightly.toml").write_text(job_text, encoding="utf-8")
    env = {
        **{key: value for key, value in os.environ.items() if key not in NO_CREDENTIALS},
        "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}",
    }
    first = subprocess.run(
        ["bash", "-euc", shell],
        cwd=repo_copy,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert first.returncode == 1, first.stderr
    table = next(block for block in readme_blocks("") if block.startswith("job "))
    shown = [line.split() for line in first.stdout.splitlines()[-3:]]
    assert shown == [line.split() for line in table.strip().splitlines()]
    again = subprocess.run(
        ["importer", "sync", "nightly.toml"],
        cwd=repo_copy,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert again.returncode == 1, again.stderr
    rows = summary_rows(again.stdout)
    assert rows["leads"][1] == "0" and rows["leads"][5] == "79"  # created 0, skipped 79


def test_sigterm_stops_the_sync_after_the_job_in_progress(tmp_path: Path) -> None:
    env = {**os.environ, "PYTHONUNBUFFERED": "1", "OFFERGRID_API_KEY": "sandbox-offergrid-key"}
    rows = "".join(f"Person {n},p{n}@example.com,lead\n" for n in range(200))
    write(tmp_path, "many.csv", "Full Name,Email,Type\n" + rows)
    with subprocess.Popen(
        [sys.executable, "-m", "importer", "sandbox", "offergrid-leads", "--latency-ms", "200"],
        stdout=subprocess.PIPE,
        text=True,
        env=env,
    ) as sandbox:
        assert sandbox.stdout is not None
        url = re.search(r"http://127\.0\.0\.1:\d+", sandbox.stdout.readline())
        assert url, "the sandbox did not announce its URL"
        path = write(
            tmp_path,
            "jobs.toml",
            f"""
[defaults]
sheet = "many.csv"
vendor = "offergrid-leads"
state = "state"
concurrency = 1

[job.slow]
base_url = "{url.group(0)}"

[job.later]
sandbox = true
""",
        )
        with subprocess.Popen(
            [sys.executable, "-m", "importer", "sync", str(path)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=env,
        ) as process:
            assert process.stderr is not None
            seen = []
            for line in process.stderr:
                seen.append(line)
                if "slow: progress" in line:  # sending has begun (every 5 seconds)
                    break
            process.send_signal(signal.SIGTERM)
            stdout, rest = process.communicate(timeout=120)
        sandbox.send_signal(signal.SIGTERM)
        sandbox.wait(timeout=30)
    stderr = "".join(seen) + rest
    assert process.returncode == 2, stderr
    assert "run aborted: the run was interrupted (SIGTERM)" in stderr
    table = summary_rows(stdout)
    assert table["slow"][7] == "2" and table["later"] == ["-"] * 8 + ["not", "run"]
    assert "job later:" not in stdout
    assert "Traceback" not in stderr
