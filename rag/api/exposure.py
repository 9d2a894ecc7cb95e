"""What callers may learn about the server: the sources they are shown and the address they are limited by.

Sources. A document ingested from a folder is stored with its absolute `file://` URI on the ingest
machine (`file:///srv/shared/moh/circulars/2026-03.pdf`); that path tells an outsider how the agency's
file server is laid out. Callers without the admin scope see instead, in this order:

1. a public URL when `api.public_urls` maps a prefix of the source (`file:///srv/shared/moh/` ->
   `https://intranet.moh.example/docs/`), so the widget can link to the document;
2. for a local file, its path relative to the ingest root (`circulars/2026-03.pdf`); chunks ingested
   before the root was recorded as a URI show the path from the root folder's name on, or only the file
   name;
3. any other source (`https://...` pages) unchanged.

Client address. Anonymous callers are rate-limited per client address. Behind a reverse proxy every
request comes from the proxy, so `X-Forwarded-For` is read, but only when the connection comes from an
address in `api.security.trusted_proxies`: the client is the right-most forwarded address that is not a
trusted proxy (anyone can prepend addresses to the header; only the proxies' own entries are trusted).
"""

from __future__ import annotations

import ipaddress
import posixpath
import re
from collections.abc import Mapping, Sequence
from urllib.parse import unquote, urlsplit

_WINDOWS_PATH = re.compile(r"^[A-Za-z]:[\\/]")
Network = ipaddress.IPv4Network | ipaddress.IPv6Network


def _local_path(source: str) -> str | None:
    """The file-system path of a local source (a `file:` URI or an absolute path), else None."""
    if source.startswith("file:"):
        return unquote(urlsplit(source).path)
    if source.startswith("/") or _WINDOWS_PATH.match(source):
        return source.replace("\\", "/")
    return None


def public_source(source: str, root: str = "", public_urls: Mapping[str, str] | None = None) -> str:
    """The form of `source` shown to callers without the admin scope (see the module docstring).

    `root` is the ingest root the chunk was stored with: a `file:` URI of the folder or export file, or (older
    chunks) the root folder's name; empty when unknown.
    """
    for prefix in sorted(public_urls or {}, key=len, reverse=True):
        if prefix and source.startswith(prefix):
            return (public_urls or {})[prefix] + source[len(prefix) :]
    path = _local_path(source)
    if path is None:
        return source
    name = posixpath.basename(path.rstrip("/"))
    root_path = _local_path(root) if root else None
    if root_path is not None:
        base = root_path.rstrip("/")
        if path.startswith(base + "/"):
            return path[len(base) + 1 :]
        return name
    if root and f"/{root}/" in path:  # a root folder's name (older chunks)
        return root + "/" + path.rsplit(f"/{root}/", 1)[1]
    return name


def parse_networks(values: Sequence[str]) -> list[Network]:
    """Addresses and CIDR blocks as networks (`ValueError` naming the bad entry)."""
    nets: list[Network] = []
    for value in values:
        try:
            nets.append(ipaddress.ip_network(value.strip(), strict=False))
        except ValueError as exc:
            raise ValueError(f"{value!r} is not an IP address or CIDR block: {exc}") from exc
    return nets


def _in(address: str, networks: Sequence[Network]) -> bool:
    try:
        ip = ipaddress.ip_address(address.strip())
    except ValueError:
        return False
    return any(ip in net for net in networks)


def client_address(peer: str | None, forwarded_for: str | None, trusted: Sequence[Network]) -> str:
    """The caller's address: the peer, or behind trusted proxies the right-most untrusted forwarded one."""
    address = peer or "unknown"
    if not forwarded_for or not _in(address, trusted):
        return address
    for hop in reversed([h.strip() for h in forwarded_for.split(",") if h.strip()]):
        if not _in(hop, trusted):
            return hop if _valid(hop) else address
        address = hop
    return address


def _valid(address: str) -> bool:
    try:
        ipaddress.ip_address(address)
    except ValueError:
        return False
    return True
