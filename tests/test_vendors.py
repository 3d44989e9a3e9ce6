"""One test per documented constraint of each vendor, named after the seed it comes from.

Each rule is checked on both sides: the importer's verdict (map + validate, the pandera schema
built from the contract) and the vendor's, the sandbox over real loopback HTTP.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pandas as pd
import pytest

from importer.config import RunConfig
from importer.contracts.contract import Contract, load_contract
from importer.dedupe import Deduper
from importer.mapping import apply_mapping, plan_mapping
from importer.payload import build_records
from importer.pipeline.run import run_import
from importer.push.auth import Credentials, auth_headers
from importer.push.classify import classify_response
from importer.push.settings import PushSettings
from importer.sandbox import EmbeddedSandbox, Emulator, SandboxOptions
from importer.validate import build_schema, validate_chunk
from tests.conftest import stored_records

FIBER = "123e4567-e89b-12d3-a456-426614174000"
SECURITY = "9b8a7c6d-5e4f-4a3b-9c2d-1e0f9a8b7c6d"


class Vendor:
    """One vendor's contract and running sandbox, with both verdicts on a row."""

    def __init__(self, contract: Contract, sandbox: EmbeddedSandbox) -> None:
        self.contract = contract
        self.sandbox = sandbox
        self.credentials = Credentials(dict(contract.auth.sandbox_credentials))

    def mapped(self, row: dict[str, str]) -> pd.DataFrame:
        """Map one sheet row (headers -> values) as the map stage does."""
        frame = pd.DataFrame([row], index=pd.Index([2], name="source_row"), dtype=object)
        plan = plan_mapping(list(row), self.contract)
        return apply_mapping(frame, plan, self.contract)

    def importer_says(self, row: dict[str, str]) -> str | None:
        """Return the importer's reasons for refusing the row, or None if it is valid."""
        failures = validate_chunk(self.mapped(row), build_schema(self.contract)).failures
        return failures.get(2)

    def body(self, row: dict[str, str]) -> dict[str, Any]:
        """Return the body the importer would send for the row."""
        return build_records(self.mapped(row), self.contract)[0].body

    def post(self, body: object, **headers: str) -> httpx.Response:
        """Send a body to the sandbox, authenticated as the importer does."""
        content = json.dumps(body).encode()
        signed = auth_headers(
            self.contract,
            self.credentials,
            method=self.contract.method,
            path=self.contract.path,
            body=content,
        )
        return httpx.post(
            f"{self.sandbox.base_url}{self.contract.path}",
            content=content,
            headers={**signed, "content-type": "application/json", **headers},
            timeout=10,
        )

    def vendor_says(self, row: dict[str, str]) -> httpx.Response:
        """Send the row's body to the sandbox."""
        return self.post(self.body(row))

    def report_message(self, response: httpx.Response) -> str:
        """Return what the report says about a vendor's answer."""
        answer = classify_response(
            response.status_code, response.headers, response.content, self.contract
        )
        return answer.message


@pytest.fixture
def vendor(request: pytest.FixtureRequest) -> Iterator[Vendor]:
    contract = load_contract(request.param)
    with EmbeddedSandbox(contract, SandboxOptions()) as sandbox:
        yield Vendor(contract, sandbox)


def uses(vendor_id: str) -> pytest.MarkDecorator:
    return pytest.mark.parametrize("vendor", [vendor_id], indirect=True)


# --- seed 000: offergrid-leads ---------------------------------------------------------------


@uses("offergrid-leads")
def test_seed_000_full_name_is_required(vendor: Vendor) -> None:
    row = {"Name": " ", "Email": "ann@example.com"}
    assert vendor.importer_says(row) == "fullName is required"
    assert vendor.vendor_says(row).status_code == 400


@uses("offergrid-leads")
@pytest.mark.parametrize(("header", "field"), [("Type", "kind"), ("Source", "source")])
def test_seed_000_kind_and_source_are_enums(vendor: Vendor, header: str, field: str) -> None:
    row = {"Name": "Ann", header: "prospect"}
    assert f"{field} must be one of" in (vendor.importer_says(row) or "")
    answer = vendor.vendor_says(row)
    assert answer.status_code == 400
    assert f"400 Bad Request: {field}: 'prospect' is not one of" in vendor.report_message(answer)


# --- seed 001: offergrid-orders --------------------------------------------------------------

