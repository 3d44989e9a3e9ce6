"""Chaos trials: real `importer` and `importer sandbox` processes, sheets that know their fate.

Shared by ``tests/test_chaos.py`` and ``bench/chaos.py``. A **scenario** writes a vendor's sheet
in which every row knows what must become of it (stored at the vendor, refused by validation
or by the vendor, or a duplicate of an earlier row), and says which record at the vendor is
which row's: its **identity** (an email, an order's customer and offers, or, for a row without
a key, its content; identical keyless rows are as many identities as rows). With that a trial
can settle rows in doubt the way a careful person would (looking at the vendor's records) and
count what reached the vendor against what the report says.
"""

from __future__ import annotations

import contextlib
import csv
import functools
import multiprocessing
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable, Hashable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from enum import Enum
from pathlib import Path
from typing import Any, Protocol

import httpx

REPO = Path(__file__).resolve().parents[1]
SANDBOX_ENV = REPO / "sample_data" / "sandbox.env"
LEADS = "offergrid-leads"

SYNCED_REASONS = frozenset(
    {
        "created",
        "already_synced",
        "created_by_earlier_run",
        "created_by_earlier_attempt",
        "already_exists",
    }
)
"""Reasons a report gives for a row the vendor holds."""

PENDING_REASONS = frozenset(
    {"outcome_unknown", "retries_exhausted", "cut_short", "aborted", "deferred"}
)
"""Reasons that leave a row for a later run (or a person) to finish."""

_EXPORT = re.compile(r"^\s*(#\s*)?export\s+(?P<name>[A-Z_]+)=(?P<value>\S+)\s*$")


def sandbox_credentials(*, rotated: bool = False) -> dict[str, str]:
    """Return the sandbox credentials of sample_data/sandbox.env.

    The current set is its ``export`` lines; the rotated set is its commented ``# export``
    lines (the same accounts after a key rotation).
    """
    found: dict[str, str] = {}
    for line in SANDBOX_ENV.read_text(encoding="utf-8").splitlines():
        match = _EXPORT.match(line)
        if match and bool(match.group(1)) is rotated:
            found[match["name"]] = match["value"]
    return found


def importer_env(*, rotated: bool = False) -> dict[str, str]:
    """Return an environment with every vendor's sandbox credentials."""
    return {**os.environ, **sandbox_credentials(rotated=rotated), "PYTHONUNBUFFERED": "1"}


ENV = importer_env()


class Process(Protocol):
    """A started `importer` command (a ``subprocess.Popen`` or a forked one)."""

    @property
    def returncode(self) -> int | None:
        """Return the exit code, once it exited (negative: killed by that signal)."""
        ...

    def poll(self) -> int | None:
        """Return the exit code if the process exited, else None."""
        ...

    def send_signal(self, signum: int) -> None:
        """Send the process a signal."""
        ...

    def communicate(self, input: None = None, timeout: float | None = None) -> tuple[Any, str]:
        """Wait for the process to exit; return (None, its stderr)."""
        ...


class Launcher(Protocol):
    """Start `importer ARGS...` with its stdout into a file (or dropped) and stderr kept."""

    def __call__(
        self, args: Sequence[str], *, env: Mapping[str, str], stdout: Path | None = None
    ) -> Process:
        """Start the command."""
        ...


def spawn(
    args: Sequence[str], *, env: Mapping[str, str], stdout: Path | None = None
) -> subprocess.Popen[str]:
    """Start `python -m importer ARGS...` as a new program."""
    with contextlib.ExitStack() as files:
        output = files.enter_context(stdout.open("w")) if stdout else subprocess.DEVNULL
        return subprocess.Popen(
            [sys.executable, "-m", "importer", *args],
            stdout=output,
            stderr=subprocess.PIPE,
            text=True,
            env=dict(env),
        )


def importer(*args: str, env: Mapping[str, str] | None = None, launch: Launcher = spawn) -> Process:
    """Start `importer ARGS...` in its own process (stdout dropped, stderr kept)."""
    return launch(args, env=env or ENV)


