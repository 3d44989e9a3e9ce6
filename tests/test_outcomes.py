"""The one place HTTP outcomes are classified."""

from __future__ import annotations

import httpx
import pytest

from importer.contracts.contract import Contract
from importer.push.classify import (
    Verdict,
    classify_response,
    classify_transport_error,
    parse_retry_after,
)


@pytest.mark.parametrize(
    ("status", "headers", "verdict"),
    [
        (201, {}, Verdict.CREATED),
        (200, {}, Verdict.CREATED),
        (409, {}, Verdict.CONFLICT),
        (401, {}, Verdict.FATAL),
        (403, {}, Verdict.FATAL),
        (400, {}, Verdict.REJECTED),
        (404, {}, Verdict.REJECTED),
        (422, {}, Verdict.REJECTED),
        (429, {"retry-after": "3"}, Verdict.RETRY_SAFE),
        (408, {}, Verdict.RETRY_SAFE),
        (503, {"retry-after": "1"}, Verdict.RETRY_SAFE),
        (503, {}, Verdict.MAYBE_PROCESSED),
        (500, {}, Verdict.MAYBE_PROCESSED),
        (502, {}, Verdict.MAYBE_PROCESSED),
        (504, {}, Verdict.MAYBE_PROCESSED),
    ],
)
def test_status_codes(
    leads_contract: Contract, status: int, headers: dict[str, str], verdict: Verdict
) -> None:
    answer = classify_response(status, httpx.Headers(headers), b"", leads_contract)
    assert answer.verdict is verdict
    assert answer.http_status == status


def test_created_carries_the_vendor_id(leads_contract: Contract) -> None:
    answer = classify_response(201, httpx.Headers(), b'{"id": "cus_1"}', leads_contract)
    assert answer.vendor_id == "cus_1"
    nested = classify_response(201, httpx.Headers(), b'{"data": {"id": 7}}', leads_contract)
    assert nested.vendor_id == "7"


def test_vendor_message_is_parsed_not_dumped(leads_contract: Contract) -> None:
    body = b'{"statusCode":400,"message":["fullName must be a string","x"],"error":"Bad Request"}'
    answer = classify_response(400, httpx.Headers(), body, leads_contract)
    assert answer.message == "400 Bad Request: fullName must be a string; x"
    plain = classify_response(502, httpx.Headers(), b"<html>bad gateway</html>", leads_contract)
    assert plain.message == "502 Bad Gateway: <html>bad gateway</html>"


def test_transport_errors() -> None:
    request = httpx.Request("POST", "http://127.0.0.1:1/x")
    never_sent = classify_transport_error(httpx.ConnectError("refused", request=request))
    assert never_sent.verdict is Verdict.RETRY_SAFE
    lost = classify_transport_error(httpx.ReadTimeout("slow", request=request))
    assert lost.verdict is Verdict.MAYBE_PROCESSED
    reset = classify_transport_error(httpx.RemoteProtocolError("reset", request=request))
    assert reset.verdict is Verdict.MAYBE_PROCESSED


def test_retry_after_seconds_and_http_date() -> None:
    assert parse_retry_after("7") == 7.0
    assert parse_retry_after("Wed, 21 Oct 2015 07:28:10 GMT", now=1445412480.0) == 10.0
    assert parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT", now=1445412490.0) == 0.0
    assert parse_retry_after("soon") is None
    assert parse_retry_after(None) is None
