"""Benchmark: what sits under push's httpx API, by CPU a request (push/transport.py's choice).

Posts the same small JSON bodies to one OfferGrid leads sandbox process (0 ms latency) at
concurrency 64, in this process, through each way of sending, and prints the CPU time of this
process per request and the rate; the variants alternate, ``--reps`` times each, medians:

- ``aiohttp``: a bare aiohttp session (the floor);
- ``push``: ``httpx.Request`` sent through ``importer.push.transport.AiohttpTransport``, as
  push sends;
- ``httpx client over aiohttp``: ``httpx.AsyncClient(transport=AiohttpTransport(...))``;
- ``httpx-aiohttp``: the ``httpx-aiohttp`` package's transport, if it is installed;
- ``httpx, a client per connection``: httpx's own transport (httpcore), as push was before;
- ``httpx, one shared client``: httpx's own pool for every worker.

Not part of ``make bench``::

    .venv/bin/python bench/transports.py [--requests 4000] [--reps 3]
"""

from __future__ import annotations

import argparse
import asyncio
import importlib.util
import json
import re
import statistics
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager

import aiohttp
import httpx

from importer.push.transport import AiohttpTransport

PATH = "/reseller/customers"
HEADERS = {"x-api-key": "sandbox-offergrid-key", "content-type": "application/json"}
CONCURRENCY = 64
Post = Callable[[bytes], Awaitable[int]]


@contextmanager
def sandbox() -> Iterator[str]:
    """Serve the leads sandbox as its own process; yield its base URL."""
    command = [sys.executable, "-m", "importer", "sandbox", "offergrid-leads", "--empty"]
    with subprocess.Popen(command, stdout=subprocess.PIPE, text=True) as server:
        assert server.stdout is not None
        found = re.search(r"http://\S+", server.stdout.readline())
        try:
            assert found is not None, "the sandbox did not start"
            yield found.group(0)
        finally:
            server.terminate()


async def drive(post: Post, bodies: list[bytes]) -> tuple[float, float]:
    """Post every body, CONCURRENCY at a time; return CPU seconds and wall seconds."""
    pending = iter(bodies)

    async def worker() -> None:
        for body in pending:
            status = await post(body)
            assert status == 201, status

    cpu, wall = time.process_time(), time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(CONCURRENCY)))
    return time.process_time() - cpu, time.perf_counter() - wall


async def with_aiohttp(url: str, bodies: list[bytes]) -> tuple[float, float]:
    connector = aiohttp.TCPConnector(limit=CONCURRENCY)
    async with aiohttp.ClientSession(url, connector=connector, headers=HEADERS) as session:

        async def post(body: bytes) -> int:
            async with session.post(PATH, data=body) as response:
                await response.read()
                return response.status

        return await drive(post, bodies)


async def with_push_transport(url: str, bodies: list[bytes]) -> tuple[float, float]:
    transport = AiohttpTransport(
        ssl_context=httpx.create_ssl_context(), max_connections=CONCURRENCY
    )
    target = httpx.URL(url + PATH)
    timeouts = httpx.Timeout(30.0).as_dict()

    async def post(body: bytes) -> int:
        request = httpx.Request(
            "POST", target, headers=HEADERS, content=body, extensions={"timeout": timeouts}
        )
        response = await transport.handle_async_request(request)
        await response.aread()
        await response.aclose()
        return response.status_code

    try:
        return await drive(post, bodies)
    finally:
        await transport.aclose()


async def with_clients(
    clients: list[httpx.AsyncClient], bodies: list[bytes]
) -> tuple[float, float]:
    free: asyncio.Queue[httpx.AsyncClient] = asyncio.Queue()
    for client in clients:
        free.put_nowait(client)

    async def post(body: bytes) -> int:
        client = await free.get()
        try:
            response = await client.post(PATH, content=body, headers=HEADERS)
            return response.status_code
        finally:
            free.put_nowait(client)

    try:
        return await drive(post, bodies)
    finally:
        for client in set(clients):
            await client.aclose()


def variants(url: str) -> dict[str, Callable[[list[bytes]], Awaitable[tuple[float, float]]]]:
    """Return each way of sending, by name."""
    context = httpx.create_ssl_context()
    one = httpx.Limits(max_connections=1, max_keepalive_connections=1)
    pool = httpx.Limits(max_connections=CONCURRENCY, max_keepalive_connections=CONCURRENCY)
    found: dict[str, Callable[[list[bytes]], Awaitable[tuple[float, float]]]] = {
        "aiohttp": lambda bodies: with_aiohttp(url, bodies),
        "push": lambda bodies: with_push_transport(url, bodies),
        "httpx client over aiohttp": lambda bodies: with_clients(
            [
                httpx.AsyncClient(
                    base_url=url,
                    transport=AiohttpTransport(ssl_context=context, max_connections=CONCURRENCY),
                )
            ],
            bodies,
        ),
        "httpx, a client per connection": lambda bodies: with_clients(
            [
                httpx.AsyncClient(base_url=url, verify=context, limits=one)
                for _ in range(CONCURRENCY)
            ],
            bodies,
        ),
        "httpx, one shared client": lambda bodies: with_clients(
            [httpx.AsyncClient(base_url=url, verify=context, limits=pool)], bodies
        ),
    }
    if importlib.util.find_spec("httpx_aiohttp") is not None:
        from httpx_aiohttp import AiohttpTransport as PackageTransport  # noqa: PLC0415

        found["httpx-aiohttp"] = lambda bodies: with_clients(
            [
                httpx.AsyncClient(
                    base_url=url, transport=PackageTransport(verify=context, limits=pool)
                )
            ],
            bodies,
        )
    return found


def main() -> None:
    """Run each variant ``--reps`` times, alternating; print medians."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--requests", type=int, default=4000)
    parser.add_argument("--reps", type=int, default=3)
    args = parser.parse_args()
    cpu: dict[str, list[float]] = {}
    rate: dict[str, list[float]] = {}
    with sandbox() as url:
        ways = variants(url)
        for rep in range(args.reps):
            for number, (name, run) in enumerate(ways.items()):
                bodies = [
                    json.dumps({"fullName": f"P {i}", "email": f"r{rep}-{i}@v{number}.io"})
                    .replace(" ", "")
                    .encode()
                    for i in range(args.requests)
                ]
                seconds_cpu, seconds = asyncio.run(run(bodies))
                cpu.setdefault(name, []).append(1e6 * seconds_cpu / args.requests)
                rate.setdefault(name, []).append(args.requests / seconds)
    floor = statistics.median(cpu["aiohttp"])
    print(f"{args.requests} requests a run, concurrency {CONCURRENCY}, {args.reps} runs each")
    for name in ways:
        mine = statistics.median(cpu[name])
        print(
            f"{name:>32}: {mine:5.0f} us CPU a request ({mine / floor:4.1f}x aiohttp), "
            f"{statistics.median(rate[name]):6.0f} requests/s"
        )


if __name__ == "__main__":
    main()
