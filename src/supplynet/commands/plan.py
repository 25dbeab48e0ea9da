"""``supplynet plan``: inventory plans out of a network (and forecasts), and applying one.

    supplynet plan inventory --network network.yaml --forecasts fc.parquet --service-level 0.95 --out plan.csv
    supplynet plan inventory --network network.yaml --cost-model --out plan.csv
    supplynet plan inventory --network network.yaml --multi-echelon --out plan.csv
    supplynet plan gsm --willems ../shared/data/willems2008/willems_01.csv
    supplynet plan apply plan.csv --network network.yaml --store sqlite:///.supplynet/supplynet.db

``apply`` writes the plan's levels into the network file's ``policies`` (what ``supplynet run``
and the simulator size their orders with) and appends an audit entry (``plan.apply``: who, the
file, the previous and the new policies) to the store's hash-chained audit log.
"""

from __future__ import annotations

import contextlib
import json
import os
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Annotated, Any

import typer

from supplynet.commands.options import check_store
from supplynet.errors import DataError

app = typer.Typer(help="Inventory plans: a policy per SKU-site (single-echelon or GSM), and applying one.",
                  no_args_is_help=True)

NetworkOpt = Annotated[Path, typer.Option("--network", help="network YAML file")]


@contextlib.contextmanager
def _quiet_stdout() -> Iterator[None]:
    """Send what native solvers print on file descriptor 1 (HiGHS' banner) to stderr while
    solving, so stdout carries only the JSON result."""
    sys.stdout.flush()
    try:
        saved = os.dup(1)
    except OSError:  # no real descriptor 1 (embedded use): nothing to redirect
        yield
        return
    try:
        os.dup2(2, 1)
        yield
    finally:
        os.dup2(saved, 1)
        os.close(saved)


def _write(frame: Any, out: Path) -> None:
    suffix = out.suffix.lower()
    out.parent.mkdir(parents=True, exist_ok=True)
    if suffix == ".csv":
        frame.to_csv(out, index=False)
    elif suffix == ".parquet":
        frame.to_parquet(out, index=False)
    elif suffix == ".json":
        out.write_text(frame.to_json(orient="records", indent=2) + "\n")
    else:
        raise DataError(f"--out {out}: use a .csv, .parquet or .json file")


def _read_plan(path: Path) -> Any:
    import pandas as pd

    from supplynet.sense.demand.forecast_run import read_frame

    if path.suffix.lower() == ".json":
        try:
            return pd.read_json(path, orient="records")
        except ValueError as exc:
            raise DataError(f"{path}: not a plan JSON file ({exc})") from exc
    return read_frame(path, "plan")


@app.command("inventory")
def inventory(network: NetworkOpt,
              out: Annotated[Path, typer.Option("--out", help="FILE.csv | .parquet | .json")],
              forecasts: Annotated[Path | None, typer.Option("--forecasts", help="forecast file of supplynet "
                                                                                 "forecast run (unique_id site/sku)")]
              = None,
              service_level: Annotated[float | None, typer.Option("--service-level", help="cycle service level "
                                                                                         "(default: each policy's, "
                                                                                         "else 0.95)")] = None,
              cost_model: Annotated[bool, typer.Option("--cost-model", help="minimise holding + shortage + order "
                                                                            "cost instead")] = False,
              multi_echelon: Annotated[bool, typer.Option("--multi-echelon", help="place safety stock across the "
                                                                                  "echelons (GSM)")] = False) -> None:
    """A sized policy per SKU-site: type, reorder point, order-up-to, safety stock, expected fill and cost."""
    from supplynet.decide.plan import plan_inventory
    from supplynet.model import load_network
    from supplynet.sense.demand.forecast_run import read_frame
    from supplynet.sim.demand import demand_from_forecast
    from supplynet.sim.network import SimNetwork

    if out.suffix.lower() not in (".csv", ".parquet", ".json"):
        raise DataError(f"--out {out}: use a .csv, .parquet or .json file")
    net = load_network(network)
    items = SimNetwork.from_network(net)  # the stocking points the simulator stocks
    if forecasts is not None:
        items = demand_from_forecast(items, read_frame(forecasts, "--forecasts"))
    with _quiet_stdout():
        frame = plan_inventory(net, items, service_level=service_level, cost_model=cost_model,
                               multi_echelon=multi_echelon)
    _write(frame, out)
    summary: dict[str, Any] = {"network": net.name, "points": len(frame), "method": str(frame["method"].iloc[0]),
                               "safety_stock": round(float(frame["safety_stock"].sum()), 3),
                               "expected_cost_per_day": round(float(frame["expected_cost_per_day"].sum()), 4),
                               "out": str(out)}
    if "gsm" in frame.attrs:
        summary["gsm"] = frame.attrs["gsm"]
    typer.echo(json.dumps(summary))


@app.command("gsm")
def gsm_cmd(network: Annotated[Path | None, typer.Option("--network", help="network YAML file")] = None,
            willems: Annotated[Path | None, typer.Option("--willems", help="a Willems (2008) chain CSV")] = None,
            holding_rate: Annotated[float, typer.Option(help="--willems: holding cost rate on cumulative cost")]
            = 0.35,
            service_level: Annotated[float, typer.Option(help="--network: service level of the demand points")]
            = 0.95,
            time_limit: Annotated[float, typer.Option(help="seconds for the MILP on general networks")] = 120.0,
            out: Annotated[Path | None, typer.Option("--out", help="the stage table (.csv | .parquet | .json)")]
            = None) -> None:
    """Guaranteed-service safety-stock placement (Graves & Willems 2000): service times, NRTs, stock."""
    import pandas as pd

    from supplynet.decide.plan import plan_gsm, stage_problem_from_network
    from supplynet.policy import gsm

    if (network is None) == (willems is None):
        raise DataError("give exactly one of --network FILE or --willems CSV")
    if willems is not None:
        problem = gsm.GsmProblem.from_stages(gsm.willems_rows(willems), holding_rate=holding_rate, z_decimals=3)
        name = willems.name
    else:
        from supplynet.model import load_network
        from supplynet.sim.network import SimNetwork

        assert network is not None
        net = load_network(network)
        problem, name = stage_problem_from_network(net, SimNetwork.from_network(net), service_level), net.name
    with _quiet_stdout():
        res = plan_gsm(problem, time_limit)
    table = res.pop("table")
    if out is not None:
        _write(pd.DataFrame(table), out)
        res["out"] = str(out)
    elif problem.n <= 50:
        res["table"] = table
    typer.echo(json.dumps({"network": name, **res}))


@app.command("apply")
def apply(plan: Annotated[Path, typer.Argument(help="a plan file of supplynet plan inventory")],
          network: NetworkOpt,
          store: Annotated[str | None, typer.Option("--store", callback=check_store, help="store URL (its audit log records the change)")]
          = None,
          out: Annotated[Path | None, typer.Option("--out", help="write the new network here (default: in place)")]
          = None,
          actor: Annotated[str, typer.Option(help="who applies it (the audit entry's actor)")] = "cli") -> None:
    """Write the plan's levels into the network's policies and record it in the audit log."""
    from supplynet.config import Settings
    from supplynet.decide.plan_apply import apply_plan
    from supplynet.store import open_store

    frame = _read_plan(plan)
    with open_store(store or Settings().resolved_store_url()) as st:
        res = apply_plan(frame, network, out or network, st, actor=actor, plan_file=str(plan))
    sys.stdout.write(json.dumps(res) + "\n")
