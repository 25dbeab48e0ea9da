"""``supplynet simulate``: Monte Carlo stress test of a network, written as a report folder.

    supplynet simulate --network examples/tiny.yaml --scenario supplier_fire --replications 500 \
        --horizon 180 --out report/ [--executor dask --scheduler tcp://host:8786] \
        [--policy-compare "base_stock:service_level=0.9" --policy-compare "sS:service_level=0.97"]

With ``--from-live [--at T] [--store URL]`` the twin is rebuilt from the store's event log (as of
``T``) and every run starts from its state: on hand, backorders, shipments at their current ETAs,
open orders and machines down or at risk (:mod:`supplynet.sim.live`). Without ``--scenario`` that is
a prediction of the live world (:mod:`supplynet.sim.forecast_live`): the next ``--horizon`` days'
store fill rate, lost sales, inventory per echelon and total cost as P10/P50/P90 under the rules the
live loop runs (:mod:`supplynet.commands._predict_live`: its replenisher, built as the loop builds it
from the autonomy policy ``run`` would use, ``--policy FILE`` or the stored one or the packaged example;
its release calendar, forecast refit and machine failures as the store records them), on the network
the store records (``--network`` optional, and it must match); a table followed by the rules it ran
under, or one JSON object with ``--json`` (``meta.rules``, ``meta.notes``). With ``--scenario`` the
scenarios run from the live state and the JSON ranks the sites by risk exposure over them.

The scenarios and ``--policy-compare`` (its ``compare=``, printed as a table of paired differences) go
through :func:`supplynet.sim.run_scenarios`, as the API's scenario runs and the demo's stress test do;
the prediction calls :func:`supplynet.sim.forecast_live.predict_from_live` as the demo's fidelity check
does, with the loop's forecast refit and machines (``run_scenarios(predict=True)`` takes neither).
"""

from __future__ import annotations

import json
import math
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from supplynet.commands.options import check_store
from supplynet.errors import SimulationError

if TYPE_CHECKING:
    import pandas as pd

    from supplynet.sim.network import SimNetwork

app = typer.Typer(help="Monte Carlo what-if: stress-test a network under disruption scenarios.")


def load_sim_network(path: Path) -> SimNetwork:
    """A SimNetwork from a network YAML (supplynet.model) or a Willems (2008) chain CSV."""
    from supplynet.sim.network import SimNetwork

    if not path.exists():
        raise SimulationError(f"--network {path}: no such file")
    if path.suffix.lower() == ".csv":
        return SimNetwork.from_willems(path)
    from supplynet.model import load_network

    return SimNetwork.from_network(load_network(path))


def parse_time(text: str) -> datetime:
    """An ISO 8601 time; without a zone it is UTC."""
    try:
        t = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
        return t.replace(tzinfo=UTC) if t.tzinfo is None else t.astimezone(UTC)
    except (ValueError, OverflowError) as exc:  # OverflowError: a time before year 1 or after 9999 in UTC
        raise SimulationError(f"--at {text[:64]!r}: not an ISO 8601 time (e.g. 2026-01-05T08:00:00Z)") from exc


def apply_forecast(net: SimNetwork, path: Path) -> SimNetwork:
    """``net`` with demand from a forecast file (see :mod:`supplynet.sim.demand`)."""
    import pandas as pd

    from supplynet.errors import DataError
    from supplynet.sim.demand import demand_from_forecast

    try:
        frame = pd.read_parquet(path) if path.suffix.lower() in (".parquet", ".pq") else pd.read_csv(path)
    except (OSError, ValueError) as exc:
        raise DataError(f"--forecast {path}: cannot read ({exc})") from exc
    return demand_from_forecast(net, frame)


