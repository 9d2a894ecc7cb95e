"""Parser processes die with the process that started them, even when it is killed with SIGKILL.

A `kill -9` (or an OOM kill) of `govrag ingest` runs no cleanup: a spawned pool worker blocked on its task
queue, or busy in a C parser, lived on for minutes holding ~450 MB and the terminal's pipes, and with it
the multiprocessing resource tracker (it exits when the last holder of its pipe does). Two mechanisms,
because each has a gap:

* Linux's parent-death signal (`prctl(PR_SET_PDEATHSIG, SIGKILL)`): the kernel kills the worker the moment
  its parent dies, even while it is inside C code. It fires when the *thread* that created the worker
  exits, and does not exist off Linux;
* a watchdog thread that polls `os.getppid()` every `WATCH_INTERVAL_S` and kills its own process when the
  parent changed (re-parented to init or a subreaper).

Subprocesses a parser runs (Tesseract) get the same signal through `setpriv --pdeathsig KILL` where
util-linux's `setpriv` exists (`pdeathsig_argv`).
"""

from __future__ import annotations

import ctypes
import logging
import multiprocessing as mp
import os
import shutil
import signal
import sys
import threading
import time
from functools import lru_cache

logger = logging.getLogger(__name__)

PR_SET_PDEATHSIG = 1
#: Seconds between two looks of the watchdog at the parent pid.
WATCH_INTERVAL_S = 0.5


def _set_pdeathsig(sig: int) -> bool:
    """Ask the kernel to send `sig` to this process when its parent dies (Linux only)."""
    if not sys.platform.startswith("linux"):
        return False
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        return int(libc.prctl(PR_SET_PDEATHSIG, int(sig), 0, 0, 0)) == 0
    except (OSError, AttributeError):  # pragma: no cover - no libc symbol
        return False


def _watch(parent: int) -> None:
    while True:
        time.sleep(WATCH_INTERVAL_S)
        if os.getppid() != parent:
            os.kill(os.getpid(), signal.SIGKILL)


def die_with_parent() -> None:
    """Make this (spawned) process die when its parent does; call first thing in a pool initializer."""
    parent_proc = mp.parent_process()
    parent = parent_proc.pid if parent_proc is not None and parent_proc.pid else os.getppid()
    _set_pdeathsig(signal.SIGKILL)
    if os.getppid() != parent:  # the parent died before the signal was armed
        os.kill(os.getpid(), signal.SIGKILL)
    threading.Thread(target=_watch, args=(parent,), name="parent-watch", daemon=True).start()


@lru_cache(maxsize=1)
def _setpriv() -> str | None:
    exe = shutil.which("setpriv")
    if exe is None or not sys.platform.startswith("linux"):
        return None
    return exe


def pdeathsig_argv(argv: list[str]) -> list[str]:
    """`argv` run so that it is killed when the calling process dies (unchanged without `setpriv`)."""
    exe = _setpriv()
    return [exe, "--pdeathsig", "KILL", "--", *argv] if exe else argv
