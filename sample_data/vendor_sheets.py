"""The sample sheet of every vendor beyond OfferGrid leads, with the status each row must end in.

Each sheet is what a new user writes from the vendor's document alone: headers as a CRM export
names them, nested fields reached through aliases ("Zip") or dotted names, lists in one cell
("a; b"), constants given with ``--set``, and valid rows mixed with every way a row can fail.
``make_samples.py`` writes them as ``<vendor>.csv`` and ``<vendor>.expected.csv``; the contract
suite imports each one through its sandbox with the options in ``SAMPLES``.
"""

from __future__ import annotations

import csv
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

FIBER = "123e4567-e89b-12d3-a456-426614174000"
FIBER_300 = "6f1c2a7e-3b4d-4e5f-8a9b-0c1d2e3f4a5b"
SECURITY = "9b8a7c6d-5e4f-4a3b-9c2d-1e0f9a8b7c6d"
ENERGY = "0a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d"

CREATED = ("created", "created")
CONFLICTED = ("conflicted", "already_exists")
INVALID = ("failed", "validation")
REFUSED = ("failed", "vendor_rejected")
DUPLICATE = ("duplicate", "duplicate_in_file")


@dataclass(frozen=True, slots=True)
class Sample:
    """One vendor's sample sheet, how to import it, and each row's expected outcome."""

    vendor: str
    headers: Sequence[str]
    rows: Sequence[tuple[Sequence[str], tuple[str, str]]]
    constants: Mapping[str, str] = field(default_factory=dict)
    """The ``--set FIELD=VALUE`` of the import."""
    extras_to_open_object: bool = False

    @property
    def sheet(self) -> str:
        """Return the file name of the sheet."""
        return f"{self.vendor}.csv"

    @property
    def expected(self) -> str:
        """Return the file name of the expected statuses."""
        return f"{self.vendor}.expected.csv"


# fmt: off
ORDERS = Sample(
    vendor="offergrid-orders",
    headers=[
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
    ],
    rows=[
        (["Ada", "Lovelace", "ada@example.com", "4155550123", "1 Main St", "San Francisco", "CA",
          "94102", FIBER, "Mornings only"], CREATED),
        (["Bo", "Chan", "Bo.Chan@Example.com", "+1-555-123-4567", "9 Oak Ave", "Boston", "MA",
          "02134", f"{FIBER_300}|{SECURITY}", ""], CREATED),
        # The same customer and offer set, in another order and separator: the same order.
        (["Bo", "Chan", " bo.chan@example.com ", "+1-555-123-4567", "9 Oak Ave", "Boston", "MA",
          "02134", f"{SECURITY}; {FIBER_300}", ""], DUPLICATE),
        # The same customer ordering another offer: another order.
        (["Bo", "Chan", "bo.chan@example.com", "+1-555-123-4567", "9 Oak Ave", "Boston", "MA",
          "02134", ENERGY, "Second order"], CREATED),
        # An offer the sandbox team's catalog does not hold: 404.
        (["Cy", "Dee", "cy@example.com", "3125550100", "5 Pine Rd", "Denver", "CO", "80202",
          f"{FIBER};00000000-0000-4000-8000-000000000000", ""], REFUSED),
        (["Di", "Eve", "di@example.com", "", "7 Elm St", "Austin", "TX", "73301", FIBER, ""],
         INVALID),
        (["Ed", "Fox", "ed@example.com", "2065550100", "3 Bay St", "Portland", "OR", "97201", "",
          ""], INVALID),
        (["Flo", "Gray", "flo-at-example.com", "2065550101", "4 Bay St", "Portland", "OR", "",
          ENERGY, ""], INVALID),
        (["Gus", "Hale", "gus@example.com", "4155550199.0", "8 Main St", "San Francisco", "CA",
          "94102.0", f"{ENERGY} | {FIBER}", "Phone and zip as Excel numbers"], CREATED),
    ],
    constants={"serviceAddress.country": "US"},
)