def live_start(network: Path, *, at: str | None = None, store: str | None = None,
               forecast: Path | None = None) -> object:
    """The engine's start from the twin rebuilt out of ``store`` (as of ``at``) for a network YAML."""
    from supplynet.model import load_network
    from supplynet.sim.live import initial_state_from_twin
    from supplynet.sim.network import SimNetwork
    from supplynet.store import open_store
    from supplynet.twin import Twin

    if not network.exists():
        raise SimulationError(f"--network {network}: no such file")
    if network.suffix.lower() == ".csv":
        raise SimulationError(f"--from-live needs the network YAML the twin runs on, not a chain CSV ({network})")
    model = load_network(network)
    when = parse_time(at) if at is not None else None
    with open_store(store, readonly=True) as st:
        twin = Twin.rebuild(st, model, as_of=when)
    if twin.state.events_applied == 0:
        raise SimulationError(f"--from-live: the store has no events{' up to ' + at if at else ''}; nothing to start from")
    net = SimNetwork.from_network(model)
    if forecast is not None:
        net = apply_forecast(net, forecast)
    return initial_state_from_twin(net, twin, at=when)


def parse_policy_variant(text: str, net: SimNetwork) -> SimNetwork:
    """``TYPE[:k=v,...]`` applied to every ordering item; ``service_level=..`` sizes per item."""
    import numpy as np

    from supplynet.policy.policies import policy_from_spec

    kind, _, rest = text.partition(":")
    params: dict[str, float] = {}
    for part in filter(None, (p.strip() for p in rest.split(","))):
        key, eq, val = part.partition("=")
        try:
            params[key.strip()] = float(val)
        except ValueError:
            eq = ""
        if not eq:
            raise SimulationError(f"--policy-compare {text!r}: expected TYPE[:key=value,...], bad part {part!r}")
    mu, sd = net.mean_flow()
    sd = np.maximum(sd, np.sqrt(mu))
    items = np.nonzero(~net.source & (net.pol_kind >= 0))[0]
    sl = params.pop("service_level", None)
    spec = {"type": kind.strip(), "params": params, "site": "*", "sku": "*", "service_level": sl}
    out = net
    for i in items:
        pol = policy_from_spec(spec, demand_mean=mu[i], demand_std=sd[i], lead_time=net.lt_mean[i],
                               pack_size=net.pack[i], moq=net.moq[i])
        out = out.with_policy(pol, [i])
    return out


