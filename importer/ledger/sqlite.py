"""The ledger in one SQLite file under the state directory (the embedded default).

WAL mode with ``synchronous=FULL``: claims and settlements are committed (fsync'd) before the
call returns; ``commit`` takes a batch of both in one transaction, so push's group commit pays
one fsync for all the rows that queued while the previous one was written. A lock file allows
one run per vendor and state directory; the ledger and the lock are readable by their owner
only. The schema is versioned (``PRAGMA user_version``) and migrated in place; a ledger
written by a newer importer is refused, never altered.
"""

from __future__ import annotations

import contextlib
import json
import os
import sqlite3
import threading
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any

from importer.errors import ConfigError
from importer.ledger.interface import (
    CUT_SHORT,
    TOTALS,
    Claim,
    LedgerTooNew,
    Run,
    RunLocked,
    RunRow,
    Settlement,
    UnknownRun,
)
from importer.lifecycle import (
    STATUS_OF,
    Known,
    Reason,
    RowOutcome,
    State,
    account_of,
    move,
)
from importer.locks import held_without_taking, is_held, try_lock

LEDGER_FILE = "ledger.sqlite"
LOOKUP_BATCH = 500
SCHEMA_VERSION = 1

SCHEMA = """
CREATE TABLE IF NOT EXISTS rows (
    vendor TEXT NOT NULL,
    account TEXT NOT NULL,
    row_key TEXT NOT NULL,
    content_hash TEXT NOT NULL,
    state TEXT NOT NULL,
    reason TEXT NOT NULL,
    run_id TEXT NOT NULL,
    source_row INTEGER NOT NULL,
    http_status INTEGER,
    vendor_id TEXT,
    message TEXT NOT NULL DEFAULT '',
    updated_at TEXT NOT NULL,
    PRIMARY KEY (vendor, account, row_key)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS runs (
    run_id TEXT PRIMARY KEY,
    vendor TEXT NOT NULL,
    account TEXT NOT NULL,
    started_at TEXT NOT NULL,
    finished_at TEXT,
    ending TEXT NOT NULL,
    source_file TEXT NOT NULL,
    columns TEXT NOT NULL,
    arguments TEXT NOT NULL,
    totals TEXT NOT NULL DEFAULT '{}'
);
CREATE INDEX IF NOT EXISTS runs_by_account ON runs (vendor, account, started_at);
CREATE TABLE IF NOT EXISTS run_rows (
    run_id TEXT NOT NULL,
    source_row INTEGER NOT NULL,
    row_key TEXT,
    state TEXT NOT NULL,
    reason TEXT NOT NULL,
    message TEXT NOT NULL DEFAULT '',
    http_status INTEGER,
    vendor_id TEXT,
    attempts INTEGER NOT NULL DEFAULT 0,
    cells TEXT NOT NULL,
    PRIMARY KEY (run_id, source_row)
) WITHOUT ROWID;
"""

_KNOWN_COLUMNS = (
    "row_key, content_hash, state, reason, run_id, source_row, http_status, vendor_id, message"
)
_RUN_COLUMNS = (
    "run_id, vendor, account, started_at, finished_at, ending, source_file, columns, arguments,"
    " totals"
)


