"""What differs between vendors' sandboxes: the shapes of their answers, and signed requests.

A contract names its styles (``responses.error_body.style``, ``responses.success_style``); each
style here renders that vendor's documented body. Every error style renders any status,
including the 429 of the rate-limit fault, from a plain message or from per-field errors.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from http import HTTPStatus
from typing import Any


@dataclass(frozen=True, slots=True)
class FieldError:
    """One refused field: the field it blames, a short code, words for a person, the value."""

    key: str
    code: str
    words: str
    value: Any = None
    where: str | None = None
    """Where the validator found it, when that is not ``key`` (a missing field's parent)."""

    @property
    def text(self) -> str:
        """Return ``where: words`` (the words alone when the body itself is refused)."""
        where = self.key if self.where is None else self.where
        return f"{where}: {self.words}" if where else self.words


Message = str | Sequence[str | FieldError]
ErrorStyle = Callable[[int, Message, str | None], dict[str, Any]]

# Machine-readable codes for the styles that carry one, by HTTP status.
STATUS_CODES: Mapping[int, str] = {
    400: "validation_error",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    409: "conflict",
    422: "unprocessable_entity",
    429: "rate_limit_exceeded",
    500: "internal_error",
    502: "bad_gateway",
    503: "service_unavailable",
}


def field_errors(message: Message) -> list[FieldError]:
    """Return the per-field errors of a message (plain texts become errors with no key)."""
    if isinstance(message, str):
        return []
    return [
        item if isinstance(item, FieldError) else FieldError("", "invalid", item)
        for item in message
    ]


def headline(status: int, message: Message, default: str = "validation failed") -> str:
    """Return the one-line message of an answer: the plain message, or ``default``."""
    if isinstance(message, str):
        return message
    return default if message else HTTPStatus(status).phrase


def nestjs_error(status: int, message: Message, code: str | None = None) -> dict[str, Any]:
    """Return an error body the way a NestJS service (OfferGrid) shapes it.

    ``{"statusCode", "message", "error"}``; a validation failure lists its texts in "message".
    """
    shown: str | list[str] = (
        message if isinstance(message, str) else [error.text for error in field_errors(message)]
    )
    return {"statusCode": status, "message": shown, "error": HTTPStatus(status).phrase}


def status_code_error(status: int, message: Message, code: str | None = None) -> dict[str, Any]:
    """Return ``{status: "error", message, code, details, errors[]}`` (signed-customers)."""
    errors = field_errors(message)
    return {
        "status": "error",
        "message": headline(status, message, "Validation failed"),
        "code": code or STATUS_CODES.get(status, "error"),
        "details": {"fields": [error.key for error in errors]} if errors else {},
        "errors": [
            {"field": error.key, "message": error.words, "value": error.value} for error in errors
        ],
    }


def code_data_error(status: int, message: Message, code: str | None = None) -> dict[str, Any]:
    """Return ``{code, message, data}`` (org-console).

    With per-field errors (400, 422) ``data`` is ``{type, errors: [{key, message, value}]}``,
    each message a short code ("required") as the vendor's example shows; otherwise ``{}``.
    """
    errors = field_errors(message)
    data: dict[str, Any] = {}
    if errors:
        data = {
            "type": "validation_error",
            "errors": [
                {"key": error.key, "message": error.code, "value": _text(error.value)}
                for error in errors
            ],
        }
    return {"code": status, "message": headline(status, message), "data": data}


def data_message_error(status: int, message: Message, code: str | None = None) -> dict[str, Any]:
    """Return ``{data: null, message, errors: [{field, message}]}`` (commenda, our choice)."""
    errors = field_errors(message)
    body: dict[str, Any] = {"data": None, "message": headline(status, message, "Invalid request")}
    if errors:
        body["errors"] = [{"field": error.key, "message": error.words} for error in errors]
    return body


ERROR_STYLES: Mapping[str, ErrorStyle] = {
    "nestjs": nestjs_error,
    "status_code": status_code_error,
    "code_data": code_data_error,
    "data_message": data_message_error,
}


SuccessStyle = Callable[[Mapping[str, Any], str], dict[str, Any]]


def flat_success(record: Mapping[str, Any], message: str) -> dict[str, Any]:
    """Return the created record itself (OfferGrid)."""
    return dict(record)


def status_data_success(record: Mapping[str, Any], message: str) -> dict[str, Any]:
    """Return ``{status: "success", message, data}`` (signed-customers)."""
    return {"status": "success", "message": message, "data": dict(record)}


def code_data_success(record: Mapping[str, Any], message: str) -> dict[str, Any]:
    """Return ``{code: 201, message, data}`` (org-console)."""
    return {"code": 201, "message": message, "data": dict(record)}


def data_message_success(record: Mapping[str, Any], message: str) -> dict[str, Any]:
    """Return ``{data, message}`` (commenda)."""
    return {"data": dict(record), "message": message}


SUCCESS_STYLES: Mapping[str, SuccessStyle] = {
    "flat": flat_success,
    "status_data": status_data_success,
    "code_data": code_data_success,
    "data_message": data_message_success,
}


@dataclass(frozen=True, slots=True)
class SignatureCheck:
    """The verdict on a signed request: None when it is good, else why not and its code."""

    problem: str | None = None
    code: str | None = None


def check_signature(
    headers: Mapping[str, str],
    *,
    method: str,
    path: str,
    body: bytes,
    accepted: Sequence[Mapping[str, str]],
    now_millis: int,
    window_seconds: float,
) -> SignatureCheck:
    """Verify a signed request the way the vendor does (replays are the caller's to refuse).

    ``accepted`` holds the credential sets of the account (its current and rotated ones); the
    request must present the token and client id of one set and be signed with its secret.
    Written apart from ``importer.push.auth`` on purpose: the sandbox checks the importer's
    signatures against its own reading of the scheme.
    """
    bearer = headers.get("Authorization")
    sets = [secrets for secrets in accepted if bearer == f"Bearer {secrets.get('token')}"]
    if not sets:
        return SignatureCheck("invalid or missing bearer token", "invalid_token")
    sets = [secrets for secrets in sets if headers.get("x-client-id") == secrets.get("client_id")]
    if not sets:
        return SignatureCheck("unknown client id", "invalid_client")
    stamp = headers.get("x-timestamp", "")
    if not stamp.isdigit():
        return SignatureCheck("x-timestamp must be Unix time in milliseconds", "invalid_timestamp")
    if abs(now_millis - int(stamp)) > window_seconds * 1000:
        return SignatureCheck(
            f"x-timestamp is more than {window_seconds:g} seconds from the server clock",
            "timestamp_out_of_window",
        )
    payload = b"\n".join((stamp.encode(), method.upper().encode(), path.encode(), body))
    signature = headers.get("x-signature", "")
    if not any(_signed_by(secrets, payload, signature) for secrets in sets):
        return SignatureCheck("signature does not match the request", "invalid_signature")
    return SignatureCheck()


def _signed_by(secrets: Mapping[str, str], payload: bytes, signature: str) -> bool:
    """Return whether ``signature`` is the HMAC of ``payload`` under this set's client secret."""
    key = str(secrets.get("client_secret", "")).encode()
    expected = hmac.new(key, payload, hashlib.sha256).hexdigest()
    return hmac.compare_digest(expected, signature)


def _text(value: Any) -> str:
    return "" if value is None else str(value)
