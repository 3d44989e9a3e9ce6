"""The map stage: headers find fields by name and CRM aliases; values are normalized."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from importer.contracts.contract import Contract, load_contract
from importer.errors import ConfigError, MappingError
from importer.mapping import apply_mapping, hold_back_misfits, load_mapping_file, plan_mapping
from importer.mapping.headers import normalize_header


def frame(columns: list[str], *rows: list[str]) -> pd.DataFrame:
    index = pd.Index(range(2, 2 + len(rows)), name="source_row")
    return pd.DataFrame(list(rows), columns=columns, index=index, dtype=object)


def test_normalize_header_ignores_case_spaces_and_punctuation() -> None:
    assert normalize_header("Zip/Postal Code") == normalize_header("zip postal-code")
    assert normalize_header(" E-mail ") == "email"


@pytest.mark.parametrize(
    ("header", "field"),
    [
        ("Email Address", "email"),
        ("E-mail", "email"),
        ("E-mail 1 - Value", "email"),
        ("Phone Number", "phone"),
        ("Mobile", "phone"),
        ("Street Address", "addressLine1"),
        ("Street", "addressLine1"),
        ("State/Region", "state"),
        ("State/Province", "state"),
        ("Zip", "postalCode"),
        ("Zip/Postal Code", "postalCode"),
        ("Country/Region", "country"),
        ("Full Name", "fullName"),
        ("Name", "fullName"),
        ("full_name", "fullName"),
        ("POSTAL CODE", "postalCode"),
    ],
)
def test_crm_export_headers_find_their_field(
    leads_contract: Contract, header: str, field: str
) -> None:
    columns = [header] if field == "fullName" else [header, "Full Name"]
    plan = plan_mapping(columns, leads_contract)
    assert plan.columns[field] == (header,)


def test_first_and_last_name_combine_into_full_name(leads_contract: Contract) -> None:
    plan = plan_mapping(["First Name", "Last Name", "Email"], leads_contract)
    assert plan.columns["fullName"] == ("First Name", "Last Name")
    mapped = apply_mapping(
        frame(
            ["First Name", "Last Name", "Email"], ["Ada", "Lovelace", "A@X.io"], ["Cher", "", ""]
        ),
        plan,
        leads_contract,
    )
    assert mapped["fullName"].tolist() == ["Ada Lovelace", "Cher"]


def test_phone_is_preferred_over_mobile(leads_contract: Contract) -> None:
    plan = plan_mapping(["Name", "Mobile", "Phone"], leads_contract)
    assert plan.columns["phone"] == ("Phone",)


def test_unmapped_columns_are_listed(leads_contract: Contract) -> None:
    plan = plan_mapping(["Name", "Lead Owner", "Email", "Favourite Colour"], leads_contract)
    assert plan.unmapped == ("Lead Owner", "Favourite Colour")


def test_values_are_trimmed_nfc_and_emails_lowercased(leads_contract: Contract) -> None:
    plan = plan_mapping(["Name", "Email", "Zip", "Phone"], leads_contract)
    mapped = apply_mapping(
        frame(
            ["Name", "Email", "Zip", "Phone"],
            ["  Rene\u0301e  Lef\u00e8vre ", " JANE@Example.COM ", "02134", "4155550123.0"],
            ["Bob", "   ", "", ""],
        ),
        plan,
        leads_contract,
    )
    assert mapped.loc[2, "fullName"] == "Ren\u00e9e Lef\u00e8vre"
    assert mapped.loc[2, "email"] == "jane@example.com"
    assert mapped.loc[2, "postalCode"] == "02134"
    assert mapped.loc[2, "phone"] == "4155550123"
    assert pd.isna(mapped.loc[3, "email"])
    assert pd.isna(mapped.loc[3, "phone"])


def test_constants_fill_every_row_and_must_name_a_field(leads_contract: Contract) -> None:
    plan = plan_mapping(["Name"], leads_contract, constants={"kind": "customer"})
    mapped = apply_mapping(frame(["Name"], ["A"], ["B"]), plan, leads_contract)
    assert mapped["kind"].tolist() == ["customer", "customer"]
    with pytest.raises(ConfigError, match="no field 'knd'"):
        plan_mapping(["Name"], leads_contract, constants={"knd": "x"})


def test_missing_required_field_is_a_mapping_error(leads_contract: Contract) -> None:
    with pytest.raises(MappingError, match="fullName") as caught:
        plan_mapping(["Email", "Phone"], leads_contract)
    assert "--set fullName=VALUE" in str(caught.value)
    plan = plan_mapping(["Email"], leads_contract, constants={"fullName": "Unknown"})
    assert plan.constants == {"fullName": "Unknown"}


def test_mapping_file_overrides_and_checks_columns(
    tmp_path: Path, leads_contract: Contract
) -> None:
    mapping = tmp_path / "map.yaml"
    mapping.write_text("fullName: [Given, Family]\nemail: Contact\nphone: null\n")
    explicit = load_mapping_file(mapping)
    plan = plan_mapping(["Given", "Family", "Contact", "Phone"], leads_contract, explicit=explicit)
    assert plan.columns["fullName"] == ("Given", "Family")
    assert plan.columns["email"] == ("Contact",)
    assert "phone" not in plan.columns
    assert plan.unmapped == ("Phone",)
    mapping.write_text("email: Nope\n")
    with pytest.raises(ConfigError, match="column 'Nope'"):
        plan_mapping(["Name"], leads_contract, explicit=load_mapping_file(mapping))
    mapping.write_text("- just a list\n")
    with pytest.raises(ConfigError, match="must map vendor fields"):
        load_mapping_file(mapping)
    with pytest.raises(ConfigError, match="cannot read mapping file"):
        load_mapping_file(tmp_path / "missing.yaml")


def test_aliases_reach_nested_fields_and_bare_names_stay_top_level() -> None:
    orders = load_contract("offergrid-orders")
    plan = plan_mapping(
        [
            "First Name",
            "Last Name",
            "E-mail",
            "Mobile",
            "Street Address",
            "City",
            "State",
            "Zip",
            "Country",
            "Offer IDs",
        ],
        orders,
    )
    assert plan.columns["serviceAddress.zipCode"] == ("Zip",)
    assert plan.columns["customerInfo.fullName"] == ("First Name", "Last Name")
    assert plan.columns["items[].offerId"] == ("Offer IDs",)
    signed = load_contract("signed-customers")
    plan = plan_mapping(
        ["Company", "Email", "City", "Shipping City", "shippingAddress.state"], signed
    )
    assert plan.columns["billingAddress.city"] == ("City",)
    assert plan.columns["shippingAddress.city"] == ("Shipping City",)
    assert plan.columns["shippingAddress.state"] == ("shippingAddress.state",)
    assert "contacts[].email" not in plan.columns  # "Email" is the customer's, not a contact's


def test_offer_sets_normalize_and_open_object_constants() -> None:
    orders = load_contract("offergrid-orders")
    plan = plan_mapping(
        ["Offer IDs"],
        orders,
        constants={
            "serviceAddress.street": "1",
            "serviceAddress.city": "c",
            "serviceAddress.state": "s",
            "serviceAddress.zipCode": "z",
            "serviceAddress.country": "US",
            "customerInfo.fullName": "n",
            "customerInfo.email": "e@x.io",
            "customerInfo.phone": "1",
        },
    )
    mapped = apply_mapping(frame(["Offer IDs"], ["b | a; b"], [" ; "]), plan, orders)
    assert cells(mapped["items[].offerId"]) == ["b;a", None]  # order kept, repeats dropped
    org = load_contract("org-console")
    plan = plan_mapping(["Name", "VAT"], org, constants={"custom_data.region": "IT"})
    assert plan.extra_constants == {"custom_data.region": "IT"}
    assert apply_mapping(frame(["Name", "VAT"], ["A", "1"]), plan, org)[
        "custom_data.region"
    ].tolist() == ["IT"]
    with pytest.raises(ConfigError, match=r"no field 'custom\.region'"):
        plan_mapping(["Name", "VAT"], org, constants={"custom.region": "IT"})


def test_enum_values_match_whatever_their_case(leads_contract: Contract) -> None:
    plan = plan_mapping(["Name", "Type"], leads_contract)
    mapped = apply_mapping(
        frame(["Name", "Type"], ["A", "Customer"], ["B", " LEAD "], ["C", "prospect"]),
        plan,
        leads_contract,
    )
    assert mapped["kind"].tolist() == ["customer", "lead", "prospect"]


def test_notes_keep_their_line_breaks_names_do_not(leads_contract: Contract) -> None:
    plan = plan_mapping(["Name", "Notes"], leads_contract)
    mapped = apply_mapping(
        frame(["Name", "Notes"], ["Ada\nLovelace", "  line one \r\nline  two\rline three  "]),
        plan,
        leads_contract,
    )
    assert mapped.loc[2, "fullName"] == "Ada Lovelace"
    assert mapped.loc[2, "notes"] == "line one\nline two\nline three"


def test_lead_source_is_not_matched_to_the_source_enum(leads_contract: Contract) -> None:
    plan = plan_mapping(["Name", "Lead Source"], leads_contract)
    assert "source" not in plan.columns
    assert plan.unmapped == ("Lead Source",)


def test_a_column_naming_a_field_is_never_taken_by_another_fields_alias() -> None:
    signed = load_contract("signed-customers")
    plan = plan_mapping(["Company", "Email", "Contact Name", "Contact Phone"], signed)
    assert plan.columns["contacts[].phone"] == ("Contact Phone",)
    assert "mainPhone" not in plan.columns
    with pytest.raises(MappingError, match="email"):
        plan_mapping(["Company", "Contact Email", "Contact Name"], signed)


def test_dotted_columns_fill_the_open_object() -> None:
    org = load_contract("org-console")
    plan = plan_mapping(["Name", "VAT", "custom_data.region", "Custom_Data.Contact Person"], org)
    assert plan.extras == {
        "custom_data.region": "custom_data.region",
        "custom_data.Contact Person": "Custom_Data.Contact Person",
    }
    assert plan.unmapped == ()


def test_mobile_fills_the_phone_where_phone_is_empty(leads_contract: Contract) -> None:
    plan = plan_mapping(["Name", "Phone", "Mobile", "Work Email", "Email"], leads_contract)
    assert plan.columns["phone"] == ("Phone",)
    assert plan.fallbacks == {"phone": ("Mobile",), "email": ("Work Email",)}
    assert plan.unmapped == ()
    mapped = apply_mapping(
        frame(
            ["Name", "Phone", "Mobile", "Work Email", "Email"],
            ["A", "111", "222", "a@work.io", "a@home.io"],
            ["B", "", "4155550123.0", "b@work.io", ""],
            ["C", "", "", "", ""],
        ),
        plan,
        leads_contract,
    )
    assert cells(mapped["phone"]) == ["111", "4155550123", None]
    assert cells(mapped["email"]) == ["a@home.io", "b@work.io", None]
    assert plan.describe()["phone"] == "Phone, else Mobile"


@pytest.mark.parametrize(
    ("columns", "primary", "others"),
    [
        (["Phone 1", "Phone 2"], "Phone 1", ("Phone 2",)),
        (["Phone 2", "Phone 1", "Mobile"], "Phone 1", ("Mobile", "Phone 2")),
        (["Business Phone", "Business Phone 2", "Mobile Phone"], "Business Phone", None),
        (["Person - Phone - Work", "Person - Phone - Mobile"], "Person - Phone - Work", None),
    ],
)
def test_numbered_phone_columns_fill_the_field_in_order(
    leads_contract: Contract, columns: list[str], primary: str, others: tuple[str, ...] | None
) -> None:
    plan = plan_mapping(["Name", *columns], leads_contract)
    assert plan.columns["phone"] == (primary,)
    assert set(plan.fallbacks["phone"]) == set(columns) - {primary}
    if others is not None:
        assert plan.fallbacks["phone"] == others
    assert plan.unmapped == ()


@pytest.mark.parametrize(
    ("columns", "primary"),
    [
        (["Email 1", "Email 2"], "Email 1"),
        (["E-mail 1 - Value", "E-mail 2 - Value", "E-mail 1 - Type"], "E-mail 1 - Value"),
        (["E-mail Address", "E-mail 2 Address", "E-mail 3 Address"], "E-mail Address"),
        (["Secondary Email", "Email"], "Email"),
    ],
)
def test_numbered_email_columns_fill_the_field(
    leads_contract: Contract, columns: list[str], primary: str
) -> None:
    plan = plan_mapping(["Name", *columns], leads_contract)
    assert plan.columns["email"] == (primary,)
    assert "E-mail 1 - Type" not in plan.fallbacks["email"]


def test_numbered_addresses_are_lines_not_fallbacks(leads_contract: Contract) -> None:
    plan = plan_mapping(["Name", "Address 1", "Address 2"], leads_contract)
    assert plan.columns["addressLine1"] == ("Address 1",)
    assert plan.columns["addressLine2"] == ("Address 2",)
    assert "addressLine1" not in plan.fallbacks


@pytest.mark.parametrize(
    ("header", "field"),
    [
        ("Mailing State", "state"),
        ("Mailing Zip", "postalCode"),
        ("Billing Code", "postalCode"),
        ("BILLINGSTATE", "state"),
        ("BILLINGPOSTALCODE", "postalCode"),
        ("Business Postal Code", "postalCode"),
        ("Business Country/Region", "country"),
    ],
)
def test_zoho_salesforce_and_outlook_address_headers_map(
    leads_contract: Contract, header: str, field: str
) -> None:
    assert plan_mapping(["Name", header], leads_contract).columns[field] == (header,)


def test_list_cells_split_on_what_exports_use(leads_contract: Contract) -> None:
    plan = plan_mapping(["Name", "Tags", "Email"], leads_contract)
    mapped = apply_mapping(
        frame(
            ["Name", "Tags", "Email"],
            ["A", "vip, early", "a@x.io ::: b@y.io"],
            ["B", "* myContacts ::: Friends", "c@x.io"],
            ["C", '"VIP","Newsletter"', ""],
        ),
        plan,
        leads_contract,
    )
    assert mapped["tags"].tolist() == ["vip;early", "* myContacts;Friends", "VIP;Newsletter"]
    assert cells(mapped["email"]) == ["a@x.io", "c@x.io", None]


def test_full_form_mapping_file_maps_values_fallbacks_and_ignores(
    tmp_path: Path, leads_contract: Contract
) -> None:
    mapping = tmp_path / "map.yaml"
    mapping.write_text(
        "fields:\n"
        "  fullName: Who\n"
        "  phone: {column: Work, else: [Cell]}\n"
        "  source:\n"
        "    column: Origin\n"
        "    values: {Google Ads: link, ' trade SHOW ': event, Unknown: null}\n"
        "ignore: [Owner]\n"
    )
    columns = ["Who", "Work", "Cell", "Origin", "Owner", "Extra"]
    plan = plan_mapping(columns, leads_contract, explicit=load_mapping_file(mapping))
    assert plan.fallbacks["phone"] == ("Cell",)
    assert plan.ignored == ("Owner",)
    assert plan.unmapped == ("Extra",)
    mapped = apply_mapping(
        frame(
            columns,
            ["A", "", "555", "google ads", "x", ""],
            ["B", "1", "2", "Trade Show", "x", ""],
            ["C", "", "", "unknown", "x", ""],
            ["D", "", "", "Billboard", "x", ""],
        ),
        plan,
        leads_contract,
    )
    assert cells(mapped["phone"]) == ["555", "1", None, None]
    assert cells(mapped["source"]) == ["link", "event", None, "Billboard"]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("fields: {email: {colum: E}}\n", "unknown key"),
        ("fields: {email: E}\nextra: 1\n", "unknown key"),
        ("fields: {email: E}\nignore: Owner\n", "ignore must be a list"),
        ("fields: {email: E}\nignore: [Nope]\n", "column 'Nope'"),
        ("fields: {source: {column: E, values: [a]}}\n", "values of source"),
    ],
)
def test_mapping_file_mistakes_are_named(
    tmp_path: Path, leads_contract: Contract, text: str, message: str
) -> None:
    mapping = tmp_path / "map.yaml"
    mapping.write_text(text)
    with pytest.raises(ConfigError, match=message):
        plan_mapping(["Name", "E"], leads_contract, explicit=load_mapping_file(mapping))


def test_held_back_column_is_named_and_an_explicit_one_is_kept(leads_contract: Contract) -> None:
    columns = ["Name", "Source"]
    sheet = frame(columns, ["A", "Google Ads"], ["B", "Referral"], ["C", "link"])
    plan = hold_back_misfits(plan_mapping(columns, leads_contract), sheet, leads_contract)
    assert "source" not in plan.columns
    assert plan.unmapped == ("Source",)
    assert plan.held_back_columns == {"source": ("Source",)}
    assert "2 of 3 values" in plan.held_back["source"]
    explicit = plan_mapping(columns, leads_contract, explicit={"source": ["Source"]})
    assert hold_back_misfits(explicit, sheet, leads_contract) == explicit
    fits = frame(columns, ["A", "link"], ["B", "Event"], ["C", "Google Ads"])
    kept = plan_mapping(columns, leads_contract)
    assert hold_back_misfits(kept, fits, leads_contract) == kept


def cells(values: pd.Series) -> list[str | None]:
    """Return a mapped column's values with a missing (absent) value as None."""
    return [None if pd.isna(value) else value for value in values]