class SqliteLedger:
    """The ledger of one vendor account in a SQLite file, with the vendor's run lock."""

    def __init__(self, state_dir: Path, *, vendor: str, account: str, lock: bool = True) -> None:
        """Open (creating and migrating) the ledger under ``state_dir``.

        Args:
            state_dir: The state directory; created, readable by its owner only.
            vendor: The vendor id.
            account: The account (``lifecycle.account_of`` or a name the user gave).
            lock: Take the vendor's run lock (a run, a person's settlement); reading a report
                back needs none.

        Raises:
            RunLocked: when another run of ``vendor`` holds the lock.
            LedgerTooNew: when a newer importer wrote the ledger.
            ConfigError: when the state directory cannot be created or opened.
        """
        self.vendor = vendor
        self.account = account
        self._state_dir = state_dir
        self._lock: IO[str] | None = None
        self._guard = threading.RLock()  # push's writer thread and the pipeline share the file
        try:
            _private_dir(state_dir)
            if lock:
                self._lock = _take_lock(state_dir / f"{vendor}.lock", vendor, state_dir)
            self._db = _connect(state_dir / LEDGER_FILE)
        except (OSError, sqlite3.Error) as error:
            self.close()
            raise ConfigError(f"cannot use state directory {state_dir}: {error}") from None
        try:
            _migrate(self._db, state_dir)
        except BaseException:
            self.close()
            raise

    # --- runs -----------------------------------------------------------------------------

    def begin_run(self, run: Run) -> None:
        """Record that a run started."""
        with self._transaction():
            self._db.execute(
                f"INSERT INTO runs ({_RUN_COLUMNS}) VALUES (?,?,?,?,?,?,?,?,?,?)",
                (
                    run.run_id,
                    run.vendor,
                    run.account,
                    run.started_at,
                    run.finished_at,
                    run.ending,
                    run.source_file,
                    json.dumps(list(run.columns), ensure_ascii=False),
                    json.dumps(dict(run.arguments), ensure_ascii=False, default=str),
                    json.dumps(dict(run.totals)),
                ),
            )

    def end_run(self, run_id: str, *, ending: str, totals: Mapping[str, Any]) -> None:
        """Record how a run ended and its totals."""
        with self._transaction():
            self._db.execute(
                "UPDATE runs SET ending=?, finished_at=?, totals=? WHERE run_id=?",
                (ending, _now(), json.dumps(dict(totals)), run_id),
            )

    def runs(self, limit: int | None = None) -> list[Run]:
        """Return the account's runs, newest first."""
        cursor = self._db.execute(
            f"SELECT {_RUN_COLUMNS} FROM runs WHERE vendor=? AND account=?"
            " ORDER BY started_at DESC, run_id DESC LIMIT ?",
            (self.vendor, self.account, -1 if limit is None else limit),
        )
        return [_run(row) for row in cursor]

    def run(self, run_id: str) -> Run:
        """Return one run of any account in this ledger.

        Raises:
            UnknownRun: when there is no such run.
        """
        return find_run(self._db, run_id)

    def history(self, *, vendor: str | None = None, limit: int | None = None) -> list[Run]:
        """Return the runs of every account (only ``vendor``'s, if given), newest first."""
        return run_history(self._db, self._state_dir, vendor=vendor, limit=limit)

    # --- rows -----------------------------------------------------------------------------

    def known(self, row_keys: Sequence[str]) -> dict[str, Known]:
        """Return what the ledger knows of those row identities."""
        with self._guard:
            return {row[0]: _known(row) for row in self._lookup(_KNOWN_COLUMNS, row_keys)}

    def plan(self, run_id: str, rows: Sequence[RunRow]) -> None:
        """Record rows of a run as it reads them, each with its state so far."""
        with self._transaction():
            self._db.executemany(
                "INSERT OR REPLACE INTO run_rows VALUES (?,?,?,?,?,?,?,?,?,?)",
                [
                    (
                        run_id,
                        row.outcome.source_row,
                        row.row_key,
                        *_outcome_values(row.outcome),
                        json.dumps(row.cells, ensure_ascii=False),
                    )
                    for row in rows
                ],
            )

    def claim(self, run_id: str, claims: Sequence[Claim]) -> list[bool]:
        """Commit the intent to send each row; return, per claim, whether it was won."""
        return self.commit(run_id, claims, ())

    def settle(self, run_id: str, settlements: Sequence[Settlement]) -> None:
        """Commit row outcomes and what the account keeps of each identity."""
        self.commit(run_id, (), settlements)

    def commit(
        self, run_id: str, claims: Sequence[Claim], settlements: Sequence[Settlement]
    ) -> list[bool]:
        """Claim rows and settle others in one transaction; return, per claim, whether it was won.

        Raises:
            InvalidMove: when a move is not the lifecycle's; nothing of the batch is committed.
        """
        with self._transaction():
            states = self._states(
                [claim.row_key for claim in claims]
                + [each.row_key for each in settlements if each.kept is not None]
            )
            now = _now()
            won = self._claim_rows(run_id, claims, states, now)
            self._settle_rows(run_id, settlements, states, now)
        return won

    def _claim_rows(
        self, run_id: str, claims: Sequence[Claim], states: dict[str, State], now: str
    ) -> list[bool]:
        won: list[bool] = []
        entries: list[Known] = []
        for claim in claims:
            current = states.get(claim.row_key)
            if current is not claim.expected:
                won.append(False)
                continue
            states[claim.row_key] = move(current, State.SENDING)
            entries.append(
                Known(
                    claim.row_key,
                    claim.content_hash,
                    State.SENDING,
                    Reason.CUT_SHORT,  # until settled: a run cut short while sending it
                    run_id,
                    claim.source_row,
                )
            )
            won.append(True)
        self._put(entries, now)
        self._db.executemany(
            "UPDATE run_rows SET state=?, reason=? WHERE run_id=? AND source_row=?",
            [
                (State.SENDING.value, Reason.CUT_SHORT.value, run_id, entry.source_row)
                for entry in entries
            ],
        )
        return won

    def _settle_rows(
        self, run_id: str, settlements: Sequence[Settlement], states: dict[str, State], now: str
    ) -> None:
        entries: list[Known] = []
        for each in settlements:
            if each.kept is None:
                continue
            outcome = each.outcome
            states[each.row_key] = move(states.get(each.row_key), each.kept)
            entries.append(
                Known(
                    each.row_key,
                    each.content_hash,
                    each.kept,
                    outcome.reason,
                    run_id,
                    outcome.source_row,
                    outcome.http_status,
                    outcome.vendor_id,
                    outcome.message,
                )
            )
        self._put(entries, now)
        self._db.executemany(
            "UPDATE run_rows SET state=?, reason=?, message=?, http_status=?,"
            " vendor_id=?, attempts=? WHERE run_id=? AND source_row=?",
            [
                (*_outcome_values(each.outcome), run_id, each.outcome.source_row)
                for each in settlements
            ],
        )

    def keep(self, entries: Sequence[Known]) -> None:
        """Replace what the ledger knows of identities (a person's word, a doubt resolved).

        Raises:
            InvalidMove: when an entry's new state is not a lifecycle move from its old one.
        """
        with self._transaction():
            states = self._states([entry.row_key for entry in entries])
            for entry in entries:
                current = states.get(entry.row_key)
                if current is not entry.state:
                    states[entry.row_key] = move(current, entry.state)
            self._put(entries, _now())

    def run_rows(self, run_id: str) -> Iterator[RunRow]:
        """Yield every recorded row of a run, in sheet order."""
        cursor = self._db.execute(
            "SELECT source_row, row_key, state, reason, message, http_status, vendor_id,"
            " attempts, cells FROM run_rows WHERE run_id=? ORDER BY source_row",
            (run_id,),
        )
        for source_row, key, state, reason, message, status, vendor_id, attempts, cells in cursor:
            outcome = RowOutcome(
                source_row, State(state), Reason(reason), message, status, vendor_id, attempts
            )
            yield RunRow(outcome, key, tuple(json.loads(cells)))

    def close(self) -> None:
        """Close the database and release the run lock; calling it again does nothing."""
        db = getattr(self, "_db", None)
        if db is not None:
            db.close()
            self._db = None  # type: ignore[assignment]
        if self._lock is not None:
            self._lock.close()
            self._lock = None

    # --- helpers --------------------------------------------------------------------------

    @contextlib.contextmanager
    def _transaction(self) -> Iterator[None]:
        """Run a block in one immediate (write-locked) transaction, committed on exit."""
        with self._guard:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                yield
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            self._db.execute("COMMIT")

    def _states(self, row_keys: Sequence[str]) -> dict[str, State]:
        """Return the state of each of those identities the ledger knows."""
        return {key: State(state) for key, state in self._lookup("row_key, state", row_keys)}

    def _lookup(self, columns: str, row_keys: Sequence[str]) -> Iterator[tuple[Any, ...]]:
        """Yield ``columns`` of each of those identities the ledger knows, in batches."""
        for start in range(0, len(row_keys), LOOKUP_BATCH):
            batch = list(row_keys[start : start + LOOKUP_BATCH])
            marks = ",".join("?" * len(batch))
            yield from self._db.execute(
                f"SELECT {columns} FROM rows WHERE vendor=? AND account=? AND row_key IN ({marks})",
                [self.vendor, self.account, *batch],
            )

    def _put(self, entries: Sequence[Known], now: str) -> None:
        self._db.executemany(
            "INSERT OR REPLACE INTO rows VALUES (?,?,?,?,?,?,?,?,?,?,?,?)",
            [
                (
                    self.vendor,
                    self.account,
                    entry.row_key,
                    entry.content_hash,
                    entry.state.value,
                    entry.reason.value,
                    entry.run_id,
                    entry.source_row,
                    entry.http_status,
                    entry.vendor_id,
                    entry.message,
                    now,
                )
                for entry in entries
            ],
        )


