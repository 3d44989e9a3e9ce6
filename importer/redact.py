"""Keep secrets out of every text a person or a file may see.

Two tools, for the two ways a secret reaches a message:

- ``Redactor``: replaces known secrets (credentials, the password or token in a URL) with
  ``[REDACTED]``, in every spelling a vendor or a library may echo: as is, base64, URL-encoded,
  JSON- or repr-escaped. It is applied where vendor text enters a row's outcome, so the report,
  the ledger and the console never hold a secret whatever the vendor echoes.
- ``safe_url``: a URL without its user, password, query and fragment, the form to show.
"""

from __future__ import annotations

import base64
import json
import re
from collections.abc import Iterable
from urllib.parse import parse_qsl, quote, quote_plus, urlsplit, urlunsplit

REDACTED = "[REDACTED]"
MIN_SECRET_LENGTH = 4
"""Shorter values are not redacted: replacing every "abc" would mangle text, and hide nothing."""
URL = re.compile(r"\b[a-zA-Z][a-zA-Z0-9+.-]*://[^\s'\"<>(){}]+")


class Redactor:
    """Replace known secrets, in any common encoding, with ``[REDACTED]``; call it on a text."""

    def __init__(self, secrets: Iterable[str] = ()) -> None:
        """Prepare the spellings of every secret at least ``MIN_SECRET_LENGTH`` long."""
        forms = {form for secret in secrets for form in _spellings(secret)}
        longest_first = sorted(forms, key=len, reverse=True)
        self._count = len(forms)
        self._pattern = (
            re.compile("|".join(re.escape(form) for form in longest_first)) if forms else None
        )

    def __repr__(self) -> str:
        """Show how many spellings are redacted, never which."""
        return f"Redactor({self._count} spellings)"

    def __call__(self, text: str) -> str:
        """Return ``text`` with every URL made safe and every known secret replaced."""
        text = URL.sub(_safe_url_in_text, text)
        return self._pattern.sub(REDACTED, text) if self._pattern is not None else text


def _safe_url_in_text(found: re.Match[str]) -> str:
    """Return a URL found in a text made safe, keeping the punctuation that ends a sentence."""
    url = found.group()
    ending = url[len(url.rstrip(".,;:!?")) :]
    return safe_url(url[: len(url) - len(ending)]) + ending


def _spellings(secret: str) -> set[str]:
    """Return the ways ``secret`` may be written in a text that echoes it."""
    if len(secret) < MIN_SECRET_LENGTH:
        return set()
    raw = secret.encode()
    encoded = {
        base64.b64encode(raw).decode(),
        base64.urlsafe_b64encode(raw).decode(),
    }
    encoded |= {form.rstrip("=") for form in encoded}
    return {
        secret,
        *encoded,
        quote(secret, safe=""),
        quote(secret),
        quote_plus(secret),
        json.dumps(secret)[1:-1],
        json.dumps(secret, ensure_ascii=False)[1:-1],
        repr(secret)[1:-1],
        repr(raw)[2:-1],
    } - {""}


def url_secrets(url: str) -> list[str]:
    """Return the secrets a URL may carry: its password, ``user:password`` and query values."""
    parts = urlsplit(url.strip())
    secrets = [value for _, value in parse_qsl(parts.query)]
    if parts.password:
        secrets += [parts.password, f"{parts.username or ''}:{parts.password}"]
    return secrets


def safe_url(url: str) -> str:
    """Drop any user:password, query string and fragment from a URL before it is shown.

    The host is lower-cased; the port and path stay as written. A text without ``scheme://``
    keeps only what follows its last ``@`` (``user:pass@host`` is shown as ``host``).
    """
    parts = urlsplit(url.strip())
    if not parts.netloc:
        bare = url.strip().split("?", 1)[0].split("#", 1)[0]
        return bare.rpartition("@")[2]
    netloc = parts.netloc.rpartition("@")[2].lower()
    return urlunsplit((parts.scheme, netloc, parts.path, "", ""))
