"""The plain-address fast path of email validation never disagrees with email-validator.

A seeded fuzz of 30,000 addresses, valid ones and near-misses (labels of 63 and 64 characters,
local parts of 64 and 65, addresses of 254 and 255, dots and hyphens at the edges, Unicode,
IDN, quoted local parts, IP literals, special-use names): whatever the regular expression
accepts, email-validator accepts too, and the column check gives email-validator's verdict on
every address.
"""

from __future__ import annotations

import random
import re
import string
from collections.abc import Callable

import pandas as pd
import pyarrow as pa
import pytest

from importer.validate import PLAIN_EMAIL_PATTERN, email_problem, plain_emails, valid_emails

ADDRESSES = 30_000
ATEXT = string.ascii_letters + string.digits + "!#$%&'*+/=?^_`{|}~-"
ALNUM = string.ascii_letters + string.digits
UNICODE = ["é", "ü", "ß", "中", "ё", "😀", "\u200d", "\u0301", "\uff46", "\u00a0", "İ", "ﬁ"]
IDN_LABELS = [
    "münchen",
    "例え",
    "bücher",
    "xn--mnchen-3ya",
    "xn--abc",
    "xn--",
    "ab--cd",
    "\uff45\uff58",
]
FULL_STOPS = ["\uff0e", "\u3002", "\uff61"]
SPACES = [" ", "\t", "\n", "\r\n", "\u3000"]
SPECIAL = ["test", "TEST", "localhost", "local", "onion", "arpa", "invalid", "Invalid", "example"]


def text(rng: random.Random, alphabet: str, size: int) -> str:
    return "".join(rng.choice(alphabet) for _ in range(size))


def size(rng: random.Random, common: int, near: int) -> int:
    """Mostly short; one time in five within a few characters of a limit."""
    return rng.randint(near - 3, near + 2) if rng.random() < 0.2 else rng.randint(1, common)


def local_part(rng: random.Random) -> str:
    atoms = [text(rng, ATEXT, size(rng, 10, 64)) for _ in range(rng.choice([1, 1, 2, 3]))]
    return ".".join(atoms)[: rng.randint(62, 67)]


def label(rng: random.Random) -> str:
    length = size(rng, 12, 63)
    if length < 3 or rng.random() < 0.5:
        return text(rng, ALNUM, length)
    return text(rng, ALNUM, 1) + text(rng, ALNUM + "-", length - 2) + text(rng, ALNUM, 1)


def domain(rng: random.Random) -> str:
    labels = [label(rng) for _ in range(rng.choice([1, 1, 2, 3, 4]))]
    return ".".join([*labels, text(rng, string.ascii_letters, rng.randint(2, 8))])


def address(rng: random.Random) -> str:
    return f"{local_part(rng)}@{domain(rng)}"


def of_length(rng: random.Random, total: int) -> str:
    """Return a plain address ``total`` characters long: a 64-character local part, long labels."""
    local = text(rng, ALNUM, 64)
    left = total - len(local) - len("@") - len(".com")
    labels = []
    while left > 0:
        length = min(63, left)
        if left - length == 1:  # no room for a dot and a label after it
            length -= 1
        labels.append(text(rng, ALNUM, length))
        left -= length + 1
    built = f"{local}@{'.'.join(labels)}.com"
    assert len(built) == total
    return built