def open_run(state_dir: Path, run_id: str, *, lock: bool) -> tuple[SqliteLedger, Run]:
    """Open the ledger of the account that ran ``run_id``, and that run's history.

    Raises:
        UnknownRun: when the ledger holds no such run (or there is no ledger).
        ConfigError: when the state directory cannot be read.
    """
    path = state_dir / LEDGER_FILE
    if not path.is_file():
        raise UnknownRun(f"no ledger in {state_dir}: give the --state the run used")
    try:
        db = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=30)
    except sqlite3.Error as error:
        raise ConfigError(f"cannot read the ledger in {state_dir}: {error}") from None
    try:
        run = find_run(db, run_id)
    finally:
        db.close()
    return SqliteLedger(state_dir, vendor=run.vendor, account=run.account, lock=lock), run


class SqliteHistory:
    """The runs of the ledger under a state directory, opened read-only without any lock."""

    def __init__(self, db: sqlite3.Connection, state_dir: Path) -> None:
        """Read runs from ``db``, the read-only ledger of ``state_dir``."""
        self._db: sqlite3.Connection | None = db
        self._state_dir = state_dir

    def history(self, *, vendor: str | None = None, limit: int | None = None) -> list[Run]:
        """Return the runs of every account (only ``vendor``'s, if given), newest first."""
        if self._db is None:
            raise RuntimeError("the ledger is closed")
        return run_history(self._db, self._state_dir, vendor=vendor, limit=limit)

    def close(self) -> None:
        """Close the database; calling it again does nothing."""
        if self._db is not None:
            self._db.close()
            self._db = None


