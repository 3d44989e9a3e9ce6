"""What differs between vendors' sandboxes: the shape of their error bodies."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from http import HTTPStatus
from typing import Any


def nestjs_error(status: int, message: str | list[str]) -> dict[str, Any]:
    """Return an error body the way a NestJS service (OfferGrid) shapes it."""
    return {"statusCode": status, "message": message, "error": HTTPStatus(status).phrase}


ERROR_STYLES: Mapping[str, Callable[[int, str | list[str]], dict[str, Any]]] = {
    "nestjs": nestjs_error,
}
