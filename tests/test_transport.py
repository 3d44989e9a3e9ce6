"""push/transport.py over real loopback sockets: what each failure says about a request's fate.

The transport's one promise beyond moving bytes: only a failure to connect is "not sent"; a
connection dropped, reset or silent after the request left may follow a stored record, and a
header HTTP/1.1 cannot carry is refused before any byte leaves. Each server here is a plain
asyncio socket server that records what reached it.
"""

from __future__ import annotations

import asyncio
import gzip
import socket
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager

import httpx
import pytest

from importer.lifecycle import Verdict
from importer.push.classify import classify_transport_error
from importer.push.transport import AiohttpTransport

Handler = Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]
TIMEOUTS = {"connect": 2.0, "read": 2.0, "write": 2.0, "pool": 2.0}
ANSWER = b'{"id":"cus_1"}'


@asynccontextmanager
async def server(handler: Handler, received: list[bytes]) -> AsyncIterator[str]:
    """Serve ``handler`` on a free loopback port; ``received`` gets each request's head."""

    async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            received.append(await reader.readuntil(b"\r\n\r\n"))
            await handler(reader, writer)
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            writer.close()

    listening = await asyncio.start_server(serve, "127.0.0.1", 0)
    port = listening.sockets[0].getsockname()[1]
    try:
        yield f"http://127.0.0.1:{port}/customers"
    finally:
        listening.close()
        await listening.wait_closed()


async def answer(writer: asyncio.StreamWriter, body: bytes, *headers: bytes) -> None:
    head = b"HTTP/1.1 201 Created\r\nContent-Type: application/json\r\n" + b"".join(
        header + b"\r\n" for header in headers
    )
    writer.write(head + b"Content-Length: %d\r\n\r\n" % len(body) + body)
    await writer.drain()


async def send(url: str, headers: dict[str, str] | None = None) -> tuple[int, bytes]:
    """Post one body through a fresh transport; return the status and the body read."""
    transport = AiohttpTransport(ssl_context=httpx.create_ssl_context(), max_connections=2)
    request = httpx.Request(
        "POST",
        url,
        headers=headers or {},
        content=b'{"name":"Ada"}',
        extensions={"timeout": TIMEOUTS},
    )
    try:
        response = await transport.handle_async_request(request)
        try:
            body = b"".join([chunk async for chunk in response.aiter_bytes()])
        finally:
            await response.aclose()
        return response.status_code, body
    finally:
        await transport.aclose()


def outcome_of(handler: Handler) -> tuple[type[Exception], Verdict, int]:
    """Send to a server running ``handler``; return the error, its verdict, requests received."""
    received: list[bytes] = []

    async def go() -> None:
        async with server(handler, received) as url:
            await send(url)

    with pytest.raises(httpx.TransportError) as caught:
        asyncio.run(go())
    return type(caught.value), classify_transport_error(caught.value).verdict, len(received)


def test_an_answer_comes_back_whole_with_its_headers() -> None:
    received: list[bytes] = []

    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.readexactly(len(b'{"name":"Ada"}'))
        await answer(writer, ANSWER, b"X-Request-Id: r1")

    async def go() -> tuple[int, bytes]:
        async with server(handler, received) as url:
            return await send(url, {"x-api-key": "k1"})

    assert asyncio.run(go()) == (201, ANSWER)
    (head,) = received
    assert head.startswith(b"POST /customers HTTP/1.1\r\n")
    assert b"\r\nx-api-key: k1\r\n" in head.lower().replace(b"X-Api-Key", b"x-api-key")


def test_a_gzip_answer_is_decoded_by_httpx() -> None:
    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.readexactly(len(b'{"name":"Ada"}'))
        await answer(writer, gzip.compress(ANSWER), b"Content-Encoding: gzip")

    async def go() -> tuple[int, bytes]:
        async with server(handler, []) as url:
            return await send(url)

    assert asyncio.run(go()) == (201, ANSWER)


def test_a_refused_connection_was_not_sent() -> None:
    with socket.socket() as unused:
        unused.bind(("127.0.0.1", 0))
        port = unused.getsockname()[1]
    with pytest.raises(httpx.ConnectError) as caught:
        asyncio.run(send(f"http://127.0.0.1:{port}/customers"))
    assert classify_transport_error(caught.value).verdict is Verdict.RETRY_SAFE


def test_a_connection_closed_after_the_request_may_have_been_processed() -> None:
    async def hang_up(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.readexactly(len(b'{"name":"Ada"}'))  # the vendor has the record, then...

    error, verdict, received = outcome_of(hang_up)
    assert (error, verdict, received) == (
        httpx.RemoteProtocolError,
        Verdict.MAYBE_PROCESSED,
        1,
    )


def test_a_reset_after_the_request_may_have_been_processed() -> None:
    async def reset(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.readexactly(len(b'{"name":"Ada"}'))
        sock = writer.get_extra_info("socket")
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
        writer.transport.abort()

    error, verdict, received = outcome_of(reset)
    assert issubclass(error, httpx.ReadError | httpx.RemoteProtocolError)
    assert (verdict, received) == (Verdict.MAYBE_PROCESSED, 1)


def test_no_answer_in_time_may_have_been_processed() -> None:
    async def silent(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await asyncio.sleep(TIMEOUTS["read"] + 2)

    error, verdict, received = outcome_of(silent)
    assert (error, verdict, received) == (httpx.ReadTimeout, Verdict.MAYBE_PROCESSED, 1)


def test_an_answer_cut_short_may_have_been_processed() -> None:
    async def cut(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.readexactly(len(b'{"name":"Ada"}'))
        writer.write(b'HTTP/1.1 201 Created\r\nContent-Length: 100\r\n\r\n{"id"')
        await writer.drain()

    error, verdict, received = outcome_of(cut)
    assert issubclass(error, httpx.ReadError | httpx.RemoteProtocolError)
    assert (verdict, received) == (Verdict.MAYBE_PROCESSED, 1)


@pytest.mark.parametrize("value", ["k1\r\nx-evil: 1", "k1\x00", " k1", "k1\t"])
def test_a_header_http_cannot_carry_is_refused_before_anything_is_sent(value: str) -> None:
    received: list[bytes] = []

    async def go() -> None:
        async with server(lambda reader, writer: answer(writer, ANSWER), received) as url:
            await send(url, {"x-api-key": value})

    with pytest.raises(httpx.LocalProtocolError) as caught:
        asyncio.run(go())
    assert "x-api-key" in str(caught.value) and "k1" not in str(caught.value)
    assert classify_transport_error(caught.value).verdict is Verdict.FATAL
    assert received == []


def test_user_and_password_in_the_url_never_reach_aiohttp_as_a_second_authorization() -> None:
    received: list[bytes] = []

    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.readexactly(len(b'{"name":"Ada"}'))
        await answer(writer, ANSWER)

    async def go() -> tuple[int, bytes]:
        async with server(handler, received) as url:
            with_user = url.replace("http://", "http://ops:pw@")
            return await send(with_user, {"authorization": "Bearer t1"})

    assert asyncio.run(go()) == (201, ANSWER)
    (head,) = received
    assert head.lower().count(b"authorization:") == 1 and b"Bearer t1" in head
