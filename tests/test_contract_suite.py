"""The contract suite, run over every vendor file in ``schemas/``.

For each vendor: the file loads and is coherent; every required field is reachable from some
header or ``--set``; its sample sheet imports end to end through its sandbox with the expected
status on every row; every error style renders a 429; and, for rows generated from the
contract (valid and invalid), the pandera verdict equals the sandbox's ``jsonschema`` verdict.

About emails: the importer refuses emails that ``email-validator`` refuses, a policy stricter
than any vendor's JSON Schema (which checks no format, or only for an "@"). The property
generates emails that are either well-formed or lack an "@", and compares the pandera verdict
with the sandbox's verdict AND the importer's email policy, so that policy is accounted for
explicitly rather than hidden in the generator.
"""

from __future__ import annotations

import csv
import importlib.util
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

import httpx
import jsonschema
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from importer.config import RunConfig
from importer.contracts.contract import Contract, FieldSpec, load_contract, split_list, vendor_ids
from importer.mapping import apply_mapping, plan_mapping
from importer.payload import build_records
from importer.pipeline.run import run_import
from importer.push.auth import Credentials, auth_headers
from importer.push.classify import classify_response
from importer.report.columns import REPORT_COLUMNS
from importer.sandbox import EmbeddedSandbox, Emulator, SandboxOptions
from importer.sandbox.vendors import ERROR_STYLES, SUCCESS_STYLES
from importer.validate import build_schema, email_problem, is_email_field, validate_chunk
from tests.conftest import SAMPLE_DATA, stored_records

VENDORS = vendor_ids()
KNOWN_SCHEMES = {"api-key", "bearer", "hmac-sha256"}