ORDER = {
    "Full Name": "Ada Lovelace",
    "Email": "ada@example.com",
    "Phone": "4155550123",
    "Street": "1 Main St",
    "City": "San Francisco",
    "State": "CA",
    "Zip": "94102",
    "Country": "US",
    "Offer IDs": f"{FIBER}|{SECURITY}",
}


@uses("offergrid-orders")
def test_seed_001_flat_row_becomes_the_nested_order_body(vendor: Vendor) -> None:
    assert vendor.importer_says(ORDER) is None
    assert vendor.body(ORDER) == {
        "items": [{"offerId": FIBER}, {"offerId": SECURITY}],
        "serviceAddress": {
            "street": "1 Main St",
            "city": "San Francisco",
            "state": "CA",
            "zipCode": "94102",
            "country": "US",
        },
        "customerInfo": {
            "fullName": "Ada Lovelace",
            "email": "ada@example.com",
            "phone": "4155550123",
        },
    }
    answer = vendor.vendor_says(ORDER)
    assert answer.status_code == 201
    assert answer.json()["id"].startswith("ord_")


@uses("offergrid-orders")
@pytest.mark.parametrize(
    ("header", "field"),
    [
        ("Offer IDs", "items[].offerId"),
        ("Street", "serviceAddress.street"),
        ("City", "serviceAddress.city"),
        ("State", "serviceAddress.state"),
        ("Zip", "serviceAddress.zipCode"),
        ("Country", "serviceAddress.country"),
        ("Full Name", "customerInfo.fullName"),
        ("Email", "customerInfo.email"),
        ("Phone", "customerInfo.phone"),
    ],
)
def test_seed_001_required_fields(vendor: Vendor, header: str, field: str) -> None:
    row = {**ORDER, header: ""}
    assert vendor.importer_says(row) == f"{field} is required"
    assert vendor.vendor_says(row).status_code == 400


@uses("offergrid-orders")
def test_seed_001_offer_not_available_to_the_team_is_404(vendor: Vendor) -> None:
    row = {**ORDER, "Offer IDs": f"{FIBER}; not-in-catalog"}
    assert vendor.importer_says(row) is None  # only the vendor knows its catalog
    answer = vendor.vendor_says(row)
    assert answer.status_code == 404
    assert answer.json()["error"] == "Not Found"
    assert vendor.report_message(answer) == (
        "404 Not Found: One or more offers are not available to your team: not-in-catalog"
    )
    assert stored_records(vendor.sandbox.base_url) == []


@uses("offergrid-orders")
def test_seed_001_catalog_lists_the_offers_available_to_the_team(vendor: Vendor) -> None:
    url = f"{vendor.sandbox.base_url}/reseller/catalog"
    assert httpx.get(url, timeout=10).status_code == 401
    listing = httpx.get(url, headers={"x-api-key": "sandbox-offergrid-key"}, timeout=10).json()
    assert listing["total"] == len(listing["data"]) == 4
    assert FIBER in {offer["id"] for offer in listing["data"]}


@uses("offergrid-orders")
def test_seed_001_an_order_is_one_per_customer_and_offer_set(vendor: Vendor) -> None:
    twin = {**ORDER, "Offer IDs": f"{SECURITY} ; {FIBER}", "Email": "ADA@example.com"}
    unordered = [spec.path for spec in vendor.contract.fields if spec.as_set]
    deduper = Deduper(vendor.contract.dedupe_key, unordered=unordered)
    assert deduper.keys(vendor.mapped(ORDER)).iloc[0] == deduper.keys(vendor.mapped(twin)).iloc[0]
    assert vendor.mapped(twin)["items[].offerId"].iloc[0] == f"{SECURITY};{FIBER}"
    assert vendor.contract.dedupe_key == ("customerInfo.email", "items[].offerId")
    assert [vendor.vendor_says(ORDER).status_code for _ in range(2)] == [201, 201]


# --- seed 002: signed-customers --------------------------------------------------------------