class Forked:
    """An `importer` command run by a process forked from one that already imported it.

    Starting Python and importing the importer takes a second of CPU; a bench that starts
    thousands of commands forks them from a server that did it once (multiprocessing's
    forkserver). Each command is still its own process, killed by SIGKILL like any other.
    """

    def __init__(
        self, args: Sequence[str], *, env: Mapping[str, str], stdout: Path | None = None
    ) -> None:
        """Fork and start the command (see ``Launcher``)."""
        folder = tempfile.mkdtemp(prefix="forked-")
        self._stderr = Path(folder) / "stderr"
        self._process = _forkserver().Process(
            target=_forked_main, args=(list(args), dict(env), stdout, self._stderr)
        )
        self._process.start()
        self.returncode: int | None = None

    def poll(self) -> int | None:
        """Return the exit code if the command exited, else None."""
        if self.returncode is None and not self._process.is_alive():
            self._process.join()
            self.returncode = self._process.exitcode
        return self.returncode

    def send_signal(self, signum: int) -> None:
        """Send the command a signal."""
        if self.poll() is None and self._process.pid is not None:
            os.kill(self._process.pid, signum)

    def communicate(self, input: None = None, timeout: float | None = None) -> tuple[None, str]:
        """Wait for the command to exit; return (None, its stderr)."""
        self._process.join(timeout)
        if self.poll() is None:
            raise subprocess.TimeoutExpired(["importer"], timeout or 0)
        stderr = (
            self._stderr.read_text(encoding="utf-8", errors="replace")
            if self._stderr.exists()
            else ""  # killed before it began
        )
        shutil.rmtree(self._stderr.parent, ignore_errors=True)
        return None, stderr


@functools.cache
def _forkserver() -> Any:
    """Return multiprocessing's forkserver context, preloading the importer (on first use)."""
    context = multiprocessing.get_context("forkserver")
    context.set_forkserver_preload(["importer.cli", __name__])
    return context


def _forked_main(args: list[str], env: dict[str, str], stdout: Path | None, stderr: Path) -> None:
    """Run `importer ARGS...` in a forked process, as `python -m importer` would."""
    os.environ.clear()
    os.environ.update(env)
    for fd, path in ((1, stdout or Path(os.devnull)), (2, stderr)):
        target = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        os.dup2(target, fd)
        os.close(target)
    from importer.cli import main  # noqa: PLC0415 (preloaded by the forkserver)

    main(args, prog_name="importer")


@contextmanager
def sandbox(*flags: str, vendor: str = LEADS, launch: Launcher = spawn) -> Iterator[str]:
    """Run `importer sandbox VENDOR --empty` in its own process; yield its base URL."""
    with tempfile.TemporaryDirectory(prefix="sandbox-") as folder:
        announced = Path(folder) / "stdout"
        process = launch(["sandbox", vendor, "--empty", *flags], env=ENV, stdout=announced)
        try:
            yield _announced_url(announced, process)
        finally:
            process.send_signal(signal.SIGTERM)
            process.communicate(timeout=20)


def _announced_url(announced: Path, process: Process) -> str:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        said = announced.read_text(encoding="utf-8") if announced.exists() else ""
        match = re.search(r"http://\S+", said)
        if match:
            return match.group(0)
        if process.poll() is not None:
            break
        time.sleep(0.01)
    raise AssertionError("sandbox did not announce its URL")


def importer_run(
    sheet: Path,
    base_url: str,
    state: Path,
    out: Path,
    *extra: str,
    vendor: str = LEADS,
    env: Mapping[str, str] | None = None,
    launch: Launcher = spawn,
) -> Process:
    """Start `importer run SHEET --vendor VENDOR --base-url --state --out EXTRA...`."""
    return importer(
        "run",
        str(sheet),
        "--vendor",
        vendor,
        "--base-url",
        base_url,
        "--state",
        str(state),
        "--out",
        str(out),
        *extra,
        env=env,
        launch=launch,
    )


def kill_9(process: Process) -> bool:
    """Kill a process with SIGKILL if it still runs; return whether it did."""
    alive = process.poll() is None
    if alive:
        process.send_signal(signal.SIGKILL)
    process.communicate(timeout=60)
    return alive


