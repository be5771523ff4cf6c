"""The store's connection: SQLite errors as one line each, write transactions, meta and the audit log."""

from __future__ import annotations

import errno
import os
import sqlite3
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from certtui.core.timefmt import iso, utcnow
from certtui.errors import CerttuiError, StoreError

# Another certtui process (a second SSH session) may be mid-write; wait this long for it
# before telling the user, instead of failing at once. Transactions here last milliseconds.
BUSY_TIMEOUT_S = 10.0


def _actor() -> str:
    """Who is writing: the login name (getpass, and termios with it, load only for a write)."""
    import getpass

    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return f"uid {os.getuid()}"


class DiskFull(StoreError):
    """SQLite or the OS found the disk full; the transaction or file was dropped."""


def _busy(exc: sqlite3.OperationalError) -> CerttuiError:
    text = str(exc)
    if full_disk(exc):
        return DiskFull("the disk is full; nothing was written; free some space and try again")
    if "locked" in text or "busy" in text:
        return StoreError(
            f"the store is busy: another certtui process has held it for over "
            f"{BUSY_TIMEOUT_S:.0f} s; wait for it to finish and try again"
        )
    return StoreError(f"the store could not be read or written ({text}); check the disk and try again")


def full_disk(exc: BaseException) -> bool:
    """SQLite's SQLITE_FULL, or the OS's ENOSPC / EDQUOT."""
    if isinstance(exc, sqlite3.Error):
        return getattr(exc, "sqlite_errorcode", 0) & 0xFF == sqlite3.SQLITE_FULL or "disk is full" in str(exc)
    return isinstance(exc, OSError) and exc.errno in (errno.ENOSPC, errno.EDQUOT)


def disk_full(folder: Path) -> StoreError:
    return DiskFull(f"the disk holding {folder} is full; nothing was written; free some space and try again")


@contextmanager
def full_disk_is_one_line(folder: Path, cleanup: Callable[[], None] = lambda: None) -> Iterator[None]:
    """Turn a full disk met inside into one `disk_full` line, after `cleanup`."""
    try:
        yield
    except (sqlite3.Error, OSError, DiskFull) as exc:
        if not (isinstance(exc, DiskFull) or out_of_space(exc, folder)):
            raise
        cleanup()
        raise disk_full(folder) from None


def out_of_space(exc: BaseException, folder: Path) -> bool:
    """A full disk, also where SQLite reports a short write (its -shm, a sync) as an I/O error.

    Judge it before any temporary file is removed: that frees the space again.
    """
    io_error = isinstance(exc, sqlite3.Error) and "disk I/O error" in str(exc)
    return full_disk(exc) or (io_error and _no_space(folder))


def _no_space(folder: Path) -> bool:
    """The file system holding `folder` has (almost) no free block left."""
    try:
        st = os.statvfs(folder)
    except OSError:
        return False
    # A few pages: what SQLite needs to grow a file or its -shm by one step.
    return st.f_bavail * st.f_frsize < 64 * 1024


def _corrupt(path: Path) -> StoreError:
    return StoreError(
        f"{path} is not a readable certtui database (damaged or not ours); move it aside and restore a backup"
    )


Row = tuple[Any, ...]