@uses("signed-customers")
@pytest.mark.parametrize(
    ("row", "importer", "field"),
    [
        ({"Company": "", "Email": "a@x.com"}, "customer is required", "customer"),
        ({"Company": "x" * 256, "Email": "a@x.com"}, "customer must be 1 to 255", "customer"),
        ({"Company": "A", "Email": ""}, "email is required", "email"),
        ({"Company": "A", "Email": "a" * 250 + "@x.com"}, "email must be at most 255", "email"),
        (
            {"Company": "A", "Email": "a@x.com", "Main Phone": "1" * 51},
            "mainPhone must be",
            "mainPhone",
        ),
        (
            {"Company": "A", "Email": "a@x.com", "Website": "acme.com"},
            "website must be a URL",
            "website",
        ),
        (
            {"Company": "A", "Email": "a@x.com", "Website": "https://" + "a" * 250},
            "website must be at most 255",
            "website",
        ),
        (
            {"Company": "A", "Email": "a@x.com", "Status": "pending"},
            "status must be one of",
            "status",
        ),
    ],
)
def test_seed_002_field_rules_and_the_error_body(
    vendor: Vendor, row: dict[str, str], importer: str, field: str
) -> None:
    assert importer in (vendor.importer_says(row) or "")
    answer = vendor.vendor_says(row)
    assert answer.status_code == 400
    body = answer.json()
    assert set(body) == {"status", "message", "code", "details", "errors"}
    assert body["status"] == "error"
    assert body["code"] == "validation_error"
    assert [error["field"] for error in body["errors"]] == [field]
    assert vendor.report_message(answer).startswith(f"400 Bad Request: {field}: ")


@uses("signed-customers")
def test_seed_002_status_defaults_to_active(vendor: Vendor) -> None:
    answer = vendor.vendor_says({"Company": "A", "Email": "a@x.com"})
    assert answer.status_code == 201
    body = answer.json()
    assert body["status"] == "success"
    assert body["data"]["status"] == "active"
    assert body["data"]["id"].startswith("cst_")
    assert vendor.contract.field("status").default == "active"
    assert "status" not in stored_records(vendor.sandbox.base_url)[0]  # the vendor applies it


@uses("signed-customers")
def test_seed_002_email_is_unique_within_the_team_409(vendor: Vendor) -> None:
    assert vendor.vendor_says({"Company": "A", "Email": "a@x.com"}).status_code == 201
    again = vendor.vendor_says({"Company": "B", "Email": "A@X.com"})
    assert again.status_code == 409
    assert again.json()["code"] == "email_already_exists"
    assert vendor.report_message(again) == "409 Conflict: A customer with this email already exists"


@uses("signed-customers")
def test_seed_002_addresses_and_contacts_from_flat_columns(vendor: Vendor) -> None:
    row = {
        "Company": "Acme",
        "Email": "ap@acme.com",
        "Zip": "94105",
        "City": "San Francisco",
        "Shipping City": "Oakland",
        "Contact Name": "Ann Lee | Bo Chan",
        "Contact Email": "Ann@Acme.com | bo@acme.com",
    }
    assert vendor.body(row) == {
        "customer": "Acme",
        "email": "ap@acme.com",
        "billingAddress": {"city": "San Francisco", "postalCode": "94105"},
        "shippingAddress": {"city": "Oakland"},
        "contacts": [
            {"name": "Ann Lee", "email": "ann@acme.com"},
            {"name": "Bo Chan", "email": "bo@acme.com"},
        ],
    }
    assert vendor.vendor_says(row).status_code == 201
    nameless = {**row, "Contact Name": "Ann Lee"}
    assert "every item needs contacts[].name" in (vendor.importer_says(nameless) or "")
    assert vendor.vendor_says(nameless).status_code == 400


@uses("signed-customers")
def test_seed_002_429_has_the_documented_error_body(vendor: Vendor) -> None:
    response = Emulator(vendor.contract, SandboxOptions()).error(429, "Rate limit exceeded")
    assert response.body is not None
    body = json.loads(bytes(response.body))
    assert body == {
        "status": "error",
        "message": "Rate limit exceeded",
        "code": "rate_limit_exceeded",
        "details": {},
        "errors": [],
    }


def signed(vendor: Vendor, content: bytes, now: float) -> dict[str, str]:
    headers = auth_headers(
        vendor.contract,
        vendor.credentials,
        method="POST",
        path="/customers",
        body=content,
        now=lambda: now,
    )
    return {**headers, "content-type": "application/json"}


