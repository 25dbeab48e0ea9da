"""The ``supplynet`` command line (Typer + rich).

Errors the platform raises on purpose (:class:`~supplynet.errors.SupplynetError`) become one clear
line on stderr and exit code 2, never a traceback.
"""

from __future__ import annotations

import json
import math
import shutil
import sys
from datetime import datetime
from pathlib import Path
from typing import Annotated, Any

import typer
import typer.core
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from .commands.options import StoreOpt
from .config import Settings
from .errors import DataError, EventError, StoreError, SupplynetError

__all__ = ["app", "main"]

err = Console(stderr=True, soft_wrap=True)
out = Console(soft_wrap=True)


def _click_errors() -> tuple[type[Exception], ...]:
    """Click's usage-error base class: Typer vendors Click (``typer._click``) since 0.2x; older Typer
    uses Click itself. Both are caught, whichever is installed."""
    import importlib

    found: list[type[Exception]] = []
    for name in ("typer._click.exceptions", "click.exceptions"):
        try:
            found.append(importlib.import_module(name).ClickException)
        except (ImportError, AttributeError):
            continue
    return tuple(found)


_CLICK_ERRORS = _click_errors()


def _usage_error(exc: Exception) -> typer.Exit:
    """A usage error (unknown command or option, bad or missing value) as one line on stderr,
    ``error: <what> (see 'supplynet CMD --help')``, exit code 2: not Click's usage banner in a box."""
    msg = " ".join(exc.format_message().split())  # type: ignore[attr-defined]
    ctx = getattr(exc, "ctx", None)
    code = int(getattr(exc, "exit_code", 2))
    hint = f" (see '{ctx.command_path} --help')" if ctx is not None and code == 2 else ""
    typer.echo(f"error: {msg}{hint}", err=True)
    return typer.Exit(code=code)


#: metavars for help at 80 columns, by Click type name (Typer writes ``<list[str]>``, ``<int range>``)
_METAVARS = {"str": "TEXT", "list[str]": "TEXT", "int": "N", "list[int]": "N", "int range": "N", "float": "X",
             "list[float]": "X", "float range": "X", "path": "PATH", "list[path]": "PATH", "file": "FILE",
             "directory": "DIR", "datetime": "TIME"}


def _tidy_help(cmd: Any) -> None:
    """Help that reads at 80 columns, for ``cmd`` and every command under it: each command listed with its
    whole first paragraph (Click would cut it at ~45 characters with "..."), reST ``code`` marks as plain
    quotes, and plain metavars (``N``, ``PATH``, ``TEXT``) instead of Typer's ``<list[str]>``."""
    import inspect

    for sub in getattr(cmd, "commands", {}).values():
        _tidy_help(sub)
    if cmd.help:
        cmd.help = inspect.cleandoc(cmd.help).replace("``", "'")
        if not cmd.short_help:
            first = cmd.help.partition("\n\n")[0]
            cmd.short_help = " ".join(first.split())
    for param in cmd.params:
        if isinstance(param, typer.core.TyperOption) and param.metavar is None and not param.is_flag:
            try:
                label = param.display_type(None).strip("<>")  # type: ignore[arg-type]  # no ctx for a plain type
            except (AttributeError, TypeError):
                continue
            if label in _METAVARS:
                param.metavar = _METAVARS[label]
        elif isinstance(param, typer.core.TyperArgument) and param.metavar is None and param.name:
            param.metavar = param.name.upper()  # shown as itself: "[TABLE]" and "TABLE", not "table <str>"
            param.display_type_rich = lambda ctx: None  # type: ignore[method-assign]  # (this argument only)


