"""Classify every HTTP outcome, at exactly one choke point.

Push never looks at a status code itself: it asks ``classify_response`` or
``classify_transport_error`` and acts on the verdict. The verdicts are sorted by what is safe
to do next:

    CREATED           2xx: the vendor stored the record
    CONFLICT          the vendor already holds it (409, or an answer the contract lists
                      under ``already_exists``, such as org-console's 422 already_exists)
    REJECTED          other 4xx: the vendor refused this row; do not retry
    FATAL             401/403: the credential is refused; or the HTTP library refused to
                      send the request (a header value it cannot carry): stop the run
    RETRY_SAFE        never processed (connect error, 408, 429, 503 with Retry-After): retry
    MAYBE_PROCESSED   perhaps stored (read timeout, reset after sending, other 5xx): re-send
                      only where the vendor detects a duplicate of that very row
                      (``lifecycle.resend_is_safe`` over the contract's
                      ``duplicates_detected_by``)

Every message an answer carries passes through the run's ``Redactor`` here, the one place
vendor and library text enters a row's outcome: whatever a vendor echoes, no secret and no
URL's user, password or query reaches the report, the ledger or the console.
"""

from __future__ import annotations

import email.utils
import json
import time
from typing import Any

import httpx

from importer.contracts.contract import Contract
from importer.lifecycle import Answer, Verdict
from importer.redact import Redactor

NOT_SENT_ERRORS = (
    httpx.ConnectError,
    httpx.ConnectTimeout,
    httpx.PoolTimeout,
    httpx.UnsupportedProtocol,
    httpx.ProxyError,
)
NO_SECRETS = Redactor()


def classify_response(
    status: int,
    headers: httpx.Headers,
    body: bytes,
    contract: Contract,
    *,
    redact: Redactor = NO_SECRETS,
) -> Answer:
    """Classify a vendor's HTTP answer under the contract's declared statuses."""
    parsed = _json(body)
    if status in contract.created_statuses or 200 <= status < 300:
        return Answer(Verdict.CREATED, "", status, _vendor_id(parsed, contract.id_field))
    message = redact(vendor_message(status, parsed, body, contract))
    if status in contract.conflict_statuses or _says_already_exists(status, parsed, contract):
        return Answer(Verdict.CONFLICT, message, status)
    if status in contract.fatal_statuses:
        return Answer(Verdict.FATAL, message, status)
    retry_after = parse_retry_after(headers.get("retry-after"))
    if status in (408, 429) or (status == 503 and retry_after is not None):
        return Answer(Verdict.RETRY_SAFE, message, status, retry_after=retry_after)
    if status >= 500:
        return Answer(Verdict.MAYBE_PROCESSED, message, status)
    return Answer(Verdict.REJECTED, message, status)


def _says_already_exists(status: int, parsed: Any, contract: Contract) -> bool:
    """Return whether an error answer is one the contract lists as "already exists"."""
    spec = contract.error_body
    entries = _dig(parsed, spec.errors) if spec.errors else None
    if not isinstance(entries, list):
        return False
    said = {
        (entry.get(spec.error_field), entry.get(spec.error_message))
        for entry in entries
        if isinstance(entry, dict)
    }
    return any(
        known.status == status and (known.field, known.message) in said
        for known in contract.already_exists
    )


def classify_transport_error(
    error: httpx.TransportError, *, redact: Redactor = NO_SECRETS
) -> Answer:
    """Classify a request that got no HTTP answer."""
    if isinstance(error, httpx.LocalProtocolError):
        return classify_unsendable(error)
    kind = type(error).__name__
    detail = redact(str(error) or kind)
    if isinstance(error, NOT_SENT_ERRORS):
        return Answer(Verdict.RETRY_SAFE, f"could not connect ({kind}: {detail})")
    return Answer(Verdict.MAYBE_PROCESSED, f"no answer after sending ({kind}: {detail})")


def classify_unsendable(error: Exception) -> Answer:
    """Classify a request the HTTP library refused to send (an invalid header value).

    Nothing left this machine, and the same request would be refused again: the run stops.
    The library's text quotes the header value, a credential, so it is never kept.
    """
    return Answer(
        Verdict.FATAL,
        f"the HTTP library refused to send a header value ({type(error).__name__}): it holds "
        "a line break, a control character or a character outside ASCII",
    )


def vendor_message(status: int, parsed: Any, raw: bytes, contract: Contract) -> str:
    """Return the vendor's own words for an error, from where its contract says they are.

    A vendor that lists per-field errors is reported field by field ("custom_data.vat:
    required"), each with the value it refused; otherwise its message, or its raw body when
    the body is not the documented shape.
    """
    fields = field_errors(parsed, contract)
    found = _dig(parsed, contract.error_body.message)
    if fields:
        text = "; ".join(fields)
    elif isinstance(found, list):
        text = "; ".join(str(item) for item in found)
    elif found is not None:
        text = str(found)
    else:
        text = raw.decode("utf-8", "replace").strip()[:300]
    reason = _reason_phrase(status)
    return f"{status} {reason}: {text}" if text else f"{status} {reason}"


def field_errors(parsed: Any, contract: Contract) -> list[str]:
    """Return a vendor's per-field errors as ``field: message (got value)`` texts."""
    spec = contract.error_body
    entries = _dig(parsed, spec.errors) if spec.errors else None
    if not isinstance(entries, list):
        return []
    texts = []
    for entry in entries:
        if not isinstance(entry, dict):
            texts.append(str(entry))
            continue
        field = entry.get(spec.error_field)
        words = entry.get(spec.error_message)
        value = entry.get(spec.error_value) if spec.error_value else None
        text = f"{field}: {words}" if field else str(words)
        texts.append(f"{text} (got {_shorten(value)!r})" if value not in (None, "") else text)
    return texts


def _shorten(value: object, limit: int = 60) -> str:
    text = str(value)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def parse_retry_after(value: str | None, *, now: float | None = None) -> float | None:
    """Return the wait a Retry-After header asks for, in seconds (delta-seconds or HTTP date)."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - (time.time() if now is None else now))


def _reason_phrase(status: int) -> str:
    return httpx.codes.get_reason_phrase(status) or "HTTP error"


def _json(body: bytes) -> Any:
    try:
        return json.loads(body) if body else None
    except ValueError:
        return None


def _dig(doc: Any, path: str) -> Any:
    for part in path.split("."):
        if not isinstance(doc, dict):
            return None
        doc = doc.get(part)
    return doc


def _vendor_id(parsed: Any, id_field: str) -> str | None:
    for path in (id_field, f"data.{id_field}"):
        found = _dig(parsed, path)
        if found is not None:
            return str(found)
    return None
