"""``supplynet certs``: certificates for MQTT over TLS (:mod:`supplynet.security.certs`).

    supplynet certs init [--dir D] [--host broker.example.com --host 10.0.0.5]
    supplynet certs client rf-1 [--dir D]        # only for brokers that require client certificates

``init`` writes ``ca.crt``, ``ca.key``, ``server.crt``, ``server.key`` (keys mode 600) and prints
their paths as JSON; the shipped Mosquitto config's 8883 listener reads the server's, devices and
gateway workers trust ``ca.crt`` (``--tls-ca``).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated

import typer

app = typer.Typer(help="Certificates for MQTT over TLS: a CA and the broker's server certificate.",
                  no_args_is_help=True)

DirOpt = Annotated[Path | None, typer.Option("--dir", help="folder of the certificates (default: certs/ in the "
                                                           "supplynet home folder)")]


def _folder(d: Path | None) -> Path:
    if d is not None:
        return d
    from supplynet.config import Settings

    return Path(Settings().home) / "certs"


@app.command()
def init(folder: DirOpt = None,
         host: Annotated[list[str] | None, typer.Option(help="a DNS name or IP address clients reach the broker by "
                                                             "(localhost and 127.0.0.1 are always in); repeatable")] = None,
         force: Annotated[bool, typer.Option(help="replace existing certificates")] = False) -> None:
    """Make a CA and a server certificate for the broker; prints the files as JSON."""
    from supplynet.security.certs import init_certs

    files = init_certs(_folder(folder), hosts=host or (), force=force)
    out = {**files.to_dict(), "note": "give ca.crt to devices and gateways (--tls-ca); server.crt and server.key "
                                      "to the broker; keep ca.key off the broker"}
    sys.stdout.write(json.dumps(out, indent=2) + "\n")


@app.command()
def client(name: Annotated[str, typer.Argument(help="the client's name, e.g. a device id or 'gateway'")],
           folder: DirOpt = None) -> None:
    """A client certificate signed by the CA (for a broker with require_certificate true)."""
    from supplynet.security.certs import issue_client_cert

    cert, key = issue_client_cert(_folder(folder), name)
    sys.stdout.write(json.dumps({"cert": str(cert), "key": str(key)}, indent=2) + "\n")
