"""A private PostgreSQL server for the tests and benchmarks: Debian's binaries, loopback only.

``PostgresCluster`` runs ``initdb`` into a temporary folder and ``pg_ctl start`` on 127.0.0.1
and a free port (as the ``postgres`` user when run as root, since PostgreSQL refuses to run as
root), and removes it all on ``stop``. The pytest fixtures here (loaded by ``conftest.py``) give
a test a fresh database on the session's server. Without the server's binaries the tests that
need one are skipped with the reason, unless ``CI`` is set: then they fail.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import tempfile
import uuid
from collections.abc import Iterator, Mapping
from pathlib import Path

import psycopg
import pytest

USER = "importer"
START_TRIES = 3
TEST_SETTINGS = {"fsync": "off", "full_page_writes": "off", "max_connections": "200"}
"""For the tests: durability against a power cut is PostgreSQL's promise, not what they test."""


def server_bindir() -> Path | None:
    """Return the folder of ``initdb`` and ``pg_ctl`` (the newest Debian version), if any."""
    found = sorted(
        Path("/usr/lib/postgresql").glob("*/bin/initdb"),
        key=lambda path: int(path.parts[4]) if path.parts[4].isdigit() else 0,
    )
    if found:
        return found[-1].parent
    on_path = shutil.which("initdb")
    return Path(on_path).parent if on_path else None


class PostgresCluster:
    """A throwaway PostgreSQL server on loopback; use as a context manager."""

    def __init__(self, bindir: Path, settings: Mapping[str, str] | None = None) -> None:
        """Prepare (but do not start) a server from the binaries in ``bindir``."""
        self._bindir = bindir
        self._settings = dict(settings or {})
        self._root = Path(tempfile.mkdtemp(prefix="importer-pg-"))
        self._data = self._root / "data"
        self.port = 0

    def __enter__(self) -> PostgresCluster:
        """Create the cluster and start the server; raise with its log if it cannot start."""
        try:
            self._as_owner(self._root)
            self._run("initdb", "-D", str(self._data), "-U", USER, "--auth=trust", "-E", "UTF8")
            self._start()
        except BaseException:
            self.stop()
            raise
        return self

    def __exit__(self, *_: object) -> None:
        """Stop the server and remove its files."""
        self.stop()

    def url(self, database: str = "postgres", *, password: str | None = None) -> str:
        """Return a ``postgresql://`` URL of a database on this server."""
        secret = f":{password}" if password else ""
        return f"postgresql://{USER}{secret}@127.0.0.1:{self.port}/{database}"

    def create_database(self) -> str:
        """Create an empty database and return its name."""
        name = f"t_{uuid.uuid4().hex[:12]}"
        with psycopg.connect(self.url(), autocommit=True) as db:
            db.execute(f"CREATE DATABASE {name}")  # type: ignore[arg-type]
        return name

    def stop(self) -> None:
        """Stop the server (if started) and remove its files; calling it again does nothing."""
        if (self._data / "postmaster.pid").exists():
            self._run("pg_ctl", "-D", str(self._data), "-m", "immediate", "-w", "stop", check=False)
        shutil.rmtree(self._root, ignore_errors=True)

    def _start(self) -> None:
        log = self._root / "server.log"
        for attempt in range(START_TRIES):
            self.port = _free_port()
            options = [
                f"-k {self._root}",
                "-h 127.0.0.1",
                f"-p {self.port}",
                *(f"-c {name}={value}" for name, value in self._settings.items()),
            ]
            started = self._run(
                "pg_ctl", "-D", str(self._data), "-l", str(log), "-w", "-t", "60",
                "-o", " ".join(options), "start", check=False,
            )  # fmt: skip
            if started.returncode == 0:
                return
            if attempt == START_TRIES - 1:
                text = log.read_text(errors="replace") if log.exists() else started.stderr
                raise RuntimeError(f"PostgreSQL did not start:\n{text[-2000:]}")

    def _run(self, tool: str, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        command = [str(self._bindir / tool), *args]
        if os.geteuid() == 0:  # PostgreSQL refuses to run as root
            command = ["runuser", "-u", "postgres", "--", *command]
        return subprocess.run(command, capture_output=True, text=True, check=check, cwd="/")

    def _as_owner(self, path: Path) -> None:
        if os.geteuid() == 0:
            shutil.chown(path, "postgres", "postgres")


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def unavailable(reason: str) -> None:
    """Skip the test for ``reason``; under CI, fail it instead: CI must run every test."""
    if os.environ.get("CI"):
        pytest.fail(f"{reason} (CI is set, so this fails instead of skipping)")
    pytest.skip(reason)


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[PostgresCluster]:
    """Start one private PostgreSQL server for the whole test session."""
    bindir = server_bindir()
    if bindir is None:
        unavailable("PostgreSQL's server is not installed (no initdb): apt-get install postgresql")
    assert bindir is not None
    if os.geteuid() == 0 and shutil.which("runuser") is None:
        unavailable("running as root without runuser, and PostgreSQL refuses to run as root")
    with PostgresCluster(bindir, TEST_SETTINGS) as cluster:
        yield cluster


@pytest.fixture
def postgres_url(postgres_server: PostgresCluster) -> str:
    """Return the URL of a fresh, empty database for one test."""
    return postgres_server.url(postgres_server.create_database())