class _Group(typer.core.TyperGroup):
    """Maps the platform's errors and Click's usage errors to a one-line message for every sub-command
    (README: "Errors are one line on stderr with exit code 2, never a traceback"); help reads at 80 columns
    (:func:`_tidy_help`)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        _tidy_help(self)

    def invoke(self, ctx: Any) -> Any:
        try:
            return super().invoke(ctx)
        except SupplynetError as exc:
            for line in str(exc).splitlines() or [type(exc).__name__]:
                typer.echo(f"error: {line}", err=True)
            raise typer.Exit(code=2) from exc
        except _CLICK_ERRORS as exc:
            if type(exc).__name__ == "NoArgsIsHelpError":  # a bare group: its help, as asked for
                raise
            raise _usage_error(exc) from exc

    def parse_args(self, ctx: Any, args: list[str]) -> list[str]:
        try:
            return super().parse_args(ctx, args)
        except _CLICK_ERRORS as exc:  # the top level's own options (supplynet --nope)
            if type(exc).__name__ == "NoArgsIsHelpError":
                raise
            raise _usage_error(exc) from exc


app = typer.Typer(
    cls=_Group, no_args_is_help=True, pretty_exceptions_enable=False, add_completion=False, rich_markup_mode=None,
    help="supplynet: intelligent supply networks. Sense -> predict -> act, with a digital twin to ask what-if.",
)


def _store_url(store: str | None, default_db: str = "supplynet.db") -> str:
    settings = Settings()
    if store:
        return store
    if settings.store_url:
        return settings.store_url
    for name in (default_db, "demo.db"):  # fall back to the demo's store when that is all there is
        p = settings.home / name
        if p.exists():
            return f"sqlite:///{p}"
    return f"sqlite:///{settings.home / default_db}"


def _existing_store_url(store: str | None) -> str:
    """The store URL for a read-only command: a SQLite file must exist already (reading never makes
    a folder or an empty database)."""
    from .store.sqlite import sqlite_path

    url = _store_url(store)
    if "://" not in url or url.lower().startswith("sqlite:"):
        path = sqlite_path(url)
        if not path.is_file():
            where = f"the folder {path.parent} does not exist; " if not path.parent.is_dir() else ""
            raise StoreError(f"no store at {path}: {where}this command reads an existing store (check --store, "
                             "or create one with supplynet demo, replay or ingest)")
    return url


def _progress() -> Progress:
    return Progress(TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                    console=err, transient=False)


# -- init / validate ----------------------------------------------------------------------------------
@app.command()
def init(directory: Annotated[Path, typer.Argument(help="project folder to create")] = Path("."),
         example: Annotated[str, typer.Option(help="tiny | realistic")] = "tiny",
         force: Annotated[bool, typer.Option(help="overwrite an existing network.yaml")] = False) -> None:
    """Scaffold a project: a network file to edit, an autonomy policy, a sinks file and the store folder."""
    from .model import example_path

    directory.mkdir(parents=True, exist_ok=True)
    target = directory / "network.yaml"
    if target.exists() and not force:
        raise DataError(f"{target} exists; use --force to overwrite it")
    shutil.copyfile(example_path(example), target)
    made = [str(target)]
    from importlib import resources

    policy_text = (resources.files("supplynet") / "examples" / "autonomy.yaml").read_text(encoding="utf-8")
    for name, text in (("autonomy.yaml", policy_text),
                       ("sinks.yaml", _STARTER_SINKS)):
        path = directory / name
        if force or not path.exists():  # the policy and the sinks a person already edited are kept
            path.write_text(text, encoding="utf-8")
            made.append(str(path))
    (directory / ".supplynet").mkdir(exist_ok=True)
    out.print(f"created {', '.join(made)} (from the {example} example) and {directory / '.supplynet'}/")
    out.print(f"next: supplynet validate {target}; then supplynet run --network {target} --policy "
              f"{directory / 'autonomy.yaml'} --sinks {directory / 'sinks.yaml'}")


#: ``init``'s sinks file: a folder every executed action and alert is written to (works with nothing else
#: running), and a webhook to an ERP left commented out
_STARTER_SINKS = """\
# Where executed actions and alerts go (supplynet run --sinks sinks.yaml). Every delivery carries the
# action id as its idempotency key. Kinds: file (JSONL in a folder), webhook (HTTP POST, HMAC-signed),
# mqtt (signed commands on a topic). Actions: order, transfer, production_order (a plant makes it), work_order, reroute, expedite, alert.
sinks:
  - name: actions-folder
    kind: file                        # JSONL appended and fsynced (what supplynet fleet --actions reads)
    folder: .supplynet/actions
    rotate: none                      # daily: one file a day (actions-YYYY-MM-DD.jsonl)
    actions: [order, transfer, production_order, work_order, reroute, expedite, alert]
