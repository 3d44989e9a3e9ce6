"""httpx's transport API over one aiohttp session: what sits under push's ``httpx.Request``.

Measured on this kind of machine (``bench/transports.py``), an ``httpx.Request`` sent through
this transport costs a third of the CPU of one sent by ``httpx.AsyncClient`` over httpx's own
transport (httpcore), and the push at low latency is CPU-bound. Push keeps httpx's API
(requests, responses, headers, timeouts, the exception tree that ``classify`` reads); this
module only moves the bytes.

Its one promise beyond moving bytes: an aiohttp error becomes the httpx error that says
truthfully whether the request may have reached the vendor. Only a failure to connect is
"not sent" (``ConnectError``, ``ConnectTimeout``); a dropped connection, a reset or a timeout
after connecting may follow a stored record (``ReadError``, ``RemoteProtocolError``,
``ReadTimeout``). (The ``httpx-aiohttp`` package maps a connection dropped after sending to
``ConnectTimeout``, which would re-send a row the vendor may hold: hence this module.)
"""

from __future__ import annotations

import contextlib
import re
import ssl
from collections.abc import AsyncIterator

import aiohttp
import httpx
from aiohttp.helpers import get_env_proxy_for_url
from yarl import URL

FIELD_VALUE = re.compile(
    rb"(?:[\x21-\x7e\x80-\xff](?:[\t\x20-\x7e\x80-\xff]*[\x21-\x7e\x80-\xff])?)?"
)
"""A header value HTTP/1.1 can carry (RFC 9110 field-value): no control character, no line
break, no leading or trailing blank."""
FIELD_NAME = re.compile(rb"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")
CHUNK_BYTES = 64 * 1024
GOOD_HEADERS_KEPT = 256
"""Header lines already found legal, kept so they are not checked again (a signature or a
timestamp differs on every request: only the first this many are kept)."""
SMALL_BYTES = 64 * 1024
"""An answer of at most this many bytes (by its Content-Length) is read at once."""


