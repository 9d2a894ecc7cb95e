"""A private PostgreSQL server for the tests of the shared audit log (loaded as a pytest plugin).

Debian's `postgresql` package provides the binaries; the fixture makes its own cluster in a temp folder
(trust authentication on loopback, no fsync: the tests are about commits, not disks), listening on a free
port, and stops it at the end of the session. As root the server runs as the `postgres` user (PostgreSQL
refuses root). Without the binaries the tests are skipped with the reason, unless
`GOVRAG_REQUIRE_POSTGRES=1` (CI), where that fails.
"""

from __future__ import annotations

import glob
import itertools
import os
import shutil
import subprocess
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from api_support import free_port


def _bindir() -> Path | None:
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"), key=lambda p: int(Path(p).parts[4]))
    if found:
        return Path(found[-1]).parent
    initdb = shutil.which("initdb")
    return Path(initdb).parent if initdb else None


@pytest.fixture(scope="session")
def postgres_database() -> Iterator[Callable[[], str]]:
    """Factory: a URL of a new, empty database on the session's PostgreSQL server."""
    bindir = _bindir()
    if bindir is None:
        reason = "PostgreSQL is not installed (Debian: apt-get install postgresql; make system-deps)"
        if os.environ.get("GOVRAG_REQUIRE_POSTGRES") == "1":
            pytest.fail(f"GOVRAG_REQUIRE_POSTGRES=1 but {reason}")
        pytest.skip(reason)
    import psycopg

    folder = Path(tempfile.mkdtemp(prefix="govrag-pg-"))
    as_user: list[str] = []
    if os.geteuid() == 0:
        shutil.chown(folder, "postgres", "postgres")
        as_user = ["runuser", "-u", "postgres", "--"]
    port = free_port()
    data = folder / "data"
    run = {"check": True, "capture_output": True, "timeout": 120}
    subprocess.run([*as_user, str(bindir / "initdb"), "-D", str(data), "-A", "trust", "-U", "govrag",
                    "-E", "UTF8", "--no-sync"], **run)  # type: ignore[call-overload]  # fmt: skip
    options = f"-p {port} -k {folder} -c listen_addresses=127.0.0.1 -c fsync=off"
    subprocess.run([*as_user, str(bindir / "pg_ctl"), "-D", str(data), "-o", options, "-l",
                    str(folder / "server.log"), "-w", "-t", "60", "start"], **run)  # type: ignore[call-overload]  # fmt: skip
    base = f"postgresql://govrag@127.0.0.1:{port}"
    counter = itertools.count()

    def new_database() -> str:
        name = f"audit_{next(counter)}"
        with psycopg.connect(f"{base}/postgres", autocommit=True) as conn:
            conn.execute(f"CREATE DATABASE {name}")
        return f"{base}/{name}"

    try:
        yield new_database
    finally:
        subprocess.run([*as_user, str(bindir / "pg_ctl"), "-D", str(data), "-m", "immediate", "stop"],
                       capture_output=True, timeout=60, check=False)  # fmt: skip
        shutil.rmtree(folder, ignore_errors=True)