def near_miss(rng: random.Random, plain: str) -> str:
    local, host = plain.split("@")
    labels = host.split(".")
    spot = rng.randrange(len(labels))
    mutations: list[Callable[[], str]] = [
        lambda: f"{local}..{rng.choice(ATEXT)}@{host}",
        lambda: f".{local}@{host}",
        lambda: f"{local}.@{host}",
        lambda: f"{local}@.{host}",
        lambda: f"{local}@{host}.",
        lambda: f"{local}@{host.replace('.', '..', 1)}",
        lambda: f"{local}@-{host}",
        lambda: f"{local}@{'.'.join([*labels[:spot], labels[spot] + '-', *labels[spot + 1 :]])}",
        lambda: f"{local}@{rng.choice(IDN_LABELS)}.{host}",
        lambda: f"{local}@{host.replace('.', rng.choice(FULL_STOPS), 1)}",
        lambda: f"{local}{rng.choice(UNICODE)}@{host}",
        lambda: f"{local}@{labels[0]}{rng.choice(UNICODE)}.{host}",
        lambda: f'"{local}"@{host}',
        lambda: f'"{local} {rng.choice(ATEXT)}"@{host}',
        lambda: f"{local}@[{'.'.join(str(rng.randrange(256)) for _ in range(4))}]",
        lambda: f"{local}@[IPv6:::{rng.randrange(9)}]",
        lambda: f"{local}@{host}.{rng.choice(SPECIAL)}",
        lambda: f"{local}@{host}.{rng.randrange(100)}",
        lambda: f"{local}@{host}.{rng.choice(string.ascii_letters)}",
        lambda: f"{local}@{labels[0]}",
        lambda: f"{local}{text(rng, ALNUM, rng.randint(60, 70))}@{host}",
        lambda: f"{local}@{text(rng, ALNUM, rng.randint(62, 65))}.{host}",
        lambda: of_length(rng, rng.choice([253, 254, 255, 256])),
        lambda: rng.choice(SPACES) + plain,
        lambda: plain + rng.choice(SPACES),
        lambda: f"{local} x@{host}",
        lambda: f"{local}@@{host}",
        lambda: f"{local}@{host}@{host}",
        lambda: host,
        lambda: f"@{host}",
        lambda: f"{local}@",
        lambda: f"Jo Doe <{plain}>",
        lambda: f"{local}@{labels[0]}-{labels[-1]}--x.{host}",
        lambda: f"{local}({rng.choice(ATEXT)})@{host}",
        lambda: local + "\\@" + host,
        plain.upper,
    ]
    return rng.choice(mutations)()


def fuzzed(count: int, seed: int = 9) -> list[str]:
    rng = random.Random(seed)
    plain = [address(rng) for _ in range(count // 2)]
    return plain + [near_miss(rng, rng.choice(plain)) for _ in range(count - len(plain))]


@pytest.fixture(scope="module")
def verdicts() -> pd.DataFrame:
    """Each fuzzed address with email-validator's verdict (through the code's own call)."""
    values = fuzzed(ADDRESSES)
    return pd.DataFrame(
        {
            "address": values,
            "plain": [re.fullmatch(PLAIN_EMAIL_PATTERN, value) is not None for value in values],
            "valid": [email_problem(value) is None for value in values],
        }
    )


def test_what_the_fast_path_accepts_email_validator_accepts(verdicts: pd.DataFrame) -> None:
    wrongly_plain = verdicts[verdicts.plain & ~verdicts.valid].address.tolist()
    assert wrongly_plain == []


def test_the_column_check_gives_email_validators_verdict(verdicts: pd.DataFrame) -> None:
    for dtype in (object, "str"):
        column = pd.Series(verdicts.address.to_numpy(), dtype=dtype, index=verdicts.index + 2)
        combined = valid_emails(column)
        assert combined.index.equals(column.index)
        assert (combined.to_numpy() == verdicts.valid.to_numpy()).all()


def test_the_fuzz_reaches_every_verdict_and_every_limit(verdicts: pd.DataFrame) -> None:
    """Not vacuous: plain addresses up to each limit, and valid ones left to email-validator."""
    plain = verdicts[verdicts.plain].address
    assert len(plain) > ADDRESSES / 3
    assert (verdicts.valid & ~verdicts.plain).sum() > 500
    assert (~verdicts.valid).sum() > 5_000
    assert plain.str.len().max() == 254
    assert plain.str.split("@").str[0].str.len().max() == 64
    assert (
        plain.str.split("@").str[1].str.split(".").map(lambda parts: max(map(len, parts))).max()
        == 63
    )


def test_arrows_plain_test_is_the_plain_pattern(verdicts: pd.DataFrame) -> None:
    """RE2 has no lookarounds: the limits tested apart must give the pattern's own verdict."""
    arrow = plain_emails(pa.array(verdicts.address.tolist(), pa.large_string()))
    assert arrow.to_pylist() == verdicts.plain.tolist()