@app.callback(invoke_without_command=True)
def simulate(
    network: Annotated[Path | None, typer.Option("--network", "-n", help="network YAML or Willems chain CSV "
                                                 "(with --from-live: default the store's)")] = None,
    scenario: Annotated[list[str], typer.Option("--scenario", "-s", help="library name or YAML path; repeat")] = [],  # noqa: B006
    replications: Annotated[int, typer.Option("--replications", "-r", min=1, max=1_000_000,
                                              help="Monte Carlo runs per scenario")] = 200,
    horizon: Annotated[int, typer.Option("--horizon", "-d", min=1, max=3650, help="days")] = 180,
    seed: Annotated[int, typer.Option("--seed", min=0, max=2**63 - 1,
                                      help="random seed, the same for every run (common random numbers)")] = 0,
    executor: Annotated[str, typer.Option("--executor", help="local | dask")] = "local",
    scheduler: Annotated[str | None, typer.Option("--scheduler", help="Dask scheduler address")] = None,
    out: Annotated[Path, typer.Option("--out", "-o", help="report folder")] = Path("sim-report"),
    policy_compare: Annotated[list[str], typer.Option("--policy-compare", help="TYPE[:k=v,...]; repeat")] = [],  # noqa: B006
    baseline: Annotated[bool, typer.Option("--baseline/--no-baseline", help="also run without disruptions")] = True,
    from_live: Annotated[bool, typer.Option("--from-live", help="start from the twin rebuilt from the store")] = False,
    at: Annotated[str | None, typer.Option("--at", help="with --from-live: the twin as of this ISO time")] = None,
    store: Annotated[str | None, typer.Option("--store", callback=check_store, help="store URL or SQLite path (default: settings)")] = None,
    forecast: Annotated[Path | None, typer.Option(
        "--forecast", help="forecast CSV/Parquet: unique_id (site/sku), ds, y_hat, lo_L, hi_L")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="print the summary (with --from-live and no --scenario: "
                                                        "the prediction) as JSON for machines instead of tables")] = False,
    policy: Annotated[Path | None, typer.Option("--policy", help="with --from-live and no --scenario: the autonomy "
                                                "policy YAML the loop runs (default: the stored one, else the "
                                                "packaged example, as 'supplynet run' finds it)")] = None,
) -> None:
    """Run the scenarios (and a baseline) and write report.json, report.html and PNG plots to --out;
    print a summary table (scenarios, cost in the network's currency, riskiest sites), or JSON with --json."""
    from supplynet.sim import EXECUTORS, library, load_scenario, run_scenarios

    if executor not in EXECUTORS:
        raise SimulationError(f"--executor must be one of {EXECUTORS}, got {executor!r}")
    if from_live and not scenario:
        return _predict_live(network, store=store, at=at, horizon=horizon, replications=replications, seed=seed,
                             as_json=as_json, policy=policy)
    if policy is not None:
        raise SimulationError("--policy applies only to --from-live without --scenario (the live loop's prediction)")
    if network is None:
        raise SimulationError("--network FILE is required (only --from-live without --scenario reads the store's)")
    live = None
    if from_live:
        live = live_start(network, at=at, store=store, forecast=forecast)
        net = live.network
    elif at is not None or store is not None:
        raise SimulationError("--at and --store apply only with --from-live")
    else:
        net = load_sim_network(network)
        if forecast is not None:
            net = apply_forecast(net, forecast)
    chosen = {sc.name: sc for sc in map(load_scenario, scenario or (library() if live is not None else ()))}
    runs = len(chosen) + (1 if baseline or not chosen or live is not None else 0)
    variants = {"current": net}
    for text in policy_compare:
        variants[text] = parse_policy_variant(text, net)
    total = replications * (runs + (len(variants) if len(variants) > 1 else 0))
    console = Console(stderr=True)
    with Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                  console=console, transient=not sys.stderr.isatty()) as bar:
        task = bar.add_task("simulating", total=total)
        what = "scenarios from the live state" if live is not None else "scenarios"
        bar.update(task, description=what + (" and policy comparison" if len(variants) > 1 else ""))
        report = run_scenarios(live if live is not None else net, list(chosen.values()), replications=replications,
                               horizon=horizon, seed=seed, baseline=baseline, executor=executor, scheduler=scheduler,
                               progress=lambda n: bar.advance(task, n),
                               compare={k: (lambda _n, v=v: v) for k, v in variants.items()} if len(variants) > 1
                               else None)
    results = report.results
    meta = {"network": net.name, "file": str(network), "replications": replications, "horizon": horizon,
            "seed": seed, "executor": executor, "items": net.n_items}
    if live is not None:
        meta["live"] = {"at": live.at.isoformat(), "down": live.down, "at_risk": live.at_risk,
                        "warnings": live.warnings}
    summary = report.write(out, meta=meta)
    if live is not None:
        ranking = report.ranked_sites()
        doc = {"report": str(out), "scenarios": list(results), "live": meta["live"],
               "ranking": json.loads(ranking.head(10).to_json(orient="records"))}
    else:
        top = [{k: r[k] for k in ("site", "scenario", "risk_exposure_index", "tts_p50", "ttr_p50", "flag_tts_lt_ttr",
                                  "short_before_disruption")} for r in summary["ranking"][:10]]
        doc = {"report": str(out), "scenarios": list(results), "ranking": top}
    if as_json:
        typer.echo(json.dumps({**doc, "currency": summary["currency"], "summary": summary["summary"]}, indent=2))
        return
    print_summary(results, out, ranking=summary["ranking"][:10] if live is None else None, live=doc.get("live"),
                  live_ranking=doc["ranking"] if live is not None else None, comparison=report.comparison)


def print_summary(results: dict, out: Path, *, ranking: list[dict] | None = None, live: dict | None = None,
                  live_ranking: list[dict] | None = None, comparison: pd.DataFrame | None = None,
                  console: Console | None = None) -> None:
    """The run's summary as tables at the terminal (80 columns): scenarios with their cost in the network's
    currency, then the riskiest sites, then the policy comparison; ``--json`` prints the same as JSON."""
    from supplynet.sim.report import TTS_TTR_MEANING, days_cell, ranking_table, render_table, summary_table

    console = console or Console(width=max(80, min(Console().width, 120)), highlight=False)
    console.print(summary_table(results))
    if ranking:
        console.print(ranking_table(ranking))
    if live_ranking:
        rows = [[str(r["site"]), str(r["worst_scenario"]), f"{r['risk_exposure']:.2f}", days_cell(r["tts_days"]),
                 days_cell(r["ttr_days"]), "TTS<TTR" if r["flagged"] else ""] for r in live_ranking]
        console.print(render_table(f"Risk exposure from the live state as of {(live or {}).get('at', '')}",
                                   ["site", "worst scenario", "risk", "TTS", "TTR", "flags"], rows, text=2))
        console.print(TTS_TTR_MEANING)
    if comparison is not None and not comparison.empty:
        from supplynet.sim.report import currency_of

        console.print(comparison_table(comparison, currency=currency_of(results)))
    console.print(f"report: {out / 'report.html'} (JSON: {out / 'report.json'})")


