"""API keys managed from the command line (`govrag keys`), stored hashed in the data directory.

Keys in the settings (`api.security.api_keys`) keep working; these are for the everyday case of an
operator who issues, lists, rotates and revokes keys without editing configuration and restarting. The
store is one SQLite file, `<home>/keys.sqlite` (WAL: `govrag serve` reads while the CLI writes; a
revocation takes effect on the next request). It holds the SHA-256 of each key (as the settings do, see
`rag.api.security`), never the key: a key is shown once, when it is created or rotated.

A stored key has an optional expiry; an expired or revoked key is refused with a message that says so
(the caller holds the key, so naming it reveals nothing new). The lookup is by digest through the primary
index: the time it takes depends on a SHA-256 of a 256-bit random key, which gives an attacker nothing
to steer.
"""

from __future__ import annotations

import json
import sqlite3
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from rag.api.security import ApiKey, Scope, generate_key

FILE_NAME = "keys.sqlite"

_SCHEMA = """
CREATE TABLE IF NOT EXISTS api_keys (
    hash TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    agency TEXT,
    groups TEXT NOT NULL,
    scopes TEXT NOT NULL,
    rate_per_minute REAL,
    created_at REAL NOT NULL,
    expires_at REAL,
    revoked_at REAL
);
CREATE UNIQUE INDEX IF NOT EXISTS api_keys_live_name ON api_keys(name) WHERE revoked_at IS NULL;
"""


class KeyStoreError(Exception):
    """A key command that cannot be done (unknown name, name taken, bad value); the message says why."""


@dataclass(frozen=True, slots=True)
class StoredKey:
    """A key as stored (without the key itself)."""

    name: str
    hash: str
    agency: str | None
    groups: tuple[str, ...]
    scopes: tuple[Scope, ...]
    rate_per_minute: float | None
    created_at: float
    expires_at: float | None
    revoked_at: float | None

    def state(self, now: float | None = None) -> str:
        """`active`, `expired` or `revoked`."""
        if self.revoked_at is not None:
            return "revoked"
        if self.expires_at is not None and self.expires_at <= (time.time() if now is None else now):
            return "expired"
        return "active"

    def as_api_key(self) -> ApiKey:
        """The settings form (what `authenticate` turns into a caller)."""
        return ApiKey(
            name=self.name,
            hash=self.hash,
            agency=self.agency,
            groups=list(self.groups),
            scopes=list(self.scopes),
            rate_per_minute=self.rate_per_minute,
        )


def _day(ts: float) -> str:
    return time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime(ts))


def _row(row: tuple[object, ...]) -> StoredKey:
    h, name, agency, groups, scopes, rate, created, expires, revoked = row
    return StoredKey(
        name=str(name),
        hash=str(h),
        agency=None if agency is None else str(agency),
        groups=tuple(json.loads(str(groups))),
        scopes=tuple(json.loads(str(scopes))),
        rate_per_minute=None if rate is None else float(rate),  # type: ignore[arg-type]
        created_at=float(created),  # type: ignore[arg-type]
        expires_at=None if expires is None else float(expires),  # type: ignore[arg-type]
        revoked_at=None if revoked is None else float(revoked),  # type: ignore[arg-type]
    )


def _by_hash(conn: sqlite3.Connection, digest: str) -> StoredKey:
    """The stored key with this digest (it exists: the caller has just written it)."""
    return _row(conn.execute("SELECT * FROM api_keys WHERE hash = ?", (digest,)).fetchone())


def _insert(
    conn: sqlite3.Connection,
    digest: str,
    name: str,
    agency: str | None,
    groups: Sequence[str],
    scopes: Sequence[str],
    rate_per_minute: float | None,
    expires_at: float | None,
) -> None:
    conn.execute(
        "INSERT INTO api_keys VALUES (?, ?, ?, ?, ?, ?, ?, ?, NULL)",
        (
            digest,
            name,
            agency,
            json.dumps(list(groups)),
            json.dumps(list(scopes)),
            rate_per_minute,
            time.time(),
            expires_at,
        ),
    )


