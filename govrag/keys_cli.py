"""`govrag keys create|list|revoke|rotate`: API keys in the data directory's key store (`rag.api.keystore`).

A key is printed once, when it is created or rotated; only its SHA-256 is stored. `govrag serve` reads
the store on each request, so a new key works and a revoked one stops at once, without a restart. Keys
in the settings (`api.security.api_keys`) keep working beside these and are listed with them.
"""

from __future__ import annotations

import json
import time
from typing import Annotated, Any

import typer
from rich.table import Table

from govrag.cli_common import ConfigOpt, HomeOpt, JsonOpt, _fail, _settings, console, out, utc_minute

keys_app = typer.Typer(
    help="Create, list, rotate and revoke API keys (stored hashed in the data directory).",
    no_args_is_help=True,
    add_completion=False,
)

ExpiresOpt = Annotated[
    float | None,
    typer.Option("--expires-in-days", min=0.001, help="The key stops working after this many days."),
]


def _expiry(days: float | None) -> float | None:
    return time.time() + days * 86400 if days else None


def _store(config: Any, home: Any) -> Any:
    from rag.api.keystore import KeyStore

    settings = _settings(config, home)
    return settings, KeyStore.in_home(settings.home)


def _record(k: Any) -> dict[str, Any]:
    return {
        "name": k.name,
        "agency": k.agency,
        "groups": list(k.groups),
        "scopes": list(k.scopes),
        "rate_per_minute": k.rate_per_minute,
        "created_at": utc_minute(k.created_at),
        "expires_at": utc_minute(k.expires_at) or None,
        "state": k.state(),
        "source": "store",
    }


def _issued(key: str, k: Any, as_json: bool, verb: str) -> None:
    if as_json:
        out.print_json(json.dumps({"key": key, **_record(k)}))
        return
    console.print(f"{verb} key [bold]{k.name}[/bold]; give it to its holder now, it is not shown again:")
    out.print(key, markup=False, highlight=False, soft_wrap=True)
    scope = f"scopes {','.join(k.scopes)}; groups {','.join(k.groups) or '-'}"
    console.print(f"{scope}; agency {k.agency or '-'}; expires {utc_minute(k.expires_at) or 'never'}")


@keys_app.command()
def create(
    name: Annotated[str, typer.Argument(help="Who holds it (logs, audit, rate limits).")],
    agency: Annotated[
        str | None, typer.Option(help="Its agency (audit; an admin key administers only this agency).")
    ] = None,
    group: Annotated[
        list[str] | None,
        typer.Option("--group", help="An access group it may read (repeat; default public)."),
    ] = None,
    scope: Annotated[
        list[str] | None, typer.Option("--scope", help="query and/or admin (repeat; default query).")
    ] = None,
    rate_per_minute: Annotated[
        float | None, typer.Option(min=0, help="Its rate limit (default: api.security.rate_per_minute).")
    ] = None,
    expires_in_days: ExpiresOpt = None,
    as_json: JsonOpt = False,
    config: ConfigOpt = None,
    home: HomeOpt = None,
) -> None:
    """Make a key and print it once."""
    from rag.api.keystore import KeyStoreError

    settings, store = _store(config, home)
    expires = _expiry(expires_in_days)
    reserved = {k.name for k in settings.api.security.api_keys}
    try:
        key, k = store.create(
            name,
            agency=agency,
            groups=group,
            scopes=scope,  # checked by the settings model (query, admin)
            rate_per_minute=rate_per_minute,
            expires_at=expires,
            reserved=reserved,
        )
    except KeyStoreError as exc:
        raise _fail(str(exc)) from exc
    finally:
        store.close()
    _issued(key, k, as_json, "created")


@keys_app.command("list")
def list_keys(
    all_keys: Annotated[bool, typer.Option("--all", help="Also revoked keys.")] = False,
    as_json: JsonOpt = False,
    config: ConfigOpt = None,
    home: HomeOpt = None,
) -> None:
    """The keys that exist: stored ones (with state and expiry) and those in the settings."""
    settings, store = _store(config, home)
    try:
        rows = [_record(k) for k in store.keys(include_revoked=all_keys)]
    finally:
        store.close()
    for k in settings.api.security.api_keys:
        rows.append(
            {
                "name": k.name,
                "agency": k.agency,
                "groups": list(k.groups),
                "scopes": list(k.scopes),
                "rate_per_minute": k.rate_per_minute,
                "created_at": None,
                "expires_at": None,
                "state": "active",
                "source": "settings",
            }
        )
    if as_json:
        out.print_json(json.dumps({"keys": rows}))
        return
    table = Table(title=f"{len(rows)} API keys")
    for col in ("name", "state", "scopes", "groups", "agency", "expires (UTC)", "created (UTC)", "source"):
        table.add_column(col)
    for r in rows:
        table.add_row(
            r["name"],
            r["state"],
            ",".join(r["scopes"]),
            ",".join(r["groups"]),
            r["agency"] or "",
            r["expires_at"] or "",
            r["created_at"] or "",
            r["source"],
        )
    out.print(table)


@keys_app.command()
def revoke(
    name: Annotated[str, typer.Argument(help="The key's name.")],
    as_json: JsonOpt = False,
    config: ConfigOpt = None,
    home: HomeOpt = None,
) -> None:
    """Revoke a stored key: refused from the next request on."""
    from rag.api.keystore import KeyStoreError

    settings, store = _store(config, home)
    if name in {k.name for k in settings.api.security.api_keys}:
        raise _fail(
            f"{name!r} is configured in api.security.api_keys: remove it there and restart the server"
        )
    try:
        k = store.revoke(name)
    except KeyStoreError as exc:
        raise _fail(str(exc)) from exc
    finally:
        store.close()
    if as_json:
        out.print_json(json.dumps(_record(k)))
    else:
        console.print(f"revoked key [bold]{k.name}[/bold] at {utc_minute(k.revoked_at)} UTC")


@keys_app.command()
def rotate(
    name: Annotated[str, typer.Argument(help="The key's name.")],
    expires_in_days: ExpiresOpt = None,
    as_json: JsonOpt = False,
    config: ConfigOpt = None,
    home: HomeOpt = None,
) -> None:
    """Replace a stored key by a new one with the same rights; the old one stops working at once."""
    from rag.api.keystore import KeyStoreError

    _, store = _store(config, home)
    expires = _expiry(expires_in_days)
    try:
        key, k = store.rotate(name, expires_at=expires)
    except KeyStoreError as exc:
        raise _fail(str(exc)) from exc
    finally:
        store.close()
    _issued(key, k, as_json, "rotated")