SIGNED_CUSTOMERS = Sample(
    vendor="signed-customers",
    headers=[
        "Company",
        "Email",
        "Main Phone",
        "Website",
        "Status",
        "Street",
        "City",
        "State",
        "Zip",
        "Country",
        "Shipping Street",
        "Shipping City",
        "Shipping Zip",
        "Contact Name",
        "Contact Email",
        "Contact Phone",
    ],
    rows=[
        (["Acme Corporation", "ap@acme.example.com", "+1 415 555 0100", "https://acme.example.com",
          "active", "1 Market St", "San Francisco", "CA", "94105", "US", "9 Dock Rd", "Oakland",
          "94607", "Ann Lee; Bo Chan", "ann@acme.example.com; bo@acme.example.com",
          "+1 415 555 0101; +1 415 555 0102"], CREATED),
        # No status: the vendor defaults it to "active".
        (["Globex", "hello@globex.example.com", "", "http://globex.example.com", "", "", "",
          "", "", "", "", "", "", "", "", ""], CREATED),
        (["Existing Corp", "Billing@Existing-Corp.example.com", "", "", "", "", "", "", "", "",
          "", "", "", "", "", ""], CONFLICTED),
        (["Acme Again", " AP@ACME.example.com", "", "", "", "", "", "", "", "", "", "", "",
          "", "", ""], DUPLICATE),
        (["No Protocol Ltd", "np@example.com", "", "www.example.com", "", "", "", "", "", "",
          "", "", "", "", "", ""], INVALID),
        (["Pending Inc", "pending@example.com", "", "", "pending", "", "", "", "", "", "", "",
          "", "", "", ""], INVALID),
        # Two contact emails but one contact name: the second contact has no name.
        (["Half Contacts", "half@example.com", "", "", "", "", "", "", "", "", "", "", "",
          "Ann Lee", "ann@half.example.com; bo@half.example.com", ""], INVALID),
        (["Long Phone", "long@example.com", "+1 " + "5" * 60, "", "", "", "", "", "", "", "",
          "", "", "", "", ""], INVALID),
        (["No Email", "", "", "", "", "", "", "", "", "", "", "", "", "", "", ""], INVALID),
        (["X" * 256, "toolong@example.com", "", "", "", "", "", "", "", "", "", "", "", "", "",
          ""], INVALID),
        (["Initech", "ops@initech.example.com", "", "https://initech.example.com", "inactive",
          "", "Austin", "TX", "73301", "US", "", "", "", "Peter Gibbons",
          "peter@initech.example.com", ""], CREATED),
    ],
    constants={"shippingAddress.country": "US"},
)

ORG_CONSOLE = Sample(
    vendor="org-console",
    headers=["Organization Name", "Description", "VAT Number", "Email", "Region", "Contact Person"],
    rows=[
        (["ACME Distribution Srl", "Main distributor for Italian and Swiss markets",
          "IT98765432109", "contact@acme-distribution.example.com", "Italy", "John Smith"],
         CREATED),
        # The sandbox already holds an organization with this VAT number: 422 already_exists,
        # which the contract lists as the vendor's "already exists" answer.
        (["ACME Distribution SpA", "", "IT12345678901", "", "Italy", ""], CONFLICTED),
        (["No VAT GmbH", "", "", "", "Germany", ""], INVALID),
        (["", "A nameless organization", "DE123456789", "", "Germany", ""], INVALID),
        (["ACME Again", "", "IT98765432109", "", "Italy", ""], DUPLICATE),
        (["Helvetia AG", "", "CHE-123.456.789", "info@helvetia.example.com", "Switzerland",
          "Anna Meier"], CREATED),
        (["Blank VAT SA", "", "   ", "", "France", ""], INVALID),
    ],
    constants={"custom_data.source": "importer"},
    extras_to_open_object=True,
)

COMMENDA = Sample(
    vendor="commenda",
    headers=[
        "Customer Name",
        "Email",
        "External ID",
        "Address Line 1",
        "Address Line 2",
        "City",
        "State",
        "Zip",
        "Country",
    ],
    rows=[
        (["Acme Corporation", "contact@acme.example.com", "ext_456", "123 Main St", "Suite 100",
          "San Francisco", "CA", "94105", "US"], CREATED),
        (["Al", "al@example.com", "", "", "", "", "", "", ""], INVALID),
        (["Not An Email", "not-an-email", "", "", "", "", "", "", ""], INVALID),
        (["Acme Twin", "Contact@Acme.example.com", "", "", "", "", "", "", ""], DUPLICATE),
        (["Walk-in Customer", "", "", "", "", "", "", "", ""], CREATED),
        (["Walk-in Customer", "", "", "", "", "", "", "", ""], CREATED),
        (["", "noname@example.com", "", "", "", "", "", "", ""], INVALID),
        # Has an "@" (the vendor's format check would pass it) but no real domain: the importer
        # refuses it before sending (its email policy is stricter than the vendor's).
        (["Bad Domain Ltd", "billing@domain", "", "", "", "", "", "", ""], INVALID),
        (["Zip Only Inc", "zip@example.com", "", "", "", "", "", "10001", ""], CREATED),
    ],
    constants={"corporation_id": "corp_123"},
)

# fmt: on

SAMPLES: Mapping[str, Sample] = {
    sample.vendor: sample for sample in (ORDERS, SIGNED_CUSTOMERS, ORG_CONSOLE, COMMENDA)
}


def write_all(folder: Path) -> None:
    """Write every vendor's sheet and expected statuses into ``folder``."""
    for sample in SAMPLES.values():
        write_sample(folder, sample)


def write_sample(folder: Path, sample: Sample) -> None:
    """Write one vendor's sheet and its expected statuses (row 1 is the header)."""
    with (folder / sample.sheet).open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(sample.headers)
        for values, _ in sample.rows:
            assert len(values) == len(sample.headers), values
            writer.writerow(values)
    with (folder / sample.expected).open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["source_row", "status", "reason"])
        for number, (_, (status, reason)) in enumerate(sample.rows, start=2):
            writer.writerow([number, status, reason])