#  - name: erp
#    kind: webhook                     # headers Idempotency-Key and X-Supplynet-Signature: sha256=<hex>
#    url: https://erp.example.com/supplynet/actions
#    secret_env: ERP_WEBHOOK_SECRET    # the HMAC secret's environment variable (absent: sealed in the vault)
#    actions: [order, transfer]
#    max_attempts: 8
"""


# -- demo ---------------------------------------------------------------------------------------------
def _pin_vault_key(home: Path) -> None:
    """The demo keeps its deployment's vault key in its home: every part of this process (the gate's
    sealed device secrets, the keyed audit chain, the dashboard) uses ``home/vault.key`` unless the
    environment names a key; later commands on the demo's store find it with ``SUPPLYNET_HOME=home``."""
    import os

    from .security.vault import default_vault

    if os.environ.get("SUPPLYNET_VAULT_KEY") or os.environ.get("SUPPLYNET_VAULT_KEY_FILE"):
        return
    default_vault(create=True, home=home)
    os.environ["SUPPLYNET_VAULT_KEY_FILE"] = str((home / "vault.key").resolve())


def _check_writable(path: Path, flag: str) -> None:
    """Refuse, before a long run, an output path that cannot be written (one line, exit 2)."""
    if path.is_dir():
        raise DataError(f"{flag} {path}: is a folder; give a file name")
    parent = path.parent if str(path.parent) else Path(".")
    if not parent.is_dir():
        raise DataError(f"{flag} {path}: the folder {parent} does not exist")
    import os

    if not os.access(parent, os.W_OK) or (path.exists() and not os.access(path, os.W_OK)):
        raise DataError(f"{flag} {path}: not writable")


def _write_atomic(path: Path, text: str, flag: str) -> None:
    """Write ``text`` to ``path`` whole or not at all (a temporary file beside it, then renamed)."""
    import os
    import tempfile

    tmp = None
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent if str(path.parent) else ".")
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)
        os.replace(tmp, path)
    except OSError as exc:
        if tmp is not None:
            Path(tmp).unlink(missing_ok=True)
        raise DataError(f"{flag} {path}: cannot write it: {exc.strerror or exc}") from exc