def load_samples() -> ModuleType:
    """Import ``sample_data/vendor_sheets.py``, where each sample's run options live."""
    spec = importlib.util.spec_from_file_location("vendor_sheets", SAMPLE_DATA / "vendor_sheets.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules.setdefault("vendor_sheets", module)
    spec.loader.exec_module(module)
    return module


SAMPLES: dict[str, Any] = dict(load_samples().SAMPLES)


def sandbox_env(contract: Contract) -> dict[str, str]:
    """Return the environment holding the sandbox's credentials."""
    return {
        variable: contract.auth.sandbox_credentials[role]
        for role, variable in contract.auth.credentials.items()
    }


def test_every_seed_has_a_vendor() -> None:
    assert VENDORS == [
        "commenda",
        "offergrid-leads",
        "offergrid-orders",
        "org-console",
        "signed-customers",
    ]


@pytest.mark.parametrize("vendor", VENDORS)
def test_contract_loads_and_is_coherent(vendor: str) -> None:
    contract = load_contract(vendor)
    assert contract.id == vendor
    assert (Path(__file__).parents[2] / "shared" / "seeds" / contract.seed).name == contract.seed
    assert contract.path.startswith("/")
    assert contract.method == "POST"
    assert contract.auth.scheme in KNOWN_SCHEMES
    assert set(contract.auth.credentials) == set(contract.auth.sandbox_credentials)
    assert contract.error_body.style in ERROR_STYLES
    assert contract.success_style in SUCCESS_STYLES
    assert contract.created_statuses
    assert contract.dedupe_key, "every vendor declares its dedupe key"
    for path in contract.dedupe_key:
        contract.field(path)
    if contract.open_object:
        assert contract.open_object in contract.request_schema["properties"]
    jsonschema.Draft202012Validator.check_schema(dict(contract.request_schema))
    assert contract.fields


@pytest.mark.parametrize(
    ("vendor", "detected_by"),
    [
        ("offergrid-leads", ("email",)),
        ("offergrid-orders", ()),
        ("signed-customers", ("email",)),
        ("org-console", ()),
        ("commenda", ()),
    ],
)
def test_resends_are_safe_only_by_fields_the_vendor_answers_duplicates_for(
    vendor: str, detected_by: tuple[str, ...]
) -> None:
    contract = load_contract(vendor)
    assert contract.duplicates_detected_by == detected_by
    assert bool(contract.conflict_statuses) is bool(detected_by)
    known = {spec.path for spec in contract.fields}
    assert set(detected_by) <= known


@pytest.mark.parametrize("vendor", VENDORS)
def test_every_required_field_is_reachable_from_a_header_or_set(vendor: str) -> None:
    contract = load_contract(vendor)
    required = [spec.path for spec in contract.fields if spec.required]
    assert required
    by_header = plan_mapping(required, contract)
    assert {path: cols for path, cols in by_header.columns.items() if path in required} == {
        path: (path,) for path in required
    }
    by_set = plan_mapping([], contract, constants=dict.fromkeys(required, "x"))
    assert set(by_set.constants) == set(required)
    for spec in contract.fields:
        if spec.required and spec.array is None:
            assert spec.aliases or spec.concept or spec.top_level, spec.path


@pytest.mark.parametrize("vendor", VENDORS)
def test_every_error_style_renders_a_429(vendor: str) -> None:
    contract = load_contract(vendor)
    emulator = Emulator(contract, SandboxOptions())
    response = emulator.error(429, "Too many requests")
    assert response.status == 429
    assert response.body is not None
    answer = classify_response(
        429, httpx.Headers({"retry-after": "1"}), bytes(response.body), contract
    )
    assert answer.message == "429 Too Many Requests: Too many requests"
    assert answer.retry_after == 1.0


@pytest.mark.parametrize("vendor", sorted(SAMPLES))
def test_sample_sheet_imports_with_the_expected_status_per_row(vendor: str, tmp_path: Path) -> None:
    sample = SAMPLES[vendor]
    contract = load_contract(vendor)
    with EmbeddedSandbox(contract) as sandbox:
        result = run_import(
            RunConfig(
                sheet_path=SAMPLE_DATA / sample.sheet,
                vendor=vendor,
                out_dir=tmp_path,
                base_url=sandbox.base_url,
                constants=dict(sample.constants),
                extras_to_open_object=sample.extras_to_open_object,
            ),
            env=sandbox_env(contract),
        )
        stored = stored_records(sandbox.base_url)
    rows = report_rows(result.files.rows_csv)
    got = {row["source_row"]: (row["status"], row["reason"]) for row in rows}
    expected = {
        row["source_row"]: (row["status"], row["reason"])
        for row in read_csv(SAMPLE_DATA / sample.expected)
    }
    assert got == expected, [
        row["message"] for row in rows if got[row["source_row"]] != expected[row["source_row"]]
    ]
    failed = [row for row in rows if row["status"] == "failed"]
    assert all(row["message"] and "{" not in row["message"] for row in failed)
    created = [row for row in rows if row["status"] == "created"]
    assert all(row["vendor_id"] for row in created)
    assert len(stored) == len(created)
    validator = jsonschema.Draft202012Validator(dict(contract.request_schema))
    for record in stored:
        validator.validate(record)
        for path, value in sample.constants.items():
            assert dig(record, path) == value


def report_rows(path: Path) -> list[dict[str, str]]:
    """Read rows.csv with its leading report columns by position, under their plain names.

    A sheet with a "status" column (signed-customers') has the report's as importer_status.
    """
    with path.open(encoding="utf-8-sig", newline="") as handle:
        reader = csv.reader(handle)
        header = next(reader)
        names = [*REPORT_COLUMNS, *header[len(REPORT_COLUMNS) :]]
        return [dict(zip(names, cells, strict=True)) for cells in reader]


def read_csv(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8-sig", newline="") as handle:
        return list(csv.DictReader(handle))


def dig(doc: Any, path: str) -> Any:
    for part in path.split("."):
        doc = doc.get(part) if isinstance(doc, dict) else None
    return doc


# --- pandera verdict == the sandbox's jsonschema verdict ------------------------------------

WORD = st.text(alphabet="abcdefghijklmnopqrstuvwxyzABC0123456789", min_size=1, max_size=8)
GOOD_EMAILS = st.sampled_from(["ann@example.com", "bo.chan@example.org", "x@sub.example.co"])
BAD_EMAILS = st.sampled_from(["no-at-sign.example.com", "nope"])
GOOD_URLS = st.sampled_from(["https://acme.example.com", "http://x.io/path", "ftp://h.example"])
BAD_URLS = st.sampled_from(["www.example.com", "example", "https://" + "a" * 250 + ".com"])


def text_of(sizes: list[int]) -> st.SearchStrategy[str]:
    """Return text of one of the given lengths."""
    return st.sampled_from(sizes).flatmap(
        lambda size: st.text(alphabet="abcXYZ019", min_size=size, max_size=size)
    )


def good_value(spec: FieldSpec) -> st.SearchStrategy[str]:
    """Return a strategy of values the field accepts, up to its length bounds."""
    if spec.enum:
        return st.sampled_from(spec.enum)
    if is_email_field(spec):
        return GOOD_EMAILS
    if spec.pattern:
        return GOOD_URLS
    low, high = spec.min_length or 1, spec.max_length
    return text_of(sorted({low, low + 2, *([high] if high else [])})) | WORD.filter(
        lambda text: low <= len(text) <= (high or len(text))
    )


def bad_value(spec: FieldSpec) -> st.SearchStrategy[str] | None:
    """Return a strategy of values the field refuses, or None if every text is fine."""
    if spec.enum:
        return st.just("bogus")
    if is_email_field(spec):
        return BAD_EMAILS
    if spec.pattern:
        return BAD_URLS
    sizes = [size for size in ((spec.min_length or 0) - 1, (spec.max_length or -2) + 1) if size > 0]
    return text_of(sizes) if sizes else None


@st.composite
def rows_of(draw: st.DrawFn, contract: Contract) -> dict[str, str | None]:
    """Draw a mapped row of the contract: valid, or with one to three fields spoiled."""
    counts: dict[str, int] = {}
    row: dict[str, str | None] = {}
    for spec in contract.fields:
        if spec.array:
            count = counts.setdefault(
                spec.array, draw(st.integers(0 if not spec.required else 1, 3))
            )
            present = count and (spec.required_in_item or draw(st.booleans()))
            row[spec.path] = (
                "; ".join(draw(good_value(spec)) for _ in range(count)) if present else None
            )
        elif spec.required or draw(st.booleans()):
            value = draw(good_value(spec))
            row[spec.path] = (
                "; ".join([value, *draw(st.lists(good_value(spec), max_size=2))])
                if spec.type == "array"
                else value
            )
        else:
            row[spec.path] = None
    for spec in draw(st.lists(st.sampled_from(contract.fields), max_size=3, unique=True)):
        row[spec.path] = draw(spoiled(spec, row[spec.path]))
    return row


def spoiled(spec: FieldSpec, cell: str | None) -> st.SearchStrategy[str | None]:
    """Return a strategy of cells that break the field: a bad value, an item less, or none."""
    options: list[st.SearchStrategy[str | None]] = [st.none()]
    bad = bad_value(spec)
    if bad is not None:
        options.append(bad)
    if spec.array and cell:
        options.append(st.just("; ".join(split_list(cell)[1:]) or None))
        if bad is not None:
            options.append(bad.map(lambda value: f"{cell}; {value}"))
    return st.one_of(options)


def one_row(contract: Contract, row: dict[str, str | None]) -> pd.DataFrame:
    columns = list(row)
    frame = pd.DataFrame([row], columns=columns, index=pd.Index([2], name="source_row"))
    plan = plan_mapping(
        columns, contract, explicit={path: [path] for path in columns if row[path] is not None}
    )
    return apply_mapping(frame.astype(object), plan, contract)


def email_policy_ok(contract: Contract, mapped: pd.DataFrame) -> bool:
    """Return whether every email of the row passes the importer's email policy."""
    for spec in contract.fields:
        cell = mapped[spec.path].iloc[0] if spec.path in mapped else None
        if not is_email_field(spec) or pd.isna(cell):
            continue
        values = split_list(cell) if spec.array else [cell]
        if any(email_problem(value) is not None for value in values):
            return False
    return True


@pytest.mark.parametrize("vendor", VENDORS)
def test_pandera_verdict_equals_the_sandbox_jsonschema_verdict(vendor: str) -> None:
    contract = load_contract(vendor)
    schema = build_schema(contract)
    emulator = Emulator(contract, SandboxOptions())

    @settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
    @given(row=rows_of(contract))
    def check(row: dict[str, str | None]) -> None:
        mapped = one_row(contract, row)
        importer_ok = not validate_chunk(mapped, schema).failures
        body = build_records(mapped, contract)[0].body
        sandbox_ok = not emulator.problems(body)
        assert importer_ok == (sandbox_ok and email_policy_ok(contract, mapped)), (
            body,
            [problem.text for problem in emulator.problems(body)],
        )

    check()


@pytest.mark.parametrize("vendor", VENDORS)
def test_auth_headers_are_accepted_by_the_sandbox(vendor: str) -> None:
    contract = load_contract(vendor)
    credentials = Credentials(dict(contract.auth.sandbox_credentials))
    with EmbeddedSandbox(contract, SandboxOptions(preload=False)) as sandbox:
        content = b"{}"
        headers = auth_headers(
            contract, credentials, method=contract.method, path=contract.path, body=content
        )
        answer = httpx.post(
            f"{sandbox.base_url}{contract.path}",
            content=content,
            headers={**headers, "content-type": "application/json"},
            timeout=10,
        )
        refused = httpx.post(f"{sandbox.base_url}{contract.path}", content=content, timeout=10)
    assert answer.status_code == 400, answer.text  # past auth: the empty body is refused
    assert refused.status_code == 401