def stored_records(base_url: str) -> list[dict[str, Any]]:
    """Return every record the sandbox stored, each as received."""
    response = httpx.get(f"{base_url}/__sandbox__/records", timeout=30)
    response.raise_for_status()
    records: list[dict[str, Any]] = response.json()
    return records


def wait_for_records(base_url: str, count: int, process: Process) -> None:
    """Wait until the sandbox holds ``count`` records (or the run ended)."""
    while process.poll() is None and len(stored_records(base_url)) < count:
        time.sleep(0.02)


def read_csv(path: Path) -> list[dict[str, str]]:
    """Return the lines of a report CSV (rows.csv, unknown.csv) as dicts."""
    with path.open(encoding="utf-8-sig", newline="") as handle:
        return list(csv.DictReader(handle))


# --- Scenarios: sheets whose rows know their fate -------------------------------------------


class Fate(Enum):
    """What must become of a row in the end."""

    STORED = "stored"
    INVALID = "invalid"
    DUPLICATE = "duplicate"
    REFUSED = "refused"


FINAL_REASONS: Mapping[Fate, frozenset[str]] = {
    Fate.STORED: SYNCED_REASONS,
    Fate.INVALID: frozenset({"validation"}),
    Fate.DUPLICATE: frozenset({"duplicate_in_file"}),
    Fate.REFUSED: frozenset({"vendor_rejected"}),
}
"""The reasons a finished import may give a row of each fate."""


@dataclass(frozen=True, slots=True)
class Row:
    """One sheet row, the identity of its record at the vendor, and its fate."""

    cells: tuple[str, ...]
    identity: Hashable
    fate: Fate


@dataclass(frozen=True, slots=True)
class Scenario:
    """One vendor's sheet: headers, rows by index, and how to know a stored record's row."""

    name: str
    vendor: str
    headers: tuple[str, ...]
    make_row: Callable[[int], Row]
    identity_of_record: Callable[[Mapping[str, Any]], Hashable]
    constants: Mapping[str, str] = field(default_factory=dict)

    def rows(self, count: int) -> list[Row]:
        """Return the sheet's first ``count`` rows."""
        return [self.make_row(index) for index in range(count)]

    def run_args(self) -> list[str]:
        """Return the `importer run` options this sheet needs (its --set constants)."""
        return [
            arg for name, value in self.constants.items() for arg in ("--set", f"{name}={value}")
        ]

    def write(self, path: Path, rows: Sequence[Row]) -> None:
        """Write the sheet (its data rows are spreadsheet rows 2, 3, ...)."""
        with path.open("w", newline="", encoding="utf-8") as handle:
            writer = csv.writer(handle)
            writer.writerow(self.headers)
            writer.writerows(row.cells for row in rows)


FIBER = "123e4567-e89b-12d3-a456-426614174000"
FIBER_300 = "6f1c2a7e-3b4d-4e5f-8a9b-0c1d2e3f4a5b"
SECURITY = "9b8a7c6d-5e4f-4a3b-9c2d-1e0f9a8b7c6d"
ENERGY = "0a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d"
NOT_IN_CATALOG = "00000000-0000-4000-8000-000000000000"
OFFER_SETS = ((FIBER,), (FIBER_300, SECURITY), (ENERGY,), (FIBER, ENERGY), (SECURITY,))


def _lead_with_email(index: int) -> Row:
    email = f"lead{index}@example.com"
    if index % 40 == 39:
        return Row((f"Broken {index}", "not-an-email", "555-0100"), None, Fate.INVALID)
    if index % 25 == 24:  # the lead of the row before, written as a CRM export would
        earlier = f"lead{index - 1}@example.com"
        return Row((f"Lead {index} again", f" {earlier.upper()} ", ""), earlier, Fate.DUPLICATE)
    return Row((f"Lead {index}", email, f"555-{index:04d}"), email, Fate.STORED)


def _lead_without_email(index: int) -> Row:
    if index % 45 == 44:
        return Row(("", f"555-{index:04d}"), None, Fate.INVALID)  # fullName is required
    # Every 30th row is identical to the row before: two rows, two records.
    person = index - 1 if index % 30 == 29 else index
    cells = (f"Lead {person}", f"555-{person:04d}")
    return Row(cells, cells, Fate.STORED)


