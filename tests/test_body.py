"""The body builder: dotted paths nest, list cells become arrays (of objects)."""

from __future__ import annotations

import pandas as pd

from importer.contracts.contract import load_contract
from importer.payload import build_records


def frame(row: dict[str, str | None]) -> pd.DataFrame:
    return pd.DataFrame([row], index=pd.Index([7], name="source_row"), dtype=object)


def test_dotted_paths_nest_and_empty_values_are_left_out() -> None:
    contract = load_contract("commenda")
    records = build_records(
        frame({"name": "Acme", "shipping_address.city": "SF", "shipping_address.line1": None}),
        contract,
    )
    assert records[0].source_row == 7
    assert records[0].body == {"name": "Acme", "shipping_address": {"city": "SF"}}


def test_list_cells_fill_arrays_of_objects_by_position() -> None:
    contract = load_contract("signed-customers")
    body = build_records(
        frame({"contacts[].name": "Ann; Bo|Cy", "contacts[].email": "a@x.com;b@x.com"}), contract
    )[0].body
    assert body["contacts"] == [
        {"name": "Ann", "email": "a@x.com"},
        {"name": "Bo", "email": "b@x.com"},
        {"name": "Cy"},
    ]


def test_list_of_strings_and_open_object_extras() -> None:
    contract = load_contract("offergrid-leads")
    body = build_records(
        frame({"fullName": "Ann", "tags": "a; b", "customFields.Lead Owner": "ops"}), contract
    )[0].body
    assert body == {"fullName": "Ann", "tags": ["a", "b"], "customFields": {"Lead Owner": "ops"}}


def test_an_empty_slot_keeps_later_values_on_their_own_item() -> None:
    signed = load_contract("signed-customers")
    (record,) = build_records(
        frame(
            {
                "customer": "Acme",
                "email": "a@acme.io",
                "contacts[].name": "Ann; Bo",
                "contacts[].email": "; bo@acme.io",
                "contacts[].position": "; CTO",
            }
        ),
        signed,
    )
    assert record.body["contacts"] == [
        {"name": "Ann"},
        {"name": "Bo", "email": "bo@acme.io", "position": "CTO"},
    ]
