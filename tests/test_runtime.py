"""Process-wide runtime setup (govrag.components.configure_runtime)."""

from __future__ import annotations

import platform
import subprocess
import sys

import pytest

from govrag import components
from govrag.settings import Settings


@pytest.mark.skipif(platform.libc_ver()[0] != "glibc", reason="mallopt is glibc's")
def test_malloc_threshold_is_applied_only_when_set(monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[int] = []
    monkeypatch.setattr(components, "_set_malloc_mmap_threshold", lambda size: calls.append(size) or True)
    components.configure_runtime(Settings(malloc_mmap_threshold_kb=256))
    components.configure_runtime(Settings(malloc_mmap_threshold_kb=0))
    components.configure_runtime(Settings(malloc_mmap_threshold_kb=None))
    assert calls == [256 * 1024]


@pytest.mark.skipif(platform.libc_ver()[0] != "glibc", reason="mallopt is glibc's")
def test_mallopt_is_accepted_by_glibc() -> None:
    out = subprocess.run(
        [
            sys.executable,
            "-c",
            "from govrag.components import _set_malloc_mmap_threshold as s; print(s(131072))",
        ],
        capture_output=True,
        text=True,
        check=True,
    )
    assert out.stdout.strip() == "True"
