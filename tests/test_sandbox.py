"""The sandboxes over real HTTP: auth (and key rotation), JSON Schema, 409, stored records."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
from typing import Any

import httpx
import pytest

from importer.contracts.contract import Contract, load_all, load_contract
from importer.push.auth import Credentials, auth_headers
from importer.sandbox import EmbeddedSandbox, SandboxOptions
from tests.conftest import stored_records

KEY = {"x-api-key": "sandbox-offergrid-key"}
FIBER = "123e4567-e89b-12d3-a456-426614174000"

# Per vendor: two records it creates, and its answer when one of them is sent again (the
# vendor's duplicate answer, or 201 where it has none and stores the record twice).
ROTATION: dict[str, tuple[dict[str, Any], dict[str, Any], int]] = {
    "offergrid-leads": (
        {"fullName": "Ada Lovelace", "email": "ada@example.com"},
        {"fullName": "Grace Hopper", "email": "grace@example.com"},
        409,
    ),
    "offergrid-orders": (
        {
            "items": [{"offerId": FIBER}],
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
        },
        {
            "items": [{"offerId": FIBER}],
            "serviceAddress": {
                "street": "2 Side St",
                "city": "Oakland",
                "state": "CA",
                "zipCode": "94607",
                "country": "US",
            },
            "customerInfo": {
                "fullName": "Grace Hopper",
                "email": "grace@example.com",
                "phone": "5105550123",
            },
        },
        201,
    ),
    "signed-customers": (
        {"customer": "Analytical Engines", "email": "ada@example.com"},
        {"customer": "Compilers Inc", "email": "grace@example.com"},
        409,
    ),
    "org-console": (
        {"name": "Analytical Engines", "custom_data": {"vat": "IT11111111111"}},
        {"name": "Compilers Inc", "custom_data": {"vat": "IT22222222222"}},
        422,
    ),
    "commenda": (
        {"corporation_id": "corp_1", "name": "Ada Lovelace", "email": "ada@example.com"},
        {"corporation_id": "corp_1", "name": "Grace Hopper", "email": "grace@example.com"},
        201,
    ),
}


def post(
    sandbox: EmbeddedSandbox, body: object, headers: dict[str, str] | None = None
) -> httpx.Response:
    return httpx.post(
        f"{sandbox.base_url}/reseller/customers",
        json=body,
        headers=KEY if headers is None else headers,
        timeout=10,
    )


def test_missing_or_wrong_key_is_401_nestjs_style(leads_sandbox: EmbeddedSandbox) -> None:
    for headers in ({}, {"x-api-key": "wrong"}):
        response = post(leads_sandbox, {"fullName": "A"}, headers)
        assert response.status_code == 401
        assert response.json() == {
            "statusCode": 401,
            "message": "Unauthorized",
            "error": "Unauthorized",
        }
    assert stored_records(leads_sandbox.base_url) == []


def test_schema_violations_are_400_with_field_messages(leads_sandbox: EmbeddedSandbox) -> None:
    response = post(leads_sandbox, {"email": 5, "kind": "prospect"})
    assert response.status_code == 400
    body = response.json()
    assert body["statusCode"] == 400
    assert body["error"] == "Bad Request"
    assert "'fullName' is a required property" in body["message"]
    assert any(message.startswith("kind: 'prospect' is not one of") for message in body["message"])
    assert any(
        message.startswith("email: 5 is not of type 'string'") for message in body["message"]
    )


def test_created_then_409_for_the_same_email_in_any_case(leads_sandbox: EmbeddedSandbox) -> None:
    first = post(leads_sandbox, {"fullName": "Ada", "email": "ada@example.com", "tags": ["x"]})
    assert first.status_code == 201
    assert first.json()["id"].startswith("cus_")
    again = post(leads_sandbox, {"fullName": "Ada L", "email": " ADA@example.com"})
    assert again.status_code == 409
    assert again.json()["message"] == "A record for this person already exists in your list"
    no_email = [post(leads_sandbox, {"fullName": "No Mail"}) for _ in range(2)]
    assert [response.status_code for response in no_email] == [201, 201]
    assert stored_records(leads_sandbox.base_url) == [
        {"fullName": "Ada", "email": "ada@example.com", "tags": ["x"]},
        {"fullName": "No Mail"},
        {"fullName": "No Mail"},
    ]


def test_preloaded_people_answer_409(leads_sandbox: EmbeddedSandbox) -> None:
    response = post(leads_sandbox, {"fullName": "D", "email": "Dana.Already@example.org"})
    assert response.status_code == 409


def test_command_prints_its_url_and_stops_on_sigterm() -> None:
    with subprocess.Popen(
        [sys.executable, "-m", "importer", "sandbox", "offergrid-leads", "--port", "0"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    ) as process:
        assert process.stdout is not None and process.stderr is not None
        line = process.stdout.readline()
        match = re.search(r"http://127\.0\.0\.1:\d+", line)
        assert match, line
        response = httpx.get(f"{match.group(0)}/__sandbox__/records", timeout=10)
        assert response.json() == []
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=20) == 0
        assert "Traceback" not in process.stderr.read()


def send(
    sandbox: EmbeddedSandbox, contract: Contract, credentials: Credentials, body: object
) -> httpx.Response:
    """Send ``body`` to the sandbox, authenticated with ``credentials`` as the importer does."""
    content = json.dumps(body).encode()
    headers = auth_headers(
        contract, credentials, method=contract.method, path=contract.path, body=content
    )
    return httpx.post(
        f"{sandbox.base_url}{contract.path}",
        content=content,
        headers={**headers, "content-type": "application/json"},
        timeout=10,
    )


def test_every_vendor_has_a_rotation_case() -> None:
    assert sorted(ROTATION) == sorted(contract.id for contract in load_all())


@pytest.mark.parametrize("vendor", sorted(ROTATION))
def test_a_rotated_credential_reaches_the_same_account(vendor: str) -> None:
    contract = load_contract(vendor)
    current = dict(contract.auth.sandbox_credentials)
    rotated = dict(contract.auth.sandbox_rotated_credentials)
    assert set(rotated) == set(current)
    assert all(rotated[role] != current[role] for role in current)
    first, second, again = ROTATION[vendor]
    made_up = Credentials({role: f"made-up-{role}" for role in current})
    with EmbeddedSandbox(contract, SandboxOptions()) as sandbox:
        old, new = Credentials(current), Credentials(rotated)
        assert send(sandbox, contract, old, first).status_code == 201
        assert send(sandbox, contract, new, first).status_code == again
        assert send(sandbox, contract, new, second).status_code == 201
        assert send(sandbox, contract, old, second).status_code == again
        assert send(sandbox, contract, made_up, {**first, **second}).status_code == 401
        times = 1 if again != 201 else 2
        assert stored_records(sandbox.base_url) == [first] * times + [second] * times


def test_a_signature_must_verify_under_the_secret_of_the_set_it_names() -> None:
    contract = load_contract("signed-customers")
    body = {"customer": "Analytical Engines", "email": "ada@example.com"}
    with EmbeddedSandbox(contract, SandboxOptions()) as sandbox:
        for secrets in (
            contract.auth.sandbox_credentials,
            contract.auth.sandbox_rotated_credentials,
        ):
            wrong = Credentials({**secrets, "client_secret": "made-up-secret"})
            refused = send(sandbox, contract, wrong, body)
            assert refused.status_code == 401
            assert refused.json()["code"] == "invalid_signature"
        assert stored_records(sandbox.base_url) == []