class KeyStore:
    """The key file of one data directory. Thread-safe; opened lazily, so a server started before the
    first `govrag keys create` sees the keys made afterwards."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._lock = threading.Lock()
        self._conn: sqlite3.Connection | None = None

    @classmethod
    def in_home(cls, home: Path) -> KeyStore:
        """The store of the data directory `home`."""
        return cls(Path(home) / FILE_NAME)

    def _connect(self, create: bool) -> sqlite3.Connection | None:
        if self._conn is None:
            if not create and not self.path.exists():
                return None
            self.path.parent.mkdir(parents=True, exist_ok=True)
            conn = sqlite3.connect(self.path, check_same_thread=False, timeout=10, isolation_level=None)
            conn.execute("PRAGMA journal_mode=WAL")
            conn.executescript(_SCHEMA)
            self._conn = conn
        return self._conn

    def close(self) -> None:
        """Close the file (it is reopened on the next call)."""
        with self._lock:
            if self._conn is not None:
                self._conn.close()
                self._conn = None

    # -- reading ----------------------------------------------------------------------------------

    def find(self, digest: str) -> StoredKey | None:
        """The key whose SHA-256 is `digest`, whatever its state; None when unknown or no store exists."""
        with self._lock:
            conn = self._connect(create=False)
            if conn is None:
                return None
            row = conn.execute("SELECT * FROM api_keys WHERE hash = ?", (digest,)).fetchone()
        return None if row is None else _row(row)

    def keys(self, *, include_revoked: bool = False) -> list[StoredKey]:
        """The keys by name (live ones; revoked too when asked)."""
        with self._lock:
            conn = self._connect(create=False)
            if conn is None:
                return []
            where = "" if include_revoked else "WHERE revoked_at IS NULL"
            rows = conn.execute(f"SELECT * FROM api_keys {where} ORDER BY name, created_at").fetchall()
        return [_row(r) for r in rows]

    def count_active(self) -> int:
        """Keys that authenticate now."""
        return sum(1 for k in self.keys() if k.state() == "active")

    def _live(self, conn: sqlite3.Connection, name: str) -> StoredKey:
        row = conn.execute("SELECT * FROM api_keys WHERE name = ? AND revoked_at IS NULL", (name,)).fetchone()
        if row is None:
            known = [r[0] for r in conn.execute("SELECT name FROM api_keys WHERE revoked_at IS NULL")]
            hint = f"; keys: {', '.join(sorted(known))}" if known else "; there are no keys yet"
            raise KeyStoreError(f"no key named {name!r}{hint}")
        return _row(row)

    # -- writing ----------------------------------------------------------------------------------

    def create(
        self,
        name: str,
        *,
        agency: str | None = None,
        groups: list[str] | None = None,
        scopes: list[Scope] | None = None,
        rate_per_minute: float | None = None,
        expires_at: float | None = None,
        reserved: set[str] | frozenset[str] = frozenset(),
    ) -> tuple[str, StoredKey]:
        """A new key (returned once, never stored) and its record. `reserved`: names the settings use."""
        # The settings model checks the name, groups and scopes the same way for both kinds of key.
        key, digest = generate_key()
        try:
            spec = ApiKey(
                name=name,
                hash=digest,
                agency=agency,
                groups=groups if groups is not None else ["public"],
                scopes=scopes if scopes is not None else ["query"],
                rate_per_minute=rate_per_minute,
            )
        except ValueError as exc:
            raise KeyStoreError(f"key {name!r}: {exc}") from exc
        if name in reserved:
            raise KeyStoreError(f"a key named {name!r} is already configured in api.security.api_keys")
        if expires_at is not None and expires_at <= time.time():
            raise KeyStoreError(f"key {name!r}: the expiry {_day(expires_at)} is in the past")
        with self._lock:
            conn = self._connect(create=True)
            assert conn is not None
            try:
                _insert(
                    conn,
                    digest,
                    spec.name,
                    spec.agency,
                    spec.groups,
                    spec.scopes,
                    spec.rate_per_minute,
                    expires_at,
                )
            except sqlite3.IntegrityError:
                raise KeyStoreError(
                    f"a key named {name!r} exists; revoke it or rotate it (`govrag keys rotate {name}`)"
                ) from None
            stored = _by_hash(conn, digest)
        return key, stored

    def revoke(self, name: str) -> StoredKey:
        """Revoke the live key `name` (it is refused from the next request on)."""
        with self._lock:
            conn = self._connect(create=False)
            if conn is None:
                raise KeyStoreError(f"no key named {name!r}; there are no keys yet")
            found = self._live(conn, name)
            conn.execute("UPDATE api_keys SET revoked_at = ? WHERE hash = ?", (time.time(), found.hash))
            return _by_hash(conn, found.hash)

    def rotate(self, name: str, *, expires_at: float | None = None) -> tuple[str, StoredKey]:
        """A new key for `name` with the same agency, groups, scopes and rate; the old one is revoked in the
        same transaction. `expires_at` replaces the expiry (default: the old key's)."""
        with self._lock:
            conn = self._connect(create=False)
            if conn is None:
                raise KeyStoreError(f"no key named {name!r}; there are no keys yet")
            old = self._live(conn, name)
            expiry = old.expires_at if expires_at is None else expires_at
            if expiry is not None and expiry <= time.time():
                raise KeyStoreError(
                    f"key {name!r} expired on {_day(expiry)}: give a new expiry (--expires-in-days)"
                )
            key, digest = generate_key()
            conn.execute("BEGIN IMMEDIATE")
            try:
                conn.execute("UPDATE api_keys SET revoked_at = ? WHERE hash = ?", (time.time(), old.hash))
                _insert(
                    conn, digest, old.name, old.agency, old.groups, old.scopes, old.rate_per_minute, expiry
                )
                conn.execute("COMMIT")
            except BaseException:
                conn.execute("ROLLBACK")
                raise
            stored = _by_hash(conn, digest)
        return key, stored


def check_stored(found: StoredKey, now: float | None = None) -> str | None:
    """Why a stored key may not be used now (None: it may)."""
    state = found.state(now)
    if state == "revoked":
        assert found.revoked_at is not None
        return f"API key {found.name!r} was revoked on {_day(found.revoked_at)}"
    if state == "expired":
        assert found.expires_at is not None
        return f"API key {found.name!r} expired on {_day(found.expires_at)}; ask for a new one"
    return None