def open_history(state_dir: Path) -> SqliteHistory | None:
    """Open the ledger under ``state_dir`` to list its runs; None when there is no ledger.

    Creates nothing, changes nothing and takes no lock: a run in progress never waits for it,
    and it never waits for a run (WAL readers see the last commit).

    Raises:
        LedgerTooNew: when a newer importer wrote the ledger.
        ConfigError: when the ledger cannot be read.
    """
    path = state_dir / LEDGER_FILE
    if not path.is_file():
        return None
    try:
        db = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True, timeout=30)
    except sqlite3.Error as error:
        raise ConfigError(f"cannot read the ledger in {state_dir}: {error}") from None
    try:
        version = db.execute("PRAGMA user_version").fetchone()[0]
    except sqlite3.Error as error:
        db.close()
        raise ConfigError(f"cannot read the ledger in {state_dir}: {error}") from None
    if version > SCHEMA_VERSION:
        db.close()
        raise LedgerTooNew(
            f"the ledger in {state_dir} has schema version {version}, newer than this importer "
            f"knows ({SCHEMA_VERSION}): upgrade importer"
        )
    return SqliteHistory(db, state_dir)


def run_history(
    db: sqlite3.Connection, state_dir: Path, *, vendor: str | None, limit: int | None
) -> list[Run]:
    """Return the ledger's runs, newest first, each with its ending and totals made whole.

    Only a vendor's newest run can still be running (a run holds the vendor's lock); one the
    ledger calls ``running`` is ``CUT_SHORT`` when no live process holds that lock.
    """
    where, params = ("WHERE vendor=?", [vendor]) if vendor else ("", [])
    try:
        rows = db.execute(
            f"SELECT {_RUN_COLUMNS} FROM runs {where}"
            " ORDER BY started_at DESC, run_id DESC LIMIT ?",
            (*params, -1 if limit is None else limit),
        ).fetchall()
    except sqlite3.OperationalError as error:
        if "no such table" in str(error):  # a ledger from before runs were kept
            return []
        raise ConfigError(f"cannot read the ledger in {state_dir}: {error}") from None
    runs: list[Run] = []
    seen: set[str] = set()
    for found in map(_run, rows):
        newest = found.vendor not in seen
        seen.add(found.vendor)
        ending = found.ending
        if ending == "running" and not (newest and _may_be_running(state_dir, found.vendor)):
            ending = CUT_SHORT
        run = replace(found, ending=ending)
        runs.append(replace(run, totals=_whole_totals(db, run)))
    return runs