class Connected:
    """An open store database. Every statement goes through `_query`, `_row` or `_exec` (or
    `write`), which turn SQLite's errors into one line: busy, disk full, or damaged."""

    conn: sqlite3.Connection
    path: Path

    @staticmethod
    def _connect(path: Path) -> sqlite3.Connection:
        # check_same_thread off: the TUI reads and writes from worker threads, one writer at a time.
        conn = sqlite3.connect(path, timeout=BUSY_TIMEOUT_S, isolation_level=None, check_same_thread=False)
        conn.execute(f"PRAGMA busy_timeout = {int(BUSY_TIMEOUT_S * 1000)}")
        conn.execute("PRAGMA foreign_keys = ON")
        # A schema someone altered runs no SQL function from a view or trigger (SQLite 3.31+).
        conn.execute("PRAGMA trusted_schema = OFF")
        return conn

    def close(self) -> None:
        self.conn.close()

    def data_version(self) -> int:
        """Changes whenever another connection commits: the TUI polls it to reload."""
        return int(self._query("PRAGMA data_version")[0][0])

    # -- transactions and meta -----------------------------------------------------------

    @contextmanager
    def write(self) -> Iterator[sqlite3.Connection]:
        """A BEGIN IMMEDIATE transaction: all of it commits, or none of it."""
        try:
            self.conn.execute("BEGIN IMMEDIATE")
        except sqlite3.OperationalError as exc:
            raise _busy(exc) from None
        try:
            yield self.conn
            self.conn.execute("COMMIT")
        except BaseException as exc:
            if self.conn.in_transaction:
                self.conn.execute("ROLLBACK")
            if isinstance(exc, sqlite3.OperationalError):
                raise _busy(exc) from None
            # SQLITE_CORRUPT / SQLITE_NOTADB met mid-write (not a subclass such as IntegrityError).
            if type(exc) is sqlite3.DatabaseError:
                raise _corrupt(self.path) from None
            raise

    def _query(self, sql: str, args: tuple[object, ...] = ()) -> list[Row]:
        """Every row one statement returns."""
        try:
            return self.conn.execute(sql, args).fetchall()
        except sqlite3.OperationalError as exc:
            raise _busy(exc) from None
        except sqlite3.DatabaseError:
            raise _corrupt(self.path) from None

    def _row(self, sql: str, args: tuple[object, ...] = ()) -> Row | None:
        """The first row one statement returns, or None."""
        rows = self._query(sql, args)
        return rows[0] if rows else None

    @contextmanager
    def _changing(self) -> Iterator[None]:
        """A statement that changes rows, inside `write()`: its errors as `write` says them (a
        constraint the statement breaks, sqlite3.IntegrityError, stays what it is)."""
        try:
            yield
        except sqlite3.OperationalError as exc:
            raise _busy(exc) from None
        except sqlite3.DatabaseError as exc:
            if type(exc) is sqlite3.DatabaseError:
                raise _corrupt(self.path) from None
            raise

    def _exec(self, sql: str, args: tuple[object, ...] = ()) -> sqlite3.Cursor:
        """Run one statement that changes rows, inside `write()`."""
        with self._changing():
            return self.conn.execute(sql, args)

    def _exec_many(self, sql: str, rows: list[tuple[object, ...]]) -> None:
        """`_exec` of one statement for each of `rows`."""
        with self._changing():
            self.conn.executemany(sql, rows)

    def meta(self, key: str) -> str | None:
        rows = self._query("SELECT value FROM meta WHERE key = ?", (key,))
        return rows[0][0] if rows else None

    def set_meta(self, key: str, value: str) -> None:
        """Inside `write()`."""
        self._exec("INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)", (key, value))

    def event(self, action: str, cert_id: str | None, detail: str = "") -> None:
        """Record who did what, inside the same `write()` as the change itself."""
        self._exec(
            "INSERT INTO events (at, actor, action, cert_id, detail) VALUES (?, ?, ?, ?, ?)",
            (iso(utcnow()), _actor(), action, cert_id, detail),
        )

    def events(self, cert_id: str | None = None) -> list[tuple[str, str, str, str | None, str]]:
        sql = "SELECT at, actor, action, cert_id, detail FROM events"
        if cert_id is None:
            return self._query(sql + " ORDER BY id")
        return self._query(sql + " WHERE cert_id = ? ORDER BY id", (cert_id,))


class Tables:
    """A group of tables over an open store (`Store.acme`, `Store.upkeep`): its statements go
    through the store's `_query`, `_row` and `_exec`, errors translated the same way."""

    def __init__(self, db: Connected) -> None:
        self._query = db._query
        self._row = db._row
        self._exec = db._exec
        self._exec_many = db._exec_many