@uses("signed-customers")
def test_seed_002_signature_covers_the_exact_bytes_and_time(vendor: Vendor) -> None:
    url = f"{vendor.sandbox.base_url}/customers"
    content = b'{"customer":"A","email":"a@x.com"}'
    headers = signed(vendor, content, time.time())

    def code(response: httpx.Response) -> tuple[int, str]:
        return response.status_code, response.json()["code"]

    tampered = content.replace(b"a@x", b"b@x")
    assert code(httpx.post(url, content=tampered, headers=headers, timeout=10)) == (
        401,
        "invalid_signature",
    )
    assert httpx.post(url, content=content, headers=headers, timeout=10).status_code == 201
    assert code(httpx.post(url, content=content, headers=headers, timeout=10)) == (
        401,
        "replayed_request",
    )
    for skew in (-301, 301):
        stale = signed(vendor, content, time.time() + skew)
        assert code(httpx.post(url, content=content, headers=stale, timeout=10)) == (
            401,
            "timestamp_out_of_window",
        )
    inside = signed(vendor, b'{"customer":"B","email":"b@x.com"}', time.time() - 290)
    assert (
        httpx.post(
            url, content=b'{"customer":"B","email":"b@x.com"}', headers=inside, timeout=10
        ).status_code
        == 201
    )
    for header, value in (("x-client-id", "other"), ("Authorization", "Bearer other")):
        wrong = {**signed(vendor, content, time.time()), header: value}
        assert httpx.post(url, content=content, headers=wrong, timeout=10).status_code == 401


@uses("signed-customers")
def test_seed_002_every_attempt_is_signed_afresh(vendor: Vendor) -> None:
    first, second = (
        auth_headers(
            vendor.contract, vendor.credentials, method="POST", path="/customers", body=b"{}"
        )
        for _ in range(2)
    )
    assert first["x-timestamp"] != second["x-timestamp"]
    assert first["x-signature"] != second["x-signature"]
    assert first["Authorization"] == "Bearer sandbox-signed-token"
    assert first["x-client-id"] == "sandbox-signed-client"


# --- seed 003: org-console -------------------------------------------------------------------


@uses("org-console")
@pytest.mark.parametrize(
    ("row", "field", "blamed"),
    [
        ({"Name": "", "VAT": "IT1"}, "name", "name"),
        ({"Name": "Acme", "VAT": "", "Region": "Italy"}, "custom_data.vat", "custom_data.vat"),
        # With no VAT and no other custom data the body has no custom_data at all.
        ({"Name": "Acme", "VAT": ""}, "custom_data.vat", "custom_data"),
    ],
)
def test_seed_003_name_and_vat_are_required_with_the_data_errors_body(
    vendor: Vendor, row: dict[str, str], field: str, blamed: str
) -> None:
    assert vendor.importer_says(row) == f"{field} is required"
    body = vendor.body(row)
    if "Region" in row:  # more custom data, sent on request (--extras-to-open-object)
        body.setdefault("custom_data", {})["Region"] = row["Region"]
    answer = vendor.post(body)
    assert answer.status_code == 400
    assert answer.json() == {
        "code": 400,
        "message": "validation failed",
        "data": {
            "type": "validation_error",
            "errors": [{"key": blamed, "message": "required", "value": ""}],
        },
    }
    assert vendor.report_message(answer) == f"400 Bad Request: {blamed}: required"


@uses("org-console")
def test_seed_003_custom_data_takes_more_keys_and_vat_from_set(
    vendor: Vendor, tmp_path: Path
) -> None:
    sheet = tmp_path / "orgs.csv"
    sheet.write_text("Organization Name,Region\nACME Srl,Italy\nACME Srl,Italy\n", encoding="utf-8")
    result = run_import(
        RunConfig(
            sheet_path=sheet,
            vendor="org-console",
            out_dir=tmp_path / "out",
            base_url=vendor.sandbox.base_url,
            constants={"custom_data.vat": "IT777", "custom_data.source": "importer"},
            extras_to_open_object=True,
        ),
        env={"ORG_CONSOLE_TOKEN": "sandbox-org-console-token"},
    )
    assert result.totals.created == 1 and result.totals.duplicate == 1  # one VAT, one org
    assert stored_records(vendor.sandbox.base_url) == [
        {
            "name": "ACME Srl",
            "custom_data": {"vat": "IT777", "Region": "Italy", "source": "importer"},
        }
    ]


@uses("org-console")
def test_seed_003_a_vat_it_already_holds_is_422(vendor: Vendor) -> None:
    answer = vendor.vendor_says({"Name": "ACME", "VAT": "IT12345678901"})
    assert answer.status_code == 422
    assert answer.json()["data"]["errors"] == [
        {"key": "custom_data.vat", "message": "already_exists", "value": "IT12345678901"}
    ]
    assert vendor.report_message(answer) == (
        "422 Unprocessable Entity: custom_data.vat: already_exists (got 'IT12345678901')"
    )