def _may_be_running(state_dir: Path, vendor: str) -> bool:
    """Return whether a run of ``vendor`` may hold the state directory (unknown: yes)."""
    held = held_without_taking(state_dir / f"{vendor}.lock")
    return held is None or held


def _whole_totals(db: sqlite3.Connection, run: Run) -> dict[str, int]:
    """Return the run's counts per status and in doubt: as it ended, else from its rows."""
    stored = run.totals
    reasons = stored.get("reasons")
    if run.ending in ("finished", "aborted") and isinstance(reasons, Mapping):
        statuses = {name: int(stored.get(name, 0)) for name in TOTALS if name != "unknown"}
        unknown = int(reasons.get(Reason.OUTCOME_UNKNOWN.value, 0))
        return {"rows": sum(statuses.values()), **statuses, "unknown": unknown}
    counts = dict.fromkeys(("rows", *TOTALS), 0)
    for state, count in db.execute(
        "SELECT state, COUNT(*) FROM run_rows WHERE run_id=? GROUP BY state", (run.run_id,)
    ):
        counts["rows"] += count
        counts[STATUS_OF[State(state)].value] += count
        if state == State.UNKNOWN.value:
            counts["unknown"] += count
    return counts


def find_run(db: sqlite3.Connection, run_id: str) -> Run:
    """Return a run's history from an open ledger database.

    Raises:
        UnknownRun: when there is no such run.
    """
    try:
        row = db.execute(f"SELECT {_RUN_COLUMNS} FROM runs WHERE run_id=?", (run_id,)).fetchone()
        latest = db.execute("SELECT run_id FROM runs ORDER BY started_at DESC LIMIT 3").fetchall()
    except sqlite3.Error:
        row, latest = None, []
    if row is None:
        hint = ", ".join(each[0] for each in latest) or "none"
        raise UnknownRun(f"no run {run_id!r} in this ledger (latest runs: {hint})")
    return _run(row)


def _outcome_values(outcome: RowOutcome) -> tuple[Any, ...]:
    return (
        outcome.state.value,
        outcome.reason.value,
        outcome.message,
        outcome.http_status,
        outcome.vendor_id,
        outcome.attempts,
    )


def _known(row: Sequence[Any]) -> Known:
    key, digest, state, reason, run_id, source_row, http_status, vendor_id, message = row
    return Known(
        key,
        digest,
        State(state),
        Reason(reason),
        run_id,
        source_row,
        http_status,
        vendor_id,
        message,
    )


def _run(row: Sequence[Any]) -> Run:
    run_id, vendor, account, started, finished, ending, source, columns, arguments, totals = row
    return Run(
        run_id=run_id,
        vendor=vendor,
        account=account,
        started_at=started,
        finished_at=finished,
        ending=ending,
        source_file=source,
        columns=tuple(json.loads(columns)),
        arguments=json.loads(arguments),
        totals=json.loads(totals),
    )


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds")


def _private_dir(path: Path) -> None:
    """Create ``path`` if needed, readable by its owner only when we created it."""
    if not path.is_dir():
        path.mkdir(parents=True, mode=0o700)
        path.chmod(0o700)


def _private_file(path: Path) -> None:
    """Create ``path`` empty if missing, and make it readable by its owner only."""
    os.close(os.open(path, os.O_CREAT | os.O_WRONLY, 0o600))
    path.chmod(0o600)


def _connect(path: Path) -> sqlite3.Connection:
    _private_file(path)
    # One connection, used by the pipeline and by push's writer thread, one at a time (_guard).
    db = sqlite3.connect(path, timeout=30, isolation_level=None, check_same_thread=False)
    db.execute("PRAGMA journal_mode=WAL")
    db.execute("PRAGMA synchronous=FULL")
    for suffix in ("-wal", "-shm"):
        sidecar = path.with_name(path.name + suffix)
        if sidecar.exists():
            sidecar.chmod(0o600)
    return db