class AiohttpTransport(httpx.AsyncBaseTransport):
    """Send httpx requests over one aiohttp connection pool (opened on first use)."""

    def __init__(
        self, *, ssl_context: ssl.SSLContext, max_connections: int, proxy_for: str | None = None
    ) -> None:
        """Pool up to ``max_connections`` connections, TLS through ``ssl_context``.

        Args:
            ssl_context: The one TLS context of the run (making one costs about 20 ms).
            max_connections: Connections kept open at most (one per request in flight).
            proxy_for: A URL whose proxy, if the environment names one (``HTTPS_PROXY``...,
                ``NO_PROXY``), every request goes through; looked up once, not per request.
        """
        self._ssl_context = ssl_context
        self._max_connections = max_connections
        self._session: aiohttp.ClientSession | None = None
        self._last_url = ""
        self._last_target = URL()
        self._timeouts: dict[tuple[float | None, ...], aiohttp.ClientTimeout] = {}
        self._good_headers: set[tuple[bytes, bytes]] = set()
        self._proxy: URL | None = None
        self._proxy_auth: aiohttp.BasicAuth | None = None
        if proxy_for is not None:
            with contextlib.suppress(LookupError):  # no proxy for it
                self._proxy, self._proxy_auth = get_env_proxy_for_url(URL(proxy_for))

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        """Send one request; return its response, its body read if small, else streamed.

        Raises:
            httpx.TransportError: the subclass that says whether the request may have been
                sent (see the module's docstring).
        """
        headers = self._checked_headers(request)
        try:
            answer = await self._open().request(
                request.method,
                self._target(request.url),
                headers=headers,
                data=await request.aread() or None,
                allow_redirects=False,
                auto_decompress=False,  # httpx decodes the body by its content-encoding
                proxy=self._proxy,
                proxy_auth=self._proxy_auth,
                timeout=self._timeout(request.extensions.get("timeout", {})),
            )
            # A small answer of known length is read at once: cheaper than streaming it.
            small = answer.content_length is not None and answer.content_length <= SMALL_BYTES
            body = await answer.read() if small else None
        except (aiohttp.ClientError, TimeoutError) as error:
            raise httpx_error(error, request) from error
        extensions = {
            "http_version": b"HTTP/1.1",
            "reason_phrase": (answer.reason or "").encode("ascii", "ignore"),
        }
        if body is not None:
            return httpx.Response(
                answer.status,
                headers=list(answer.raw_headers),
                content=body,
                request=request,
                extensions=extensions,
            )
        return httpx.Response(
            answer.status,
            headers=list(answer.raw_headers),
            stream=_Body(answer, request),
            request=request,
            extensions=extensions,
        )

    async def aclose(self) -> None:
        """Close every connection."""
        if self._session is not None:
            await self._session.close()
            self._session = None

    def _checked_headers(self, request: httpx.Request) -> list[tuple[str, str]]:
        """Return the request's headers, refusing one HTTP/1.1 cannot carry before any is sent.

        Raises:
            httpx.LocalProtocolError: naming the header, never its value (a credential?).
        """
        checked = []
        for name, value in request.headers.raw:
            pair = (name, value)
            if pair not in self._good_headers:  # most repeat on every request
                if not FIELD_NAME.fullmatch(name) or not FIELD_VALUE.fullmatch(value):
                    raise httpx.LocalProtocolError(
                        f"illegal header value for {name.decode('latin-1')!r}", request=request
                    )
                if len(self._good_headers) < GOOD_HEADERS_KEPT:
                    self._good_headers.add(pair)
            checked.append((name.decode("latin-1"), value.decode("latin-1")))
        return checked

    def _target(self, url: httpx.URL) -> URL:
        """Return ``url`` for aiohttp, without user or password (httpx made them a header)."""
        spelled = str(url)
        if spelled != self._last_url:  # push sends to one URL: parsed once
            bare = url.copy_with(username=None, password=None) if url.userinfo else url
            self._last_url, self._last_target = spelled, URL(str(bare), encoded=True)
        return self._last_target

    def _timeout(self, seconds: dict[str, float | None]) -> aiohttp.ClientTimeout:
        """Return httpx's timeouts as aiohttp's (made once per distinct set)."""
        key = (seconds.get("pool"), seconds.get("connect"), seconds.get("read"))
        timeout = self._timeouts.get(key)
        if timeout is None:
            pool, connect, read = key
            timeout = aiohttp.ClientTimeout(
                total=None, connect=pool, sock_connect=connect, sock_read=read
            )
            self._timeouts[key] = timeout
        return timeout

    def _open(self) -> aiohttp.ClientSession:
        if self._session is None:
            connector = aiohttp.TCPConnector(
                limit=self._max_connections, ssl=self._ssl_context, enable_cleanup_closed=False
            )
            self._session = aiohttp.ClientSession(
                connector=connector,
                cookie_jar=aiohttp.DummyCookieJar(),  # httpx's client keeps the cookies
                skip_auto_headers=("User-Agent", "Accept", "Accept-Encoding", "Content-Type"),
                trust_env=False,  # else aiohttp reads ~/.netrc and the proxy on every request
            )
        return self._session


class _Body(httpx.AsyncByteStream):
    """A response body, read from aiohttp as it arrives."""

    def __init__(self, answer: aiohttp.ClientResponse, request: httpx.Request) -> None:
        self._answer = answer
        self._request = request

    async def __aiter__(self) -> AsyncIterator[bytes]:
        try:
            async for chunk in self._answer.content.iter_chunked(CHUNK_BYTES):
                yield chunk
        except (aiohttp.ClientError, TimeoutError) as error:
            raise httpx_error(error, self._request) from error

    async def aclose(self) -> None:
        # A body read to its end frees the connection for the next request; a body cut short
        # (a runaway answer) closes it.
        self._answer.release()


def httpx_error(error: BaseException, request: httpx.Request) -> httpx.TransportError:
    """Return the httpx error that says whether the request may have reached the server."""
    message = str(error) or type(error).__name__
    kind: type[httpx.TransportError]
    if isinstance(error, aiohttp.ConnectionTimeoutError):
        kind = httpx.ConnectTimeout  # no connection was made: nothing was sent
    elif isinstance(error, aiohttp.ClientConnectorError):
        kind = httpx.ConnectError  # refused, unresolvable, TLS handshake failed: nothing sent
    elif isinstance(error, aiohttp.InvalidURL | aiohttp.NonHttpUrlClientError):
        kind = httpx.UnsupportedProtocol
    elif isinstance(error, TimeoutError):
        kind = httpx.ReadTimeout  # sent, no answer in time
    elif isinstance(error, aiohttp.ServerDisconnectedError | aiohttp.ClientResponseError):
        kind = httpx.RemoteProtocolError  # sent; the answer never came whole
    else:
        kind = httpx.ReadError  # reset, broken pipe, cut body: sent, perhaps stored
    return kind(message, request=request)
