"""The minimal client the importer's push is measured against: about 40 lines of aiohttp.

It posts every body of a JSON-lines file once to one vendor endpoint, ``--concurrency``
requests in flight over one session, and prints one JSON line: rows, seconds (first request
to last answer) and the count of each status. No ledger, no retries, no rate limit: the bound
a Python client on this machine reaches against the same sandbox. ``bench/push.py`` runs it::

    .venv/bin/python bench/minimal_client.py --base-url URL --bodies bodies.jsonl \\
        --path /reseller/customers --header x-api-key=sandbox-offergrid-key --concurrency 64
"""

from __future__ import annotations

import argparse
import asyncio
import json
import time
from collections import Counter
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import aiohttp


async def post_all(
    base_url: str, path: str, headers: dict[str, str], bodies: Sequence[Any], concurrency: int
) -> Counter[int]:
    """Post every body once, ``concurrency`` at a time; return how many got each status."""
    statuses: Counter[int] = Counter()
    pending: Iterator[Any] = iter(bodies)
    headers = {"content-type": "application/json", **headers}
    connector = aiohttp.TCPConnector(limit=concurrency)
    async with aiohttp.ClientSession(base_url, connector=connector, headers=headers) as session:

        async def worker() -> None:
            for body in pending:
                data = json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode()
                async with session.post(path, data=data) as response:
                    await response.read()
                    statuses[response.status] += 1

        await asyncio.gather(*(worker() for _ in range(concurrency)))
    return statuses


def main() -> None:
    """Post the bodies and print rows, seconds and statuses as one JSON line."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--base-url", required=True)
    parser.add_argument("--path", required=True)
    parser.add_argument("--bodies", type=Path, required=True, help="one JSON body a line")
    parser.add_argument("--header", action="append", default=[], help="NAME=VALUE, repeatable")
    parser.add_argument("--concurrency", type=int, default=64)
    args = parser.parse_args()
    bodies = [json.loads(line) for line in args.bodies.read_text().splitlines() if line]
    headers = dict(each.split("=", 1) for each in args.header)
    started = time.perf_counter()
    statuses = asyncio.run(post_all(args.base_url, args.path, headers, bodies, args.concurrency))
    seconds = time.perf_counter() - started
    print(json.dumps({"rows": len(bodies), "seconds": seconds, "statuses": dict(statuses)}))


if __name__ == "__main__":
    main()