def _order(index: int) -> Row:
    offers = OFFER_SETS[index % len(OFFER_SETS)]
    email = f"buyer{index}@example.com"
    fate = Fate.STORED
    if index % 25 == 24:  # the order of the row before: offers in another order, email in caps
        offers = OFFER_SETS[(index - 1) % len(OFFER_SETS)][::-1]
        email, fate = f"  BUYER{index - 1}@Example.com", Fate.DUPLICATE
    elif index % 35 == 34:
        offers, fate = (FIBER, NOT_IN_CATALOG), Fate.REFUSED  # answered 404
    phone = "" if index % 40 == 39 else f"415-555-{index:04d}"
    if not phone:
        fate = Fate.INVALID  # customerInfo.phone is required
    identity = (email.strip().lower(), tuple(sorted(offers)))
    cells = (
        "Buyer",
        str(index),
        email,
        phone,
        f"{index} Main St",
        "San Francisco",
        "CA",
        "94102",
        ";".join(offers),
        f"order {index}",
    )
    return Row(cells, identity if fate is not Fate.INVALID else None, fate)


def _order_identity(record: Mapping[str, Any]) -> Hashable:
    offers = tuple(sorted(str(item["offerId"]) for item in record["items"]))
    return (str(record["customerInfo"]["email"]), offers)


def _signed_customer(index: int) -> Row:
    email = f"ap{index}@company{index}.example.com"
    if index % 40 == 39:
        return Row(("", email, ""), None, Fate.INVALID)  # customer is required
    if index % 25 == 24:
        earlier = f"ap{index - 1}@company{index - 1}.example.com"
        return Row((f"Company {index}", earlier.upper(), ""), earlier, Fate.DUPLICATE)
    return Row((f"Company {index}", email, f"415 555 {index:04d}"), email, Fate.STORED)


def _commenda_customer(index: int) -> Row:
    """A customer with an email (a key), or without one (known by its content)."""
    if index % 40 == 39:
        return Row(("Al", f"al{index}@example.com"), None, Fate.INVALID)  # name is 3+ chars
    if index % 3 == 0:  # no email: every 30th such row is identical to an earlier one
        person = index - 3 if index % 30 == 27 else index
        return Row((f"Walk-in {person}", ""), ("name", f"Walk-in {person}"), Fate.STORED)
    email = f"customer{index}@example.com"
    if index % 25 == 24 and (index - 1) % 3:
        earlier = f"customer{index - 1}@example.com"
        return Row((f"Customer {index}", earlier.upper()), earlier, Fate.DUPLICATE)
    return Row((f"Customer {index}", email), email, Fate.STORED)


def _commenda_identity(record: Mapping[str, Any]) -> Hashable:
    email = record.get("email")
    return str(email) if email else ("name", str(record["name"]))


SCENARIOS: Mapping[str, Scenario] = {
    scenario.name: scenario
    for scenario in (
        Scenario(
            "leads-with-email",
            LEADS,
            ("Name", "Email", "Phone"),
            _lead_with_email,
            lambda record: str(record["email"]),
        ),
        Scenario(
            "leads-without-email",
            LEADS,
            ("Name", "Phone"),
            _lead_without_email,
            lambda record: (str(record["fullName"]), str(record.get("phone", ""))),
        ),
        Scenario(
            "orders",
            "offergrid-orders",
            (
                "First Name",
                "Last Name",
                "Email",
                "Phone",
                "Service Street",
                "City",
                "State",
                "Zip",
                "Offer IDs",
                "Notes",
            ),
            _order,
            _order_identity,
            {"serviceAddress.country": "US"},
        ),
        Scenario(
            "signed-customers",
            "signed-customers",
            ("Company", "Email", "Main Phone"),
            _signed_customer,
            lambda record: str(record["email"]),
        ),
        Scenario(
            "commenda",
            "commenda",
            ("Customer Name", "Email"),
            _commenda_customer,
            _commenda_identity,
            {"corporation_id": "corp_123"},
        ),
    )
}


# --- A careful person, and the count ---------------------------------------------------------


