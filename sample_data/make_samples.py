"""Write the sample lead sheets (CSV and XLSX) and the status each row must end in.

Run from the repository root: ``python sample_data/make_samples.py``. The seed is fixed, so the
files only change when this script does. Every kind of row the pipeline must handle is here:
valid leads, duplicates differing in case and spaces, bad emails, missing names, non-ASCII and
decomposed (NFD) names, formula-like text, blank rows, rows without an email, people the
sandbox already holds, and a value outside the vendor's enum. The other vendors' sheets are
described in ``vendor_sheets.py``.
"""

from __future__ import annotations

import csv
import random
import unicodedata
from datetime import datetime
from pathlib import Path

from openpyxl import Workbook
from vendor_sheets import write_all

SEED = 20261123
HERE = Path(__file__).resolve().parent
HEADERS = [
    "First Name",
    "Last Name",
    "Email",
    "Phone Number",
    "Street Address",
    "City",
    "State/Region",
    "Postal Code",
    "Country/Region",
    "Type",
    "Notes",
    "Tags",
    "Lead Owner",
]
FIRST = [
    "Ava",
    "Noah",
    "Mia",
    "Liam",
    "Zoë",
    "José",
    "Chloé",
    "Łukasz",
    "Søren",
    "Aiko",
    "Priya",
    "Mateo",
    "Emma",
    "Oliver",
    "Sofía",
    "Björn",
    "Amélie",
    "Kwame",
    "Fatima",
    "Yuki",
]
LAST = [
    "Smith",
    "Müller",
    "García",
    "O'Brien",
    "Nguyen",
    "Kowalski",
    "Dubois",
    "Rossi",
    "Andersen",
    "Okafor",
    "Tanaka",
    "Patel",
    "Silva",
    "Haddad",
    "Johansson",
    "Brown",
]
CITIES = [
    ("San Francisco", "CA", "94102"),
    ("Boston", "MA", "02134"),
    ("Newark", "NJ", "07102"),
    ("Austin", "TX", "73301"),
    ("Portland", "OR", "97201"),
    ("Denver", "CO", "80202"),
]
KINDS = ["lead", "lead", "lead", "customer", ""]
TAGS = ["", "", "vip", "newsletter; webinar", "trade-show|2026"]


def main() -> None:
    """Write leads.csv, leads.xlsx, leads.expected.csv and every vendor's sample sheet."""
    rows, expected = build_rows(random.Random(SEED))
    write_csv(HERE / "leads.csv", rows)
    write_xlsx(HERE / "leads.xlsx", rows)
    with (HERE / "leads.expected.csv").open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["source_row", "status", "reason"])
        writer.writerows(expected)
    write_all(HERE)


def build_rows(rng: random.Random) -> tuple[list[list[object] | None], list[tuple[int, str, str]]]:
    """Return the data rows (None for a blank row) and each row's expected status and reason."""
    rows: list[list[object] | None] = []
    expected: list[tuple[int, str, str]] = []
    kept: list[list[object]] = []

    def add(row: list[object] | None, status: str = "", reason: str = "") -> None:
        rows.append(row)
        if row is not None:
            expected.append((len(rows) + 1, status, reason))

    for index in range(100):
        first, last = rng.choice(FIRST), rng.choice(LAST)
        row = person(rng, first, last, index)
        pick = index % 10
        if pick == 3 and kept:
            original = rng.choice(kept)
            twin = list(original)
            email = str(twin[2])
            twin[2] = f"  {email.upper() if index % 20 == 3 else email.title()} "
            add(twin, "duplicate", "duplicate_in_file")
            continue
        if pick == 5:
            row[2] = rng.choice(
                [
                    "no-at-sign.example.com",
                    "two@@example.com",
                    "trailing@",
                    "spaces in@example.com",
                    "bad@domain",
                ]
            )
            add(row, "failed", "validation")
            continue
        if pick == 7 and index % 20 == 7:
            row[0], row[1] = "", ""
            add(row, "failed", "validation")
            continue
        if index == 41:
            row[9] = "prospect"
            add(row, "failed", "validation")
            continue
        if index in (13, 77):
            row[2] = ""
            add(row, "created", "created")
            continue
        if index % 25 == 0:
            add(None)
        kept.append(row)
        add(row, "created", "created")
    add(
        person(rng, "Existing", "Customer", 0, email="Existing.Customer@example.com"),
        "conflicted",
        "already_exists",
    )
    add(
        person(rng, "Dana", "Already", 1, email="dana.already@example.org "),
        "conflicted",
        "already_exists",
    )
    formula = person(rng, "Eve", "Formula", 2)
    formula[10] = '=HYPERLINK("http://evil.example","click me")'
    formula[3] = "+1-555-0100"
    add(formula, "created", "created")
    decomposed = person(rng, unicodedata.normalize("NFD", "Renée"), "Lefèvre", 3)
    add(decomposed, "created", "created")
    add(None)
    add(None)
    return rows, expected


def person(rng: random.Random, first: str, last: str, index: int, email: str = "") -> list[object]:
    """Return one lead row with plausible values."""
    city, state, zip_code = rng.choice(CITIES)
    local = unicodedata.normalize("NFKD", f"{first}.{last}").encode("ascii", "ignore").decode()
    address = email or f"{local.lower().replace(chr(39), '')}{index}@example.com"
    return [
        first,
        last,
        address,
        rng.randrange(2_000_000_000, 9_999_999_999),
        f"{rng.randrange(1, 9999)} {rng.choice(['Main St', 'Oak Ave', 'Pine Rd', 'Elm St'])}",
        city,
        state,
        zip_code,
        "US",
        rng.choice(KINDS),
        rng.choice(["", "Met at the fair", "Call back in May", "Prefers email"]),
        rng.choice(TAGS),
        rng.choice(["ops@example.com", "sales@example.com"]),
    ]


def write_csv(path: Path, rows: list[list[object] | None]) -> None:
    """Write the rows as a UTF-8 CSV, a blank line for each blank row."""
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(HEADERS)
        for row in rows:
            writer.writerow(row if row is not None else [])


def write_xlsx(path: Path, rows: list[list[object] | None]) -> None:
    """Write the rows as a workbook: phones as numbers (as Excel stores them), zips as text."""
    book = Workbook()
    book.properties.created = book.properties.modified = datetime(2026, 1, 1)
    sheet = book.active
    assert sheet is not None
    sheet.title = "Leads"
    sheet.append(HEADERS)
    for row in rows:
        sheet.append(row if row is not None else [])
    for line in sheet.iter_rows():
        for cell in line:
            if isinstance(cell.value, str) and cell.value.startswith("="):
                cell.data_type = "s"  # text that looks like a formula, as a CRM export holds it
    book.save(path)


if __name__ == "__main__":
    main()