def _take_lock(path: Path, vendor: str, state_dir: Path) -> IO[str]:
    _private_file(path)
    handle = try_lock(path)
    if handle is None:
        raise RunLocked(
            f"another run of {vendor} is using state directory {state_dir}; wait for it to "
            "finish (or give this run another --state)"
        )
    return handle


def is_locked(state_dir: Path, vendor: str) -> bool:
    """Return whether a run of ``vendor`` holds the state directory's lock right now."""
    return is_held(state_dir / f"{vendor}.lock")


# --- migrations -----------------------------------------------------------------------------


def _migrate(db: sqlite3.Connection, state_dir: Path) -> None:
    """Bring the ledger to ``SCHEMA_VERSION`` in place, one step per version, atomically.

    Raises:
        LedgerTooNew: when a newer importer wrote it.
    """
    version = db.execute("PRAGMA user_version").fetchone()[0]
    if version > SCHEMA_VERSION:
        raise LedgerTooNew(
            f"the ledger in {state_dir} has schema version {version}, newer than this importer "
            f"knows ({SCHEMA_VERSION}): upgrade importer, or give another --state"
        )
    if version == SCHEMA_VERSION:
        return
    db.execute("BEGIN IMMEDIATE")
    try:
        for step in MIGRATIONS[version:]:
            step(db)
        db.execute(f"PRAGMA user_version={SCHEMA_VERSION}")
    except BaseException:
        db.execute("ROLLBACK")
        raise
    db.execute("COMMIT")


_OLD_STATES = {
    "sending": (State.SENDING, Reason.CUT_SHORT),
    "created": (State.CREATED, Reason.CREATED),
    "conflicted": (State.CONFLICTED, Reason.ALREADY_EXISTS),
    "rejected": (State.FAILED, Reason.VENDOR_REJECTED),
    "retryable": (State.PLANNED, Reason.ABORTED),
    "outcome_unknown": (State.UNKNOWN, Reason.OUTCOME_UNKNOWN),
}
"""The states of the unversioned ledger (0.1), in the lifecycle's words."""

_PRECEDENCE = (
    State.CREATED,
    State.CONFLICTED,
    State.UNKNOWN,
    State.SENDING,
    State.FAILED,
    State.PLANNED,
)
"""When two old accounts merge into one, the entry that says most about the vendor wins."""


def _from_unversioned(db: sqlite3.Connection) -> None:
    """Version 0 → 1: lifecycle states with reasons, accounts without credentials, run history.

    The old account was ``<base url>|<credential fingerprint>``; rotating a key started a new
    one. Entries of accounts that are now one are merged, keeping the one that says most.
    """
    has_rows = db.execute(
        "SELECT 1 FROM sqlite_master WHERE type='table' AND name='rows'"
    ).fetchone()
    if not has_rows:
        _create(db)
        return
    db.execute("ALTER TABLE rows RENAME TO rows_unversioned")
    _create(db)
    merged: dict[tuple[str, str, str], tuple[Any, ...]] = {}
    for row in db.execute("SELECT * FROM rows_unversioned"):
        vendor, account, key, digest, state, *rest = row
        new_state, reason = _OLD_STATES.get(state, (State.UNKNOWN, Reason.OUTCOME_UNKNOWN))
        url = account.rsplit("|", 1)[0]
        entry = (
            vendor,
            account_of(url),
            key,
            digest,
            new_state.value,
            reason.value,
            *rest,
        )
        slot = (vendor, entry[1], key)
        if slot not in merged or _rank(entry) < _rank(merged[slot]):
            merged[slot] = entry
    db.executemany("INSERT INTO rows VALUES (?,?,?,?,?,?,?,?,?,?,?,?)", list(merged.values()))
    db.execute("DROP TABLE rows_unversioned")


def _rank(entry: tuple[Any, ...]) -> int:
    return _PRECEDENCE.index(State(entry[4]))


def _create(db: sqlite3.Connection) -> None:
    for statement in SCHEMA.split(";"):
        if statement.strip():
            db.execute(statement)


MIGRATIONS: tuple[Callable[[sqlite3.Connection], None], ...] = (_from_unversioned,)
"""Step ``n`` takes a ledger from version ``n`` to ``n + 1``."""
