"""The validate stage: the pandera schema built from the contract, every reason at once."""

from __future__ import annotations

from typing import Any

import pandas as pd
import pytest

from importer.contracts.contract import Contract, parse_contract
from importer.validate import build_schema, email_problem, validate_chunk


def mapped(rows: list[dict[str, Any]]) -> pd.DataFrame:
    index = pd.Index(range(2, 2 + len(rows)), name="source_row")
    return pd.DataFrame(rows, index=index, dtype=object).astype(object)


def test_valid_rows_pass(leads_contract: Contract) -> None:
    result = validate_chunk(
        mapped([{"fullName": "Ada", "email": "ada@example.com", "kind": "customer"}]),
        build_schema(leads_contract),
    )
    assert result.failures == {}
    assert result.valid.index.tolist() == [2]


def test_a_bad_row_gets_every_reason_at_once(leads_contract: Contract) -> None:
    result = validate_chunk(
        mapped(
            [
                {"fullName": None, "email": "bob@", "kind": "prospect"},
                {"fullName": "Ok", "email": None, "kind": None},
            ]
        ),
        build_schema(leads_contract),
    )
    assert result.valid.index.tolist() == [3]
    message = result.failures[2]
    assert "fullName is required" in message
    assert "email is not a valid email address ('bob@')" in message
    assert "kind must be one of: lead, customer (got 'prospect')" in message


@pytest.mark.parametrize(
    ("value", "valid"),
    [
        ("jane@example.com", True),
        ("jos\u00e9@example.com", True),
        ("no-at-sign.example.com", False),
        ("two@@example.com", False),
        ("spaces in@example.com", False),
        ("bad@domain", False),
        ("trailing@", False),
    ],
)
def test_email_syntax_without_dns(value: str, valid: bool) -> None:
    assert (email_problem(value) is None) is valid


def test_lengths_types_formats_and_patterns_come_from_the_contract() -> None:
    contract = parse_contract(
        {
            "id": "toy",
            "title": "Toy",
            "seed": "none",
            "endpoint": {"method": "post", "path": "/toys"},
            "auth": {"scheme": "bearer", "credentials": {"token": "TOY_TOKEN"}},
            "responses": {"created": [201], "error_body": {"style": "nestjs", "message": "m"}},
            "request_schema": {
                "type": "object",
                "required": ["name"],
                "properties": {
                    "name": {"type": "string", "minLength": 3, "maxLength": 5},
                    "count": {"type": "integer"},
                    "price": {"type": "number"},
                    "active": {"type": "boolean"},
                    "site": {"type": "string", "format": "uri"},
                    "code": {"type": "string", "pattern": "^[A-Z]{2}$"},
                },
            },
        }
    )
    result = validate_chunk(
        mapped(
            [
                {
                    "name": "abc",
                    "count": "12",
                    "price": "1.5",
                    "active": "true",
                    "site": "https://x.io",
                    "code": "IT",
                },
                {
                    "name": "ab",
                    "count": "1.5",
                    "price": "x",
                    "active": "maybe",
                    "site": "x.io",
                    "code": "ita",
                },
            ]
        ),
        build_schema(contract),
    )
    assert list(result.failures) == [3]
    message = result.failures[3]
    for expected in (
        "name must be 3 to 5 characters long (got 2 characters: 'ab')",
        "count must be a whole number",
        "price must be a number",
        "active must be true or false",
        "site must be a URL with its protocol",
        "code must match the pattern",
    ):
        assert expected in message
