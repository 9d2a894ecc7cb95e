"""A real `govrag serve` under oversized bodies keeps its memory (issue 10, item 2).

Before the request guard, three 300 MB `POST /v1/query` bodies with a bogus key took a server from 1.26 to
3.27 GB: the body was read and parsed before the key was checked. Here a served subprocess gets three
300 MB bodies with a bogus key (declared with Content-Length) and three chunked bodies without a
Content-Length from an anonymous caller, over raw sockets (the client holds 1 MB, not 300), and its
resident memory is read from /proc before and after. Each is refused (401 / 413) in the documented error
shape, and the server's memory grows by less than a few times the body cap.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx
import pytest
from api_support import SampleIndex, clone_home, free_port

pytest_plugins = ["api_fixtures"]

pytestmark = pytest.mark.skipif(not Path("/proc/self/status").exists(), reason="needs /proc (Linux)")

MB = 1024 * 1024
BODY = 300 * MB
SLACK = 48 * MB  # allocator noise, per-connection buffers; the unguarded server grew by > 600 MB per body


def _rss(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    raise AssertionError(f"no VmRSS for pid {pid}")


def _post(port: int, headers: list[str], chunked: bool) -> tuple[int, dict[str, Any], int]:
    """Send a 300 MB body (stopping when the server hangs up); the status, JSON body and bytes sent."""
    block = b"x" * MB
    sent = 0
    with socket.create_connection(("127.0.0.1", port), timeout=30) as s:
        head = ["POST /v1/query HTTP/1.1", f"Host: 127.0.0.1:{port}", "Content-Type: application/json"]
        s.sendall(("\r\n".join(head + headers) + "\r\n\r\n").encode())
        try:
            while sent < BODY:
                if chunked:
                    s.sendall(f"{len(block):x}\r\n".encode() + block + b"\r\n")
                else:
                    s.sendall(block)
                sent += len(block)
            if chunked:
                s.sendall(b"0\r\n\r\n")
        except (BrokenPipeError, ConnectionResetError, TimeoutError):
            pass  # the server answered and closed: the point of the test
        raw = b""
        try:
            while chunk := s.recv(65536):
                raw += chunk
        except (ConnectionResetError, TimeoutError):
            pass
    head_bytes, _, body = raw.partition(b"\r\n\r\n")
    status = int(head_bytes.split(b" ", 2)[1]) if head_bytes else 0
    return status, json.loads(body) if body else {}, sent


def _wait_healthy(url: str, proc: subprocess.Popen[Any], timeout: float = 600) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert proc.poll() is None, f"govrag serve exited with {proc.returncode}"
        try:
            if httpx.get(f"{url}/healthz", timeout=2).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.3)
    raise AssertionError(f"govrag serve did not answer /healthz within {timeout} s")


def test_oversized_bodies_do_not_grow_a_served_process(
    sample_index: SampleIndex, tmp_path_factory: pytest.TempPathFactory
) -> None:
    home = clone_home(sample_index.home, tmp_path_factory.mktemp("body-memory-home"))
    port = free_port()
    env = {**os.environ, "GOVRAG_API__SECURITY__ANONYMOUS_RATE_PER_MINUTE": "0"}
    cmd = [sys.executable, "-m", "govrag.cli", "serve", "--home", str(home), "--port", str(port)]
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    try:
        _wait_healthy(url, proc)
        # Warm the process up (first search loads what a search needs) before the baseline.
        assert httpx.post(f"{url}/v1/search", json={"query": "passport fee"}, timeout=120).status_code == 200
        before = _rss(proc.pid)
        peak = before
        for _ in range(3):
            status, body, sent = _post(
                port, ["Authorization: Bearer grk_not_a_key", f"Content-Length: {BODY}"], chunked=False
            )
            peak = max(peak, _rss(proc.pid))
            assert (status, body["error"]["code"]) == (401, "unauthorized"), (status, body)
            assert sent < BODY  # the server hung up instead of reading it all
        for _ in range(3):
            status, body, sent = _post(port, ["Transfer-Encoding: chunked"], chunked=True)
            peak = max(peak, _rss(proc.pid))
            assert (status, body["error"]["code"]) == (413, "body_too_large"), (status, body)
            assert "limit is 65,536 (api.limits.max_body_bytes)" in body["error"]["message"]
            assert sent < BODY
        after = _rss(proc.pid)
        # The server still answers.
        assert httpx.post(f"{url}/v1/search", json={"query": "passport fee"}, timeout=120).status_code == 200
    finally:
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
    print(f"RSS before {before / MB:.0f} MB, peak {peak / MB:.0f} MB, after {after / MB:.0f} MB")
    assert peak - before < SLACK, (before, peak, after)
