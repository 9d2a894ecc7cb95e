"""An exclusive, process-level lock on an embedded index folder.

Qdrant Edge holds a lock on its write-ahead log, so a second opener fails, but with a bare
"WouldBlock" that names neither the folder nor the holder. This lock file is taken *before* the shard
is opened and records who holds it (pid, host, command line), so the error can say which process to
stop. `fcntl.flock` locks are released by the kernel when the holder dies: no stale locks.
"""

from __future__ import annotations

import fcntl
import json
import logging
import os
import socket
import sys
import time
from pathlib import Path

from indices.errors import IndexLockedError

logger = logging.getLogger(__name__)

LOCK_NAME = ".govrag.lock"


class FolderLock:
    """Holds `<folder>/.govrag.lock` exclusively until `release()` (or the process ends)."""

    def __init__(self, folder: Path) -> None:
        """Take the lock or raise `IndexLockedError` naming the folder and the holder."""
        self.folder = folder
        self.path = folder / LOCK_NAME
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as exc:
            holder = _read_holder(fd)
            os.close(fd)
            raise locked_error(folder, holder) from exc
        self._fd: int | None = fd
        info = {
            "pid": os.getpid(),
            "host": socket.gethostname(),
            "cmd": " ".join(sys.argv)[:300],
            "since": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        }
        os.ftruncate(fd, 0)
        os.pwrite(fd, json.dumps(info).encode(), 0)
        logger.debug("locked %s", self.path)

    def release(self) -> None:
        """Release the lock (idempotent)."""
        if self._fd is None:
            return
        fd, self._fd = self._fd, None
        try:
            os.ftruncate(fd, 0)
            fcntl.flock(fd, fcntl.LOCK_UN)
        finally:
            os.close(fd)
        logger.debug("unlocked %s", self.path)


def check_unlocked(folder: Path) -> None:
    """Raise `IndexLockedError` now if another process holds `folder` (no-op when it has no lock file).

    A cheap early check for commands that would otherwise load a model for seconds before opening the
    index and finding it locked; the real lock is still taken when the index is opened.
    """
    path = folder / LOCK_NAME
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
        except OSError as exc:
            raise locked_error(folder, _read_holder(fd)) from exc
        fcntl.flock(fd, fcntl.LOCK_UN)
    finally:
        os.close(fd)


def _read_holder(fd: int) -> str:
    """A human description of the process recorded in the lock file, or "unknown"."""
    try:
        raw = os.pread(fd, 4096, 0)
        info = json.loads(raw.decode() or "{}")
    except (OSError, ValueError):
        return "unknown process"
    if not info:
        return "unknown process"
    return f"pid {info.get('pid')} on {info.get('host')} since {info.get('since')}: {info.get('cmd')}"


def locked_error(folder: Path, holder: str) -> IndexLockedError:
    """The error raised when another process holds `folder`."""
    return IndexLockedError(
        f"The index folder {folder} is in use by another process ({holder}). The embedded index "
        "allows one process at a time: stop that process (e.g. a running `govrag serve` or "
        "`govrag ingest`), or use the server backend for shared access."
    )
