"""``supplynet ingest``: run a gateway worker, replay history files, sign files.

    supplynet ingest mqtt [--host 127.0.0.1 --port 1883 --client-id gw-0 --group gw]
    supplynet ingest mqtt --port 8883 --tls-ca certs/ca.crt --username gateway   # TLS; password derived
    supplynet ingest acl [--out DIR]          # the broker's acl and passwd files from the registry
    supplynet ingest file history.csv --operator-key alice.key --kind condition --unit temperature=degC
    supplynet ingest sign history.csv --operator-key alice.key

``file`` prints a JSON report (rows, envelopes, outcomes per reason).
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Annotated

import typer

from supplynet.errors import DataError

from .options import StoreOpt

app = typer.Typer(help="Ingestion gateway: MQTT worker, file replay, operator file signatures.",
                  no_args_is_help=True)


def _pairs(values: list[str] | None, opt: str) -> dict[str, str]:
    out = {}
    for v in values or []:
        k, sep, w = v.partition("=")
        if not sep or not k or not w:
            raise DataError(f"{opt} {v!r}: expected NAME=VALUE")
        out[k.strip()] = w.strip()
    return out


@app.command()
def mqtt(host: Annotated[str | None, typer.Option(help="broker host (default SUPPLYNET_MQTT_HOST)")] = None,
         port: Annotated[int | None, typer.Option(min=1, max=65535, help="broker port (default SUPPLYNET_MQTT_PORT)")] = None,
         client_id: Annotated[str, typer.Option(help="MQTT client id: keep it stable across restarts "
                                                     "(persistent session)")] = "gw-0",
         group: Annotated[str, typer.Option(help="shared-subscription group ('' = plain subscription)")] = "gw",
         username: Annotated[str | None, typer.Option(help="broker user name")] = None,
         password: Annotated[str | None, typer.Option(help="broker password (default with --username: the one "
                                                          "`ingest acl` derived from the vault key)",
                                                     envvar="SUPPLYNET_MQTT_PASSWORD")] = None,
         rate: Annotated[float, typer.Option(min=0.001, max=1e9, help="per-device rate limit, messages/s")] = 50.0,
         tls_ca: Annotated[Path | None, typer.Option(help="connect over TLS, trusting this CA (supplynet certs "
                                                          "init makes ca.crt)")] = None,
         tls_cert: Annotated[Path | None, typer.Option(help="TLS client certificate (brokers that require one)")] = None,
         tls_key: Annotated[Path | None, typer.Option(help="TLS client key")] = None,
         store: StoreOpt = None) -> None:
    """Run one gateway worker until interrupted (start several with the same --group to share load)."""
    from supplynet.config import Settings
    from supplynet.ingest.gate import Gate, GateConfig
    from supplynet.ingest.mqtt import GatewayWorker, TlsOptions
    from supplynet.security.broker import mqtt_password
    from supplynet.store import open_store

    settings = Settings()
    tls = TlsOptions(tls_ca, tls_cert, tls_key) if tls_ca else None
    if (tls_cert or tls_key) and tls is None:
        raise DataError("--tls-cert and --tls-key need --tls-ca")
    with open_store(store or settings.resolved_store_url()) as st:
        gate = Gate(st, config=GateConfig(rate_per_s=rate, burst=max(rate * 4, 1.0)), monitor=True)
        if username and password is None:
            password = mqtt_password(gate.registry.vault(), username)
        worker = GatewayWorker(gate, host=host or settings.mqtt_host, port=port or settings.mqtt_port,
                               client_id=client_id, shared_group=group or None, username=username, password=password,
                               tls=tls)
        typer.echo(f"gateway {client_id}: {worker.host}:{worker.port} topic {worker.topic}; Ctrl-C to stop", err=True)
        try:
            worker.run()
        except KeyboardInterrupt:
            pass


@app.command()
def file(path: Annotated[Path, typer.Argument(help="CSV, JSONL, Parquet or GPX file")],
         operator_key: Annotated[Path, typer.Option(help="operator private key file (supplynet devices add "
                                                         "operator:NAME --operator --key-out FILE)")],
         fmt: Annotated[str | None, typer.Option("--format", help="csv | jsonl | parquet | gpx (default: suffix)")] = None,
         source: Annotated[str | None, typer.Option(help="source/device id for every row")] = None,
         kind: Annotated[str | None, typer.Option(help="event kind for every row (condition, position, ...)")] = None,
         unit: Annotated[list[str] | None, typer.Option(help="FIELD=UNIT of the file's values; repeatable")] = None,
         rename: Annotated[list[str] | None, typer.Option(help="COLUMN=FIELD; repeatable")] = None,
         seq_offset: Annotated[int, typer.Option(help="added to every sequence number")] = 0,
         require_signature: Annotated[bool, typer.Option(help="refuse the file unless FILE.sig verifies")] = False,
         store: StoreOpt = None) -> None:
    """Replay a history file through the gate as a trusted import; prints a JSON report."""
    from rich.console import Console
    from rich.progress import Progress

    from supplynet.config import Settings
    from supplynet.ingest.gate import Gate
    from supplynet.ingest.replay import replay_file
    from supplynet.security.signing import OperatorKey
    from supplynet.store import open_store

    key = OperatorKey.load(operator_key)
    with open_store(store or Settings().resolved_store_url()) as st, \
            Progress(console=Console(stderr=True), transient=True) as bar:
        task = bar.add_task(f"replaying {path.name} (envelopes)", total=None)
        rep = replay_file(path, Gate(st), key, fmt=fmt, source=source, kind=kind, units=_pairs(unit, "--unit"),
                          rename=_pairs(rename, "--rename"), seq_offset=seq_offset,
                          require_file_signature=require_signature, progress=lambda n: bar.advance(task, n))
    sys.stdout.write(json.dumps(rep.to_dict(), indent=2) + "\n")


@app.command()
def sign(path: Annotated[Path, typer.Argument(help="file to sign")],
         operator_key: Annotated[Path, typer.Option(help="operator private key file")]) -> None:
    """Write FILE.sig: the operator's Ed25519 signature over the file's exact bytes."""
    from supplynet.security.signing import OperatorKey, sign_file

    if not path.is_file():
        raise DataError(f"{path}: file not found")
    out = sign_file(OperatorKey.load(operator_key), path)
    sys.stdout.write(json.dumps({"file": str(path), "signature": str(out)}) + "\n")


@app.command()
def acl(out: Annotated[Path | None, typer.Option(help="folder for the files (default: mosquitto/ in the supplynet "
                                                      "home folder)")] = None,
        rate: Annotated[float, typer.Option(help="the devices' quota, messages/s (the gateways' --rate): sizes "
                                                 "queue_needed_10min")] = 50.0,
        store: StoreOpt = None) -> None:
    """Write the broker's ACL and password files from the device registry (see README, "MQTT broker")."""
    from datetime import UTC, datetime

    from supplynet.config import Settings
    from supplynet.security.broker import GATEWAY_USER, render_broker_files
    from supplynet.security.devices import DeviceRegistry
    from supplynet.store import open_store

    settings = Settings()
    folder = out or Path(settings.home) / "mosquitto"
    with open_store(store or settings.resolved_store_url()) as st:
        reg = DeviceRegistry(st.devices)
        files = render_broker_files(reg.list(), reg.vault(create=True),
                                    generated_at=datetime.now(UTC).isoformat(timespec="seconds"))
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "acl").write_text(files.acl)
    pw = folder / "passwd"
    fd = os.open(pw, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(files.passwd)
    pw.chmod(0o600)
    sys.stdout.write(json.dumps({"acl": str(folder / "acl"), "passwd": str(pw), "gateway_user": GATEWAY_USER,
                                 "devices": len(files.devices), "skipped": files.skipped,
                                 # the gateway session's queue for a 10-minute outage at the full quota
                                 # (the shipped config's max_queued_messages must be at least this)
                                 "queue_needed_10min": int(len(files.devices) * rate * 600)}, indent=2) + "\n")
