"""Tell whether a value in a job file looks like a secret, without ever showing the value.

A job file names the environment variables that hold credentials; it never holds a credential.
These checks catch the usual ways one slips in: a key named like a secret (``api_key``,
``token``, ``password``...) holding a value, a value shaped like a credential (a known token
prefix, a JWT, a private key, a long random string), a value equal to a credential the
environment holds, and a URL carrying a user, a password or a query. They are a guard, not a
proof: a short, plain-looking secret under an ordinary key cannot be told from data.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Iterable
from urllib.parse import urlsplit

SECRET_WORDS = re.compile(
    r"key|token|secret|passw|pwd|passphrase|authori[sz]ation|bearer|cookie|session|signature|"
    r"private|credential",
    re.IGNORECASE,
)
"""Words in a key's name that say its value would be a secret."""

VARIABLE_NAME = re.compile(r"[A-Z_][A-Z0-9_]*")
"""An environment variable's name as a job file writes it (upper case, digits, underscores)."""

_KNOWN_SHAPES = re.compile(
    r"""
      \b(?:sk|rk|pk)[-_](?:live|test|proj|ant)?[-_]?[A-Za-z0-9/+=_-]{10,} # Stripe, OpenAI style
    | \bgh[pousr]_[A-Za-z0-9]{20,} | \bgithub_pat_\w{20,}              # GitHub
    | \bxox[abposr]-[A-Za-z0-9-]{10,}                                  # Slack
    | \b(?:AKIA|ASIA)[0-9A-Z]{16}\b                                    # AWS access key id
    | \bAIza[0-9A-Za-z_-]{30,}                                        # Google API key
    | \beyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}                       # a JWT
    | -----BEGIN[A-Z ]*PRIVATE\ KEY                                   # a PEM private key
    | ^\s*(?:bearer|basic|token)\s+\S{8,}                             # an Authorization value
    """,
    re.IGNORECASE | re.VERBOSE,
)
_TOKEN = re.compile(r"[A-Za-z0-9+/=_\-.~]{16,}")
_MIN_TOKEN = 16
_HEX = re.compile(r"[0-9a-fA-F]{32,}")
_MIN_SWITCH_SHARE = 0.4
"""In a random mix of letters of both cases and digits, about 6 neighbours in 10 differ in kind
(lower, upper, digit); in names such as ``CustomerExport2025July01`` about 3 in 10 do."""


def looks_like_credential(value: str, known: Iterable[str] = ()) -> bool:
    """Return whether ``value`` looks like a credential, or holds one of ``known`` secrets."""
    if any(len(secret) >= 4 and secret in value for secret in known):
        return True
    if _KNOWN_SHAPES.search(value):
        return True
    return any(_random_looking(word) for word in re.split(r"[\s/\\]+", value))


def _random_looking(word: str) -> bool:
    """Return whether one word looks like a random token: long hex, or long and high-entropy."""
    if _HEX.search(word) and re.search(r"\d", word) and re.search(r"[a-fA-F]", word):
        return True
    for token in _TOKEN.findall(word):
        kinds = [_kind(char) for char in token if char.isascii() and char.isalnum()]
        if len(kinds) < _MIN_TOKEN or len(set(kinds)) < 3:
            continue
        switches = sum(a != b for a, b in itertools.pairwise(kinds))
        if switches >= _MIN_SWITCH_SHARE * (len(kinds) - 1):
            return True
    return False


def _kind(char: str) -> str:
    """Return whether a letter or digit is lower case, upper case or a digit."""
    return "d" if char.isdigit() else "u" if char.isupper() else "l"


def url_problem(url: str) -> str | None:
    """Return what a base URL must not carry (user, password, query, fragment), or None."""
    try:
        parts = urlsplit(url.strip())
    except ValueError:
        return None  # not a URL at all: the run refuses it without echoing it
    if parts.username is not None or parts.password is not None or "@" in parts.netloc:
        return "a user name or password"
    if parts.query:
        return "a query string"
    if parts.fragment:
        return "a fragment"
    return None
