"""``supplynet audit``: read, verify and anchor the keyed, hash-chained audit log.

    supplynet audit verify [--anchor checkpoint.json]
    supplynet audit list --limit 20
    supplynet audit keygen --out ~/.supplynet/audit-signing.key     # an operator signing key
    supplynet audit checkpoint --key audit-signing.key --out checkpoint.json

``checkpoint`` signs the chain's head with an operator's Ed25519 key and writes it to a file to keep
elsewhere; ``verify --anchor FILE`` checks the chain still holds what that file signed.
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from ..config import Settings
from ..errors import StoreError
from .options import StoreOpt

if TYPE_CHECKING:
    from ..store import Store

__all__ = ["app"]

app = typer.Typer(help="The tamper-evident audit log: verify the keyed hash chain, list entries, sign "
                       "checkpoints.", no_args_is_help=True)


def _url(store: str | None) -> str:
    return store or Settings().resolved_store_url()


def _open(store: str | None) -> Store:
    from ..store import open_store

    st = open_store(_url(store), readonly=True)
    if not st.has_table("audit"):
        st.close()
        raise StoreError("this store has no audit table (schema too old, or not a supplynet store)")
    return st


@app.command()
def verify(store: StoreOpt = None,
           anchor: Annotated[Path | None, typer.Option(help="a checkpoint exported with 'audit checkpoint --out': "
                                                             "the chain must still hold what it signed")] = None,
           public_key: Annotated[str | None, typer.Option(help="with --anchor: the operator public key that must "
                                                               "have signed it (URL-safe base64)")] = None) -> None:
    """Recompute every keyed hash and link (needs the vault key); prints JSON and exits 1 if an entry was
    edited, deleted, reordered or rewritten, or the chain no longer holds the anchor."""
    from ..store.checkpoints import Checkpoint

    cp = Checkpoint.load(anchor) if anchor is not None else None
    with _open(store) as st:
        res = st.audit.verify()
        out = res.to_dict()
        if cp is not None:
            problems = st.audit.check_anchor(cp, public_key)
            out["anchor"] = {"seq": cp.seq, "fingerprint": cp.fingerprint, "ok": not problems}
            out["problems"] += problems
            out["ok"] = out["ok"] and not problems
    typer.echo(json.dumps(out, indent=2))
    if not out["ok"]:
        raise typer.Exit(code=1)


@app.command("list")
def list_(store: StoreOpt = None, limit: Annotated[int, typer.Option(min=1, max=100000)] = 50,
          subject: Annotated[str | None, typer.Option(help="only entries about this subject")] = None,
          as_json: Annotated[bool, typer.Option("--json", help="one JSON object per line, with the hashes")] = False,
          ) -> None:
    """The latest entries, newest first: a table, or with --json one JSON object per line (a detail that is not
    JSON as its text)."""
    with _open(store) as st:
        entries = [e.to_dict() for e in st.audit.entries(limit=limit, subject=subject, newest_first=True)]
    if as_json:
        for e in entries:
            typer.echo(json.dumps(e))
        return
    if not entries:
        typer.echo("no audit entries" + (f" about {subject}" if subject else ""))
        return
    from rich.console import Console

    from ..events import us_to_ts
    from .tables import Col, cell, make_table

    body = [[f"{e['seq']:,}", cell(us_to_ts(e["at_us"])), e["actor"], e["action"], e["subject"]] for e in entries]
    cols = [Col("seq", numeric=True), Col("at (UTC)", fold=False), Col("actor"), Col("action", fold=False),
            Col("subject")]
    Console(soft_wrap=False).print(make_table(cols, body, title=f"audit: {len(entries)} entries, newest first",
                                              caption="--json prints each entry's detail and hashes"))


@app.command()
def keygen(out: Annotated[Path | None, typer.Option(help="where to write the private key (mode 600; default "
                                                         "audit-signing.key in the home folder)")] = None) -> None:
    """Make an operator Ed25519 signing key for checkpoints; prints its public key."""
    from ..errors import DataError
    from ..store.checkpoints import Checkpoint, generate_signing_key

    path = out or Path(os.environ.get("SUPPLYNET_HOME") or Settings().home) / "audit-signing.key"
    private, public = generate_signing_key()
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError as exc:
        raise DataError(f"{path} exists: not overwriting a signing key") from exc
    with os.fdopen(fd, "w") as f:
        f.write(private + "\n")
    fp = Checkpoint(0, "", 0, "", public, "").fingerprint
    typer.echo(json.dumps({"key_file": str(path), "public_key": public, "fingerprint": fp}, indent=2))


@app.command()
def checkpoint(store: StoreOpt = None,
               key: Annotated[Path | None, typer.Option(help="the operator's private key file (default: "
                                                             "SUPPLYNET_AUDIT_SIGNING_KEY[_FILE] or the home "
                                                             "folder's audit-signing.key)")] = None,
               out: Annotated[Path | None, typer.Option(help="also write the checkpoint here (keep it "
                                                             "elsewhere: it is the anchor for verify)")] = None) -> None:
    """Sign the chain's head now (kept beside the chain) and print the checkpoint as JSON."""
    from ..errors import DataError
    from ..store import open_store
    from ..store.checkpoints import signing_key

    private = signing_key(key)
    if private is None:
        raise DataError("no signing key: give --key FILE (make one with 'supplynet audit keygen')")
    with open_store(_url(store)) as st:
        cp = st.audit.checkpoint(private, time.time_ns() // 1000)
    text = json.dumps(cp.to_dict(), indent=2)
    if out is not None:
        out.write_text(text + "\n")
    typer.echo(text)