@app.command()
def demo(days: Annotated[int, typer.Option(min=1, max=3650, help="simulated days")] = 21,
         seed: Annotated[int, typer.Option(min=0, max=2**32 - 1, help="random seed (same seed, same run)")] = 7,
         network: Annotated[Path | None, typer.Option(help="network file (default: the realistic example)")] = None,
         data_dir: Annotated[Path | None, typer.Option(help="public datasets to replay (default ../shared/data "
                                                              "when present; 'none' to generate)")] = None,
         home: Annotated[Path, typer.Option(help="folder for the demo store")] = Path(".supplynet"),
         serve: Annotated[bool, typer.Option(help="serve the dashboard while the demo runs and after it, "
                                                  "until Ctrl-C (--no-serve: just run and exit, for CI)")] = True,
         replications: Annotated[int, typer.Option(min=0, max=100_000, help="replications of the closing stress test "
                                                                 "(0 skips it)")] = 200,
         summary_json: Annotated[Path | None, typer.Option("--summary-json", help="write the run's summary as one "
                                                           "JSON object to this file (fill rate, lost sales, "
                                                           "inventory by echelon, decisions, costs)")] = None) -> None:
    """Run the realistic network in accelerated time through the whole loop (the world, the brain and the
    dashboard composed in one process), stress-test the live state, and serve the dashboard."""
    from .demo import demo_summary, run_demo

    if summary_json is not None:
        _check_writable(summary_json, "--summary-json")

    stops: list[Any] = []

    def start_dashboard(store_url: str, net: Any) -> None:
        from .commands.serve import serve_in_background

        url, stop = serve_in_background(Settings(store_url=store_url), net)
        stops.append(stop)
        err.print(f"[bold]dashboard[/bold]: {url}  (planner token: {stop.token})")

    if data_dir is None:
        default = Settings().data_dir
        data_dir = default if default.is_dir() else None
    elif str(data_dir) == "none":
        data_dir = None
    _pin_vault_key(home)
    with _progress() as bar:
        task = bar.add_task("demo: simulated hours", total=days * 24)
        res = run_demo(network=network, days=days, seed=seed, home=home, data_dir=data_dir,
                       stress_replications=replications, on_ready=start_dashboard if serve else None,
                       on_hour=lambda done, total: bar.update(task, completed=done))
    from .commands.tables import Col, make_table

    t = make_table([Col("what", fold=False), Col("value", numeric=True, fold=True)], [],  # long counts fold
                   title=f"supplynet demo: {res.network}, {res.days} days ({res.seconds:.1f} s)")
    for k, v in [("events in the log", res.events), ("orders placed", res.orders), ("shipments", res.shipments),
                 ("delivered", res.delivered), ("customer demand (units)", f"{res.demand:,.0f}"),
                 ("fill rate", f"{res.fill_rate:.1%}"), ("units produced", f"{res.produced:,.0f}"),
                 ("machine failures", res.failures),
                 ("preventive maintenance done", res.preventive),
                 ("shrinkage alerts (counts vs book)", res.shrinkage_alerts),
                 ("signed envelopes through the gate", ", ".join(f"{v} {k}" for k, v in sorted(res.gate.items()))
                  or "off"),
                 ("RUL model learned from", res.rul_source),
                 ("traffic jam injected", res.jam or "none"),
                 ("watchers' decisions", ", ".join(f"{v} {k}" for k, v in sorted(res.watched.items())) or "none"),
                 ("late-shipment answers carried out", str(len(res.reroutes))),
                 ("decisions (status when made)", ", ".join(f"{v} {k}" for k, v in sorted(res.decisions.items()))
                  or "none"),
                 ("approved by the planner", res.approved_by_planner), ("waiting for approval", res.pending),
                 ("real data replayed", ", ".join(res.sources_used) or "none (generated)")]:
        t.add_row(k, str(v))
    for k, v in sorted(res.by_kind.items()):
        t.add_row(f"  {k} events", str(v))
    out.print(t)
    if res.ranking is not None and len(res.ranking):
        # 80 columns: TTS and TTR in days (the note under the table says so), "short before" as a flag column
        r = make_table([Col("site", fold=False), Col("kind", fold=False), Col("TTS", numeric=True),
                        Col("TTR", numeric=True), Col("TTS<TTR", fold=False), Col("short before", fold=False),
                        Col("risk", numeric=True), Col("worst scenario", fold=False)], [],
                       title=f"stress test from the live state: sites by risk exposure ({res.stress_seconds:.1f} s, "
                             f"{replications} replications per scenario; report: {res.stress_folder}/report.html)")
        for row in res.ranking.head(10).itertuples(index=False):
            tts = f"{row.tts_days:.1f}" if math.isfinite(row.tts_days) else "-"
            r.add_row(str(row.site), str(row.kind), tts, f"{row.ttr_days:.1f}", "yes" if row.flagged else "no",
                      "yes" if getattr(row, "short_before", False) else "no", f"{row.risk_exposure:.2f}",
                      str(row.worst_scenario))
        out.print(r)
        from .sim.report import TTS_TTR_MEANING

        out.print(TTS_TTR_MEANING)
    out.print(f"store kept at {res.store_url}; try: supplynet state --store {res.store_url}")
    if summary_json is not None:
        from .model import example_path, load_network

        doc = demo_summary(res, load_network(network or example_path("realistic")))
        _write_atomic(summary_json, json.dumps(doc, indent=2, sort_keys=True, allow_nan=False) + "\n",
                      "--summary-json")
        err.print(f"summary written to {summary_json}")
    if stops:
        import time as _time

        err.print("[bold]the dashboard keeps running[/bold]: press Ctrl-C to stop")
        try:
            while True:
                _time.sleep(1.0)
        except KeyboardInterrupt:
            pass
        finally:
            for stop in stops:
                stop()


# -- replay / state / events ----------------------------------------------------------------------------
@app.command()
def replay(file: Annotated[Path, typer.Argument(help="canonical events: .jsonl/.ndjson (one per line) or .json")],
           store: StoreOpt = None,
           skip_bad: Annotated[bool, typer.Option(help="store the valid events and write the bad lines to "
                                                       "FILE.rejected.jsonl")] = False) -> None:
    """Append a file of canonical events to the log (trusted local import; duplicates stored once)."""
    from .events import parse_event
    from .store import open_store

    if not file.is_file():
        raise DataError(f"{file}: file not found")
    raw = file.read_bytes()
    if file.suffix == ".json":
        try:
            items = json.loads(raw)
        except json.JSONDecodeError as exc:
            raise DataError(f"{file}:{exc.lineno}: not valid JSON ({exc.msg})") from exc
        if not isinstance(items, list):
            raise DataError(f"{file}: expected a JSON array of events")
        lines = [json.dumps(x) for x in items]
    else:
        lines = raw.decode("utf-8", errors="replace").splitlines()
    good, bad = [], []
    for i, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            good.append(parse_event(line))
        except EventError as exc:
            bad.append((i, line, str(exc)))
    if bad and not skip_bad:
        for i, _, msg in bad[:20]:
            err.print(f"{file}:{i}: {msg}", markup=False, highlight=False)
        raise EventError(f"{len(bad)} of {len(good) + len(bad)} lines are not valid events; nothing was stored "
                         f"(fix them, or use --skip-bad to store the valid ones)")
    with open_store(_store_url(store)) as st:
        res = st.log.append(good)
    if bad:
        rejected = file.with_name(file.name + ".rejected.jsonl")
        rejected.write_text("".join(json.dumps({"line": i, "error": m, "raw": ln}) + "\n" for i, ln, m in bad))
        err.print(f"{len(bad)} bad lines written to {rejected}")
    out.print(f"{file}: {res.stored} stored, {res.duplicates} duplicates (already in the log)")