@uses("org-console")
def test_seed_003_401_and_403_bodies_and_403_stops_the_run(vendor: Vendor, tmp_path: Path) -> None:
    url = f"{vendor.sandbox.base_url}/api/customers"
    body = {"name": "A", "custom_data": {"vat": "IT1"}}
    refused = httpx.post(url, json=body, headers={"Authorization": "Bearer nope"}, timeout=10)
    assert (refused.status_code, refused.json()) == (
        401,
        {"code": 401, "message": "invalid token", "data": {}},
    )
    readonly = {"Authorization": "Bearer sandbox-org-console-readonly"}
    forbidden = httpx.post(url, json=body, headers=readonly, timeout=10)
    assert (forbidden.status_code, forbidden.json()) == (
        403,
        {"code": 403, "message": "insufficient permissions", "data": {}},
    )
    sheet = tmp_path / "orgs.csv"
    sheet.write_text("Name,VAT\nA,IT1\nB,IT2\n", encoding="utf-8")
    result = run_import(
        RunConfig(
            sheet_path=sheet,
            vendor="org-console",
            out_dir=tmp_path / "out",
            base_url=vendor.sandbox.base_url,
        ),
        env={"ORG_CONSOLE_TOKEN": "sandbox-org-console-readonly"},
    )
    assert result.aborted and "403" in result.aborted
    assert "sandbox-org-console-readonly" not in result.files.rows_csv.read_text()


# --- seed 004: commenda ----------------------------------------------------------------------


@uses("commenda")
@pytest.mark.parametrize(
    ("row", "importer", "field"),
    [
        ({"Name": "Acme", "Corporation ID": ""}, "corporation_id is required", "corporation_id"),
        ({"Corporation ID": "corp_1", "Name": ""}, "name is required", "name"),
        ({"Corporation ID": "corp_1", "Name": "Al"}, "name must be at least 3", "name"),
        (
            {"Corporation ID": "corp_1", "Name": "Acme", "Email": "nope"},
            "email is not a valid",
            "email",
        ),
    ],
)
def test_seed_004_field_rules(
    vendor: Vendor, row: dict[str, str], importer: str, field: str
) -> None:
    assert importer in (vendor.importer_says(row) or "")
    answer = vendor.vendor_says(row)
    assert answer.status_code == 400
    assert answer.json()["data"] is None
    assert [error["field"] for error in answer.json()["errors"]] == [field]
    assert vendor.report_message(answer).startswith(f"400 Bad Request: {field}: ")


@uses("commenda")
def test_seed_004_shipping_address_from_crm_headers_and_the_data_message_answer(
    vendor: Vendor,
) -> None:
    row = {
        "Corporation": "corp_123",
        "Customer Name": "Acme Corporation",
        "Email": "contact@acme.com",
        "Zip": "94105",
        "Address Line 2": "Suite 100",
    }
    assert vendor.body(row) == {
        "corporation_id": "corp_123",
        "name": "Acme Corporation",
        "email": "contact@acme.com",
        "shipping_address": {"line2": "Suite 100", "postal_code": "94105"},
    }
    answer = vendor.vendor_says(row)
    assert answer.status_code == 201
    assert answer.json()["message"] == "Successfully created customer."
    created = classify_response(201, answer.headers, answer.content, vendor.contract)
    assert created.vendor_id == answer.json()["data"]["id"]
    assert vendor.vendor_says(row).status_code == 201  # no documented duplicate answer


def test_seed_002_retries_are_signed_afresh_through_faults(tmp_path: Path) -> None:
    contract = load_contract("signed-customers")
    sheet = tmp_path / "customers.csv"
    lines = ["Company,Email"] + [f"Co {n},c{n}@example.com" for n in range(30)]
    sheet.write_text("\n".join(lines) + "\n", encoding="utf-8")
    faults = SandboxOptions(fail_rate=0.3, drop_rate=0.1, seed=3)
    with EmbeddedSandbox(contract, faults) as sandbox:
        result = run_import(
            RunConfig(
                sheet_path=sheet,
                vendor="signed-customers",
                out_dir=tmp_path / "out",
                base_url=sandbox.base_url,
                push=PushSettings(
                    max_attempts=10, backoff_initial_seconds=0.01, backoff_max_seconds=0.05
                ),
            ),
            env={
                variable: contract.auth.sandbox_credentials[role]
                for role, variable in contract.auth.credentials.items()
            },
        )
        stored = stored_records(sandbox.base_url)
    assert result.totals.created + result.totals.conflicted == 30, result.totals
    assert sorted(record["email"] for record in stored) == sorted(
        f"c{n}@example.com" for n in range(30)
    )
    assert "replay" not in result.files.rows_csv.read_text()