def synced_identities(rows: Sequence[Row], report: Sequence[Mapping[str, str]]) -> Counter[Any]:
    """Count, per identity, the rows a report says the vendor holds."""
    return Counter(
        rows[int(line["source_row"]) - 2].identity
        for line in report
        if line["reason"] in SYNCED_REASONS and 2 <= int(line["source_row"]) < len(rows) + 2
    )


def fill_unknown(
    scenario: Scenario, rows: Sequence[Row], out: Path, records: Sequence[Mapping[str, Any]]
) -> int:
    """Fill unknown.csv's ``found`` column truthfully from the vendor's records.

    A person looks for each row in doubt at the vendor: there are as many records of an
    identity as rows of it the report knows as synced, plus those of the rows in doubt that
    were stored. Returns the number of rows filled (0 when there is no unknown.csv).
    """
    path = out / "unknown.csv"
    if not path.exists():
        return 0
    lines = read_csv(path)
    stored = Counter(scenario.identity_of_record(record) for record in records)
    room = stored - synced_identities(rows, read_csv(out / "rows.csv"))
    for line in lines:
        identity = rows[int(line["source_row"]) - 2].identity
        line["found"] = "there" if room[identity] > 0 else "missing"
        room[identity] -= 1
    with path.open("w", encoding="utf-8-sig", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(lines[0]))
        writer.writeheader()
        writer.writerows(lines)
    return len(lines)


def settle_truthfully(
    scenario: Scenario,
    rows: Sequence[Row],
    out: Path,
    base_url: str,
    state: Path,
    *,
    launch: Launcher = spawn,
) -> int:
    """Fill the run's unknown.csv from the vendor and pass it to `importer settle`.

    Returns the number of rows settled.

    Raises:
        AssertionError: when `importer settle` does not settle every row.
    """
    settled = fill_unknown(scenario, rows, out, stored_records(base_url))
    if settled:
        process = importer("settle", str(out / "unknown.csv"), "--state", str(state), launch=launch)
        _, stderr = process.communicate(timeout=120)
        assert process.returncode == 0, stderr
    return settled


@dataclass(frozen=True, slots=True)
class Tally:
    """What one import left at the vendor and in its final report."""

    records: int
    duplicates: int
    """Records beyond one per row identity (a stray record counts too)."""
    unaccounted: int
    """Input rows not in rows.csv exactly once, plus valid rows the vendor lacks."""
    misreported: int
    """Rows whose final status is not their fate (stored rows left in doubt included)."""
    problems: tuple[str, ...] = ()


def tally(
    rows: Sequence[Row],
    report: Sequence[Mapping[str, str]],
    identities: Sequence[Hashable],
) -> Tally:
    """Count a finished import: the vendor's records (by identity) against the sheet and report.

    Args:
        rows: The sheet's rows, in order (spreadsheet rows 2, 3, ...).
        report: The lines of the final rows.csv.
        identities: The identity of every record the vendor holds.
    """
    problems: list[str] = []
    lines = Counter(int(line["source_row"]) for line in report)
    wrong_lines = [row for row in set(lines) | set(range(2, len(rows) + 2)) if lines[row] != 1]
    if wrong_lines:
        problems.append(f"rows not in rows.csv exactly once: {sorted(wrong_lines)[:10]}")
    stored = Counter(identities)
    expected = Counter(row.identity for row in rows if row.fate is Fate.STORED)
    extra = stored - expected
    missing = expected - stored
    if extra:
        problems.append(f"stored more than once: {list(extra.items())[:5]}")
    if missing:
        problems.append(f"valid rows the vendor lacks: {list(missing.items())[:5]}")
    misreported = []
    for line in report:
        index = int(line["source_row"]) - 2
        fate = rows[index].fate if 0 <= index < len(rows) else None
        if fate is None or line["reason"] not in FINAL_REASONS[fate]:
            misreported.append(f"row {line['source_row']}: {fate} but {line['reason']}")
    lies = synced_identities(rows, report) - stored
    misreported += [f"reported synced, not at the vendor: {key}" for key in lies.elements()]
    if misreported:
        problems.append(f"misreported: {misreported[:5]}")
    return Tally(
        records=len(identities),
        duplicates=sum(extra.values()),
        unaccounted=len(wrong_lines) + sum(missing.values()),
        misreported=len(misreported),
        problems=tuple(problems),
    )
