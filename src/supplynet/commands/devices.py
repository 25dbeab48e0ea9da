"""``supplynet devices``: the device registry.

    supplynet devices add rf-1 --measures temperature --asset REEFER-1 --interval 60
    supplynet devices add gw-7 --measures stock_count,sale --any-site   # relays for several sites
    supplynet devices add --network network.yaml --all      # every device of the network
    supplynet devices add operator:alice --operator --key-out alice.key
    supplynet devices add pos-7 --measures sale --site S1 --scheme hmac-sha256   # symmetric key
    supplynet devices list
    supplynet devices rotate rf-1 --overlap 86400
    supplynet devices revoke rf-1

``add`` and ``rotate`` print the credential as JSON once (the platform keeps only the public key;
with ``--scheme hmac-sha256`` it keeps the secret sealed under the vault key, see
:mod:`supplynet.security.vault`).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from supplynet.errors import DataError

from .options import StoreOpt

if TYPE_CHECKING:
    from supplynet.security.devices import DeviceRegistry
    from supplynet.store import Store

app = typer.Typer(help="Device registry: provision, list, rotate keys, revoke.", no_args_is_help=True)


def _registry(store_url: str | None, *, readonly: bool = False) -> tuple[Store, DeviceRegistry]:
    from supplynet.config import Settings
    from supplynet.security.devices import DeviceRegistry
    from supplynet.store import open_store

    from .tokens import cli_actor

    st = open_store(store_url or Settings().resolved_store_url(), readonly=readonly)
    return st, DeviceRegistry(st.devices.acting_as(cli_actor()))  # every change audited


def _print(obj: Any) -> None:
    sys.stdout.write(json.dumps(obj, indent=2) + "\n")


_DEVICE = ("; platform_key verifies the platform's acknowledgements, mqtt_password logs in to the broker "
           "(supplynet ingest acl)")
_ONCE = "shown once: the platform keeps only the public key; store the private key on the device" + _DEVICE
_ONCE_HMAC = ("shown once: the platform keeps the secret only sealed under its vault key; store it on the device "
              "(every gateway needs the same vault key)" + _DEVICE)
SchemeOpt = Annotated[str | None, typer.Option(help="key scheme: ed25519 (default; the platform keeps only the "
                                                    "public key) or hmac-sha256 (symmetric: ~20x cheaper to verify "
                                                    "per message; the secret is sealed under the vault key); with "
                                                    "--network, default: the device entry's scheme")]


def _once(cred: Any) -> str:
    return _ONCE_HMAC if cred.scheme == "hmac-sha256" else _ONCE


@app.command()
def add(device_id: Annotated[str | None, typer.Argument(help="device id (letters, digits, _ . : @ -)")] = None,
        kind: Annotated[str | None, typer.Option(help="device kind, e.g. temperature_logger")] = None,
        measures: Annotated[str, typer.Option(help="comma-separated quantities it measures, e.g. "
                                                   "temperature,humidity")] = "",
        asset: Annotated[str | None, typer.Option(help="asset it is bound to (truck, reefer, machine)")] = None,
        site: Annotated[str | None, typer.Option(help="site it is bound to (store, DC)")] = None,
        any_site: Annotated[bool, typer.Option("--any-site", help="bound to no asset or site: may report for "
                                                                  "any (a gateway relaying for several sites); "
                                                                  "every other device needs --asset or --site")] = False,
        interval: Annotated[float | None, typer.Option(min=0.001, max=1e7, help="expected report interval in seconds")] = None,
        network: Annotated[Path | None, typer.Option(help="network YAML: take kind, measures, binding, interval "
                                                          "from its device entry")] = None,
        all_devices: Annotated[bool, typer.Option("--all", help="with --network: every device in it")] = False,
        operator: Annotated[bool, typer.Option("--operator", help="an operator key (signs file imports)")] = False,
        key_out: Annotated[Path | None, typer.Option(help="also write the private key to this file (mode 600)")] = None,
        scheme: SchemeOpt = None,
        store: StoreOpt = None) -> None:
    """Provision a device (or operator) and print its credential once."""
    specs: list[dict[str, Any]] = []
    if network is not None:
        from supplynet.model import load_network

        net = load_network(network)
        by_id = {d.id: d for d in net.devices}
        ids = list(by_id) if all_devices else ([device_id] if device_id else [])
        if not ids:
            raise DataError("give a DEVICE_ID from the network file, or --all")
        for i in ids:
            if i not in by_id:
                raise DataError(f"device {i!r} is not in {network} (devices: {', '.join(sorted(by_id)[:10])} ...)")
            d = by_id[i]
            specs.append({"device_id": d.id, "kind": d.kind, "measures": list(d.measures), "asset": d.bound_to.asset,
                          "site": d.bound_to.site, "report_interval_s": d.report_interval_s,
                          "scheme": scheme or d.scheme})
    else:
        if not device_id:
            raise DataError("give a DEVICE_ID (or --network FILE --all)")
        specs.append({"device_id": device_id, "kind": "operator" if operator else kind,
                      "measures": [m.strip() for m in measures.split(",") if m.strip()], "asset": asset, "site": site,
                      "report_interval_s": interval, "scheme": scheme or "ed25519", "any_site": any_site})
    st, reg = _registry(store)
    with st:
        creds = [reg.provision(**s) for s in specs]
    out = [{**c.to_dict(), "note": _once(c)} for c in creds]
    if key_out is not None:
        if len(creds) != 1:
            raise DataError("--key-out works with one device at a time")
        key_out.write_text(creds[0].private_key + "\n")
        key_out.chmod(0o600)
    _print(out[0] if len(out) == 1 else out)


@app.command("list")
def list_(store: StoreOpt = None,
          as_json: Annotated[bool, typer.Option("--json", help="a JSON array, every key of every device")] = False,
          ) -> None:
    """Registered devices with their bindings and current key (no secrets): a table, or JSON with --json."""
    from supplynet.events import us_to_ts

    st, reg = _registry(store, readonly=True)
    with st:
        recs = reg.list()
    rows = []
    for r in recs:
        rows.append({"device_id": r.device_id, "kind": r.kind, "measures": list(r.measures), "asset": r.asset,
                     "site": r.site, "any_site": r.any_site, "report_interval_s": r.report_interval_s,
                     "revoked_at": us_to_ts(r.revoked_at_us).isoformat() if r.revoked_at_us else None,
                     "keys": [{"kid": k.kid, "scheme": k.scheme, "not_before": us_to_ts(k.not_before_us).isoformat(),
                               "not_after": us_to_ts(k.not_after_us).isoformat() if k.not_after_us else None}
                              for k in r.keys]})
    if as_json:
        _print(rows)
        return
    if not rows:
        typer.echo("no devices (add one with supplynet devices add)")
        return
    from rich.console import Console

    from .tables import Col, make_table

    body = []
    for r in recs:
        bound = "any site" if r.any_site else ", ".join(x for x in (r.site, r.asset) if x)
        live = [k for k in r.keys if k.not_after_us is None] or list(r.keys[-1:])
        key = live[0].kid + ("" if live[0].scheme == "ed25519" else f" {live[0].scheme}") if live else ""
        more = len(r.keys) - len(live)
        revoked_on = us_to_ts(r.revoked_at_us).date().isoformat() if r.revoked_at_us else ""
        body.append([r.device_id, bound, ", ".join(r.measures), key + (f" +{more}" if more else ""), revoked_on])
    cols = [Col("device"), Col("site/asset"), Col("measures"), Col("key", fold=False), Col("revoked", fold=False)]
    revoked = sum(1 for r in recs if r.revoked_at_us)
    caption = "key: the current key id (+n: n older keys); --json shows every key and the device kinds"
    Console(soft_wrap=False).print(make_table(cols, body, title=f"devices: {len(rows)}"
                                              + (f", {revoked} revoked" if revoked else ""), caption=caption))


@app.command()
def rotate(device_id: Annotated[str, typer.Argument(help="device id")],
           overlap: Annotated[float, typer.Option(min=0, max=3.2e7, help="seconds the current key stays valid")] = 86400.0,
           scheme: Annotated[str | None, typer.Option(help="the new key's scheme (default: the current key's): "
                                                           "ed25519 or hmac-sha256")] = None,
           store: StoreOpt = None) -> None:
    """Give the device a new key; the old one stays valid for the overlap. Prints the new credential once."""
    st, reg = _registry(store)
    with st:
        cred = reg.rotate(device_id, overlap_s=overlap, scheme=scheme)
    _print({**cred.to_dict(), "note": _once(cred), "old_keys_valid_for_s": overlap})


@app.command()
def revoke(device_id: Annotated[str, typer.Argument(help="device id")], store: StoreOpt = None) -> None:
    """Refuse every message of the device from its next one on."""
    from supplynet.events import us_to_ts

    st, reg = _registry(store)
    with st:
        rec = reg.revoke(device_id)
    _print({"device_id": device_id, "revoked_at": us_to_ts(rec.revoked_at_us or 0).isoformat()})