def _parse_time(value: str | None, name: str) -> datetime | None:
    if value is None:
        return None
    from .events import to_utc

    try:
        ts = datetime.fromisoformat(value.replace("Z", "+00:00"))
        return to_utc(ts if ts.tzinfo else ts.replace(tzinfo=datetime.now().astimezone().tzinfo))
    except (ValueError, OverflowError) as exc:
        raise DataError(f"--{name} {value[:64]!r}: expected an ISO time such as 2026-01-05T12:00:00Z "
                        f"({str(exc)[:80]})") from None


#: the columns a person reads first in each twin table (the rest follow while the terminal is wide enough)
_PREFER = {
    "inventory": ("site", "sku", "on_hand", "in_transit", "on_order", "position", "backorders", "lost_sales", "sold"),
    "shipments": ("shipment_id", "status", "origin", "destination", "units", "late", "eta_p50", "promised_at",
                  "departed_at", "delivered_at"),
    "orders": ("order_id", "order_type", "status", "site", "sku", "quantity", "open_quantity", "origin", "due",
               "created_at"),
    "assets": ("asset_id", "last_seen", "failures", "open_work_order", "last_alert", "cycle", "readings"),
}


def _emit_frame(frame: Any, fmt: str, title: str, prefer: tuple[str, ...] = ()) -> None:
    if fmt == "csv":
        sys.stdout.write(frame.to_csv(index=False))
    elif fmt == "json":
        sys.stdout.write(frame.to_json(orient="records", date_format="iso") + "\n")
    else:
        from .commands.tables import fit_frame

        out.print(fit_frame(frame, title=title, width=out.width, prefer=prefer))


@app.command()
def state(table: Annotated[str, typer.Argument(help="inventory | shipments | orders | assets")] = "inventory",
          store: StoreOpt = None,
          network: Annotated[Path | None, typer.Option(help="network file (default: the one the store recorded)")] = None,
          as_of: Annotated[str | None, typer.Option("--as-of", help="state as of this time (ISO)")] = None,
          site: Annotated[str | None, typer.Option(help="only this site")] = None,
          sku: Annotated[str | None, typer.Option(help="only this SKU")] = None,
          limit: Annotated[int, typer.Option(help="rows to show")] = 50,
          fmt: Annotated[str, typer.Option("--format", help="table | csv | json")] = "table") -> None:
    """Show the twin's tables, rebuilt from the log (optionally as of a past time)."""
    from .commands._netstore import store_network
    from .store import open_store
    from .twin import Twin

    frames = {"inventory": "inventory_frame", "shipments": "shipments_frame", "orders": "orders_frame",
              "assets": "assets_frame"}
    if table not in frames:
        raise DataError(f"unknown table {table!r}; use one of {', '.join(frames)}")
    if fmt not in ("table", "csv", "json"):
        raise DataError(f"--format {fmt!r}: use table, csv or json")
    if not 1 <= limit <= 1_000_000:
        raise DataError(f"--limit {limit}: use 1..1000000")
    when = _parse_time(as_of, "as-of")
    with open_store(_existing_store_url(store), readonly=True) as st:
        net = store_network(st, network, record=False)  # the store's own network unless one is given
        twin = Twin.rebuild(st, net, as_of=when)
    frame = getattr(twin, frames[table])()
    if site is not None and "site" in frame.columns:
        frame = frame[frame["site"] == site]
    elif site is not None and "origin" in frame.columns:  # shipments: from or to the site (as the API filters)
        frame = frame[(frame["origin"] == site) | (frame["destination"] == site)]
    if sku is not None and "sku" in frame.columns:
        frame = frame[frame["sku"] == sku]
    _emit_frame(frame.head(limit), fmt, f"{table}: {min(limit, len(frame))} of {len(frame)} rows"
                f"{', as of ' + as_of if as_of else ''} (times UTC)", _PREFER[table])


