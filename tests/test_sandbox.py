"""The OfferGrid leads sandbox, over real HTTP: auth, JSON Schema, 409, stored records."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys

import httpx

from importer.sandbox import EmbeddedSandbox
from tests.conftest import stored_records

KEY = {"x-api-key": "sandbox-offergrid-key"}


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