#: the comparison's metrics a person reads first, with their format
_COMPARED = (("fill_rate", "fill rate", "{:+.1%}"), ("lost_sales", "lost units", "{:+,.0f}"),
             ("backorders", "backorders", "{:+,.0f}"), ("holding_cost", "holding cost", "{:+,.0f}"),
             ("shortage_cost", "shortage cost", "{:+,.0f}"))


def comparison_table(comparison: pd.DataFrame, *, currency: str = "") -> object:
    """Each policy against the first (paired, 95% interval) on the metrics of :data:`_COMPARED` (a metric
    that is zero under both is left out), one section per policy."""
    from rich.table import Table

    base = str(comparison["baseline"].iloc[0])
    table = Table(title=f"Policies against {base!r} (paired differences, 95% interval)", title_justify="left",
                  header_style="bold")
    table.add_column("policy", overflow="fold")
    table.add_column("metric")
    for h in ("difference", "interval", "significant"):
        table.add_column(h, justify="right", no_wrap=True)
    for variant, grp in comparison.groupby("variant", sort=False):
        rows = []
        for spec_key, label, fmt in _COMPARED:
            hit = grp[grp["metric"] == spec_key]
            if hit.empty:
                continue
            r = hit.iloc[0]
            if r["baseline_mean"] == 0 and r["mean_diff"] == 0:
                continue
            unit = f" {currency}" if currency and spec_key.endswith("_cost") else ""
            rows.append([label, fmt.format(r["mean_diff"]) + unit,
                         f"{fmt.format(r['ci_low'])}..{fmt.format(r['ci_high'])}", "yes" if r["significant"] else "no"])
        for j, row in enumerate(rows):
            table.add_row(str(variant) if j == 0 else "", *row, end_section=j == len(rows) - 1)
    return table


def _predict_live(network: Path | None, *, store: str | None, at: str | None, horizon: int, replications: int,
                  seed: int, as_json: bool, policy: Path | None = None) -> None:
    """``--from-live`` without scenarios: the live world's next ``horizon`` days under the live loop's rules
    (see the module doc and :mod:`supplynet.commands._predict_live`)."""
    from supplynet.commands._predict_live import predict_store, rules_lines, summary_rows

    if replications < 2:
        raise SimulationError(f"--replications must be >= 2 for P10/P50/P90, got {replications}")
    if network is not None and not network.exists():
        raise SimulationError(f"--network {network}: no such file")
    when = parse_time(at) if at is not None else None
    doc = predict_store(store, network, horizon=horizon, replications=replications, seed=seed, at=when,
                        policy_path=policy)
    if as_json:
        typer.echo(json.dumps(_finite(doc), indent=2, allow_nan=False, default=str))
        return
    from rich.table import Table

    meta = doc["meta"]
    t = Table(title=f"the live world, predicted: {horizon} days from {meta['at']} "
                    f"({replications} replications, seed {seed})")
    for c in ("KPI", "P10", "P50", "P90"):
        t.add_column(c, justify="left" if c == "KPI" else "right")
    for row in summary_rows(doc):
        t.add_row(*row)
    console = Console(width=max(80, min(Console().width, 120)), highlight=False)
    console.print(t)
    console.print("under the live loop's rules:")
    for line in rules_lines(doc):
        console.print(f"  {line}", markup=False)
    for note in meta.get("notes", ()):
        console.print(f"  note: {note}", markup=False)


def _finite(value: object) -> object:
    """``value`` with NaN and infinities as null (strict JSON)."""

    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_finite(v) for v in value]
    return value