@app.command()
def events(store: StoreOpt = None,
           since: Annotated[str | None, typer.Option(help="from this event time (ISO)")] = None,
           until: Annotated[str | None, typer.Option(help="up to this event time (ISO)")] = None,
           source: Annotated[list[str] | None, typer.Option(help="only these sources (devices); repeatable")] = None,
           kind: Annotated[list[str] | None, typer.Option(help="only these kinds; repeatable")] = None,
           limit: Annotated[int, typer.Option(help="at most this many")] = 20,
           tail: Annotated[bool, typer.Option(help="the last LIMIT events instead of the first")] = False,
           follow: Annotated[bool, typer.Option("--follow", "-f", help="keep printing new events")] = False) -> None:
    """Print events from the log as wire JSON, one per line (filter by time, source, kind)."""
    import time as _time

    from .events import EVENT_TYPES, dumps
    from .store import open_store

    for k in kind or []:
        if k not in EVENT_TYPES:
            raise DataError(f"--kind {k!r}: use one of {', '.join(sorted(EVENT_TYPES))}")
    if not 1 <= limit <= 1_000_000:
        raise DataError(f"--limit {limit}: use 1..1000000")
    args = dict(since=_parse_time(since, "since"), until=_parse_time(until, "until"), sources=source or None,
                kinds=kind or None)
    with open_store(_existing_store_url(store), readonly=True) as st:
        if tail:
            recs = list(st.log.read(**args))[-limit:]
        else:
            recs = list(st.log.read(**args, limit=limit))
        last = 0
        for r in recs:
            sys.stdout.write(dumps(r.event) + "\n")
            last = max(last, r.offset)
        while follow:
            _time.sleep(1.0)
            for r in st.log.read(**args, after_offset=last):
                sys.stdout.write(dumps(r.event) + "\n")
                last = r.offset
            sys.stdout.flush()


def _mount() -> None:
    """Sub-command groups that live beside the modules they drive."""
    import inspect

    from .commands import (
        audit,
        certs,
        decisions,
        devices,
        eta,
        forecast,
        health,
        importer,
        ingest,
        maintenance,
        outbox,
        plan,
        quarantine,
        serve,
        simulate,
        tokens,
    )
    from .commands import fleet as fleet_cmd
    from .commands import run as run_cmd
    from .commands import store as store_cmd
    from .commands import validate as validate_cmd

    app.command("validate", help="Check a network file; every problem is named with file, line and field.")(
        validate_cmd.validate)
    # one command each, not a group (a group's usage reads "serve [OPTIONS] COMMAND [ARGS]...")
    app.command("serve", help=serve.app.info.help)(serve.serve)
    sim_doc = inspect.cleandoc(simulate.simulate.__doc__ or "")
    app.command("simulate", help=f"{simulate.app.info.help}\n\n{sim_doc}")(simulate.simulate)
    app.add_typer(forecast.app, name="forecast")
    app.add_typer(maintenance.app, name="maintenance")
    app.add_typer(eta.app, name="eta")
    app.add_typer(devices.app, name="devices")
    app.add_typer(ingest.app, name="ingest")
    app.add_typer(quarantine.app, name="quarantine")
    app.add_typer(store_cmd.app, name="store")
    app.add_typer(audit.app, name="audit")
    app.add_typer(tokens.app, name="tokens")
    app.add_typer(plan.app, name="plan")
    app.add_typer(health.app, name="health")
    app.command("import", help="Import a company's history file (sales, stock, purchase orders, shipments, "
                               "sensor log, maintenance history) through the gate.")(importer.import_cmd)
    app.add_typer(certs.app, name="certs")
    app.command("run", help="The brain: follow the log, keep the twin, decide and record (restart-safe).")(
        run_cmd.run)
    app.add_typer(decisions.app, name="decisions")
    app.add_typer(outbox.app, name="outbox")
    app.command("fleet", help="The simulated world as a client: devices through the gate, actions from a file "
                              "sink's folder.")(fleet_cmd.fleet)


_mount()


def main() -> None:
    app()


if __name__ == "__main__":  # pragma: no cover
    main()
