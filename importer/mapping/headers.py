"""What the headers of common CRM exports mean, and how a header is compared.

HubSpot, Salesforce, Zoho, Pipedrive, Mailchimp, Google Contacts, Outlook and lead-ad exports
name one concept many ways ("E-mail 1 - Value", "Mailing Zip", "BILLINGPOSTALCODE"). Headers are
compared after ``normalize_header``, so case, spaces and punctuation never matter.

Phones and emails come numbered ("Phone 1", "Phone 2", "E-mail 2 Address"): ``numbered`` tells
which concept such a column is and how far down the list it sits, so the first fills the field
and the others fill it where the first is empty.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Mapping

__all__ = [
    "CONCEPT_ALIASES",
    "FALLBACK_CONCEPTS",
    "normalize_header",
    "ranked_concept",
]

# By concept; earlier entries win over later ones.
CONCEPT_ALIASES: Mapping[str, tuple[str, ...]] = {
    "email": (
        "email",
        "email address",
        "e-mail",
        "e-mail address",
        "primary email",
        "work email",
        "business email",
        "email 1",
        "e-mail 1 - value",
        "email 1 - value",
        "person - email",
        "person - email - work",
        "email - work",
        "contact email",
        "mail",
        "secondary email",
        "personal email",
        "home email",
        "other email",
        "alternate email",
        "alternative email",
        "person - email - home",
        "person - email - other",
    ),
    "phone": (
        "phone",
        "phone number",
        "primary phone",
        "business phone",
        "work phone",
        "telephone",
        "tel",
        "phone 1 - value",
        "person - phone",
        "person - phone - work",
        "phone - work",
        "contact phone",
        "contact phone number",
        "direct phone",
        "mobile",
        "mobile phone",
        "mobile phone number",
        "mobile number",
        "cell",
        "cell phone",
        "person - phone - mobile",
        "home phone",
        "other phone",
        "person - phone - home",
        "person - phone - other",
    ),
    "full_name": (
        "name",
        "full name",
        "contact name",
        "contact",
        "customer name",
        "display name",
        "person - name",
        "person name",
        "lead name",
    ),
    "first_name": (
        "first name",
        "firstname",
        "given name",
        "first",
        "fname",
        "person - first name",
    ),
    "last_name": (
        "last name",
        "lastname",
        "surname",
        "family name",
        "last",
        "lname",
        "person - last name",
    ),
    "company": (
        "company",
        "company name",
        "organization",
        "organisation",
        "organization name",
        "account name",
        "account",
        "business name",
        "organization 1 - name",
        "organization - name",
    ),
    "street": (
        "street",
        "street address",
        "address",
        "address line 1",
        "address 1",
        "address1",
        "street 1",
        "mailing street",
        "billing street",
        "business street",
        "home street",
        "address 1 - street",
        "street line 1",
    ),
    "street2": (
        "address line 2",
        "address 2",
        "address2",
        "street 2",
        "street address 2",
        "apartment",
        "suite",
        "address 1 - extended address",
    ),
    "city": (
        "city",
        "town",
        "locality",
        "mailing city",
        "billing city",
        "business city",
        "home city",
        "address 1 - city",
    ),
    "state": (
        "state",
        "state/region",
        "state/province",
        "province",
        "region",
        "state or province",
        "mailing state",
        "mailing state/province",
        "billing state",
        "billing state/province",
        "business state",
        "home state",
        "address 1 - region",
        "county",
    ),
    "postal_code": (
        "postal code",
        "zip",
        "zip code",
        "zipcode",
        "zip/postal code",
        "postal/zip code",
        "postcode",
        "post code",
        "postal",
        "mailing zip",
        "mailing code",
        "mailing postal code",
        "mailing zip/postal code",
        "billing zip",
        "billing code",
        "billing postal code",
        "billing zip/postal code",
        "business postal code",
        "home postal code",
        "address 1 - postal code",
    ),
    "country": (
        "country",
        "country/region",
        "country code",
        "country name",
        "mailing country",
        "billing country",
        "business country/region",
        "home country/region",
        "address 1 - country",
    ),
    "website": ("website", "website url", "web site", "url", "homepage", "web"),
    "notes": ("notes", "note", "comments", "comment", "description"),
}

FALLBACK_CONCEPTS = frozenset({"phone", "email"})
"""Concepts where a second column of the kind (Mobile, Phone 2) fills an empty first one.

Numbered addresses are not among them: "Address 2" is a second line, not a second address.
"""

_NUMBER = re.compile(r"(?<![0-9])(?P<number>[1-9][0-9]?)(?![0-9])")


@functools.lru_cache(maxsize=1 << 16)
def normalize_header(name: str) -> str:
    """Return the header with case, spaces and punctuation removed, for matching.

    Cached: planning compares every column with every field, and a sheet may be 16,000 wide.
    """
    return re.sub(r"[\W_]+", "", name.casefold())


_RANKS: dict[str, dict[str, int]] = {
    concept: {normalize_header(alias): rank for rank, alias in enumerate(reversed_aliases)}
    for concept, reversed_aliases in (
        (concept, tuple(reversed(aliases))) for concept, aliases in CONCEPT_ALIASES.items()
    )
}


def _rank(concept: str, header: str) -> int | None:
    """Return where ``header`` stands in the concept's aliases (0 best), or None."""
    ranks = _RANKS[concept]
    found = ranks.get(normalize_header(header))
    return None if found is None else len(ranks) - 1 - found


def ranked_concept(concept: str, header: str) -> tuple[int, int] | None:
    """Return how well ``header`` names one of a phone or email concept, as a sort key.

    The key is (its number in a numbered run, its alias's rank): "Phone" is (1, 0),
    "Phone 2" (2, 0), "Mobile" (1, 14) and "E-mail 2 - Value" (2, ...). A header that names
    the concept neither directly nor with a number gives None.
    """
    direct = _rank(concept, header)
    if direct is not None:
        number = _NUMBER.search(header)
        return (int(number["number"]) if number else 1, direct)
    for match in _NUMBER.finditer(header):
        before, after = header[: match.start()], header[match.end() :]
        for spelled in (f"{before}1{after}", f"{before}{after}"):
            rank = _rank(concept, spelled)
            if rank is not None:
                return (int(match["number"]), rank)
    return None
