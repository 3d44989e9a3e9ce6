"""The contract loader: shipped files load, fields flatten, unknown vendors are refused."""

from __future__ import annotations

import pytest

from importer.contracts.contract import flatten_fields, load_all, load_contract, vendor_ids
from importer.errors import ConfigError, UnknownVendor


def test_offergrid_leads_matches_seed_000() -> None:
    contract = load_contract("offergrid-leads")
    assert contract.method == "POST"
    assert contract.path == "/reseller/customers"
    assert contract.auth.header == "x-api-key"
    assert contract.credential_vars == ("OFFERGRID_API_KEY",)
    required = [spec.path for spec in contract.fields if spec.required]
    assert required == ["fullName"]
    assert contract.field("kind").enum == ("lead", "customer")
    assert contract.field("source").enum == ("order", "link", "api_import", "manual", "event")
    assert contract.field("tags").type == "array"
    assert contract.open_object == "customFields"
    assert 409 in contract.conflict_statuses


def test_every_shipped_contract_loads() -> None:
    contracts = load_all()
    assert [contract.id for contract in contracts] == vendor_ids()
    assert "offergrid-leads" in vendor_ids()


def test_unknown_vendor_names_the_known_ones() -> None:
    with pytest.raises(UnknownVendor, match="offergrid-leads"):
        load_contract("nope")


def test_unknown_field_lists_fields() -> None:
    with pytest.raises(ConfigError, match="fullName"):
        load_contract("offergrid-leads").field("fullname_typo")


def test_nested_objects_and_refs_flatten_to_dotted_paths() -> None:
    schema = {
        "type": "object",
        "required": ["address", "name"],
        "properties": {
            "name": {"type": "string", "minLength": 3},
            "address": {"$ref": "#/$defs/Address"},
            "billing": {"allOf": [{"$ref": "#/$defs/Address"}]},
        },
        "$defs": {
            "Address": {
                "type": "object",
                "required": ["zip"],
                "properties": {"zip": {"type": "string"}, "city": {"type": ["string", "null"]}},
            }
        },
    }
    fields = {spec.path: spec for spec in flatten_fields(schema, {})}
    assert set(fields) == {"name", "address.zip", "address.city", "billing.zip", "billing.city"}
    assert fields["address.zip"].required
    assert not fields["billing.zip"].required  # its parent is optional
    assert fields["address.city"].nullable
    assert fields["name"].min_length == 3


def test_arrays_of_objects_and_nullable_objects_flatten() -> None:
    orders = load_contract("offergrid-orders")
    offer = orders.field("items[].offerId")
    assert offer.required and offer.required_in_item and offer.array == "items[]"
    assert orders.field("serviceAddress.zipCode").required
    signed = load_contract("signed-customers")
    name = signed.field("contacts[].name")
    assert not name.required and name.required_in_item
    assert (name.min_length, name.max_length) == (1, 255)
    assert not signed.field("billingAddress.city").required
    assert signed.field("mainPhone").nullable and signed.field("mainPhone").max_length == 50
    assert signed.field("status").default == "active"
    assert signed.auth.window_seconds == 300
    assert load_contract("commenda").field("email").format == "email"
    assert load_contract("org-console").field("custom_data.vat").required
