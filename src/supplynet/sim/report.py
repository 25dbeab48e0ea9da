"""Report folder of a stress test: ``report.json``, ``report.html`` (Jinja2), CSV tables and PNG plots.

Plots a planner would rather look at than read: the daily fill rate as a P5-P95 band per scenario,
units backordered (only when the network backorders) or lost (only when it loses sales) over time,
time-to-survive against time-to-recover per site and scenario (flagged sites in red; the baseline is
the reference, never ranked), and the total cost per scenario, in the network's currency. The same
numbers print as a table at the terminal (:func:`summary_table`).
"""

from __future__ import annotations

import json
import math
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from supplynet.sim import _kernel as K
from supplynet.sim import kpi
from supplynet.sim.engine import SimResult

__all__ = ["build_tables", "days_cell", "cost_breakdown", "render_table", "scenario_summary", "service_panels",
           "summary_table", "write_report"]

_COST_LABELS = {"holding_cost": "holding", "ordering_cost": "ordering", "transport_cost": "transport",
                "lost_sale_cost": "lost sales", "backorder_cost": "backorders",
                "demand_loss_cost": "demand lost to the disruption", "downtime_cost": "machine downtime"}


def build_tables(results: dict[str, SimResult]) -> dict[str, pd.DataFrame]:
    """Tidy tables for every scenario: network, site, item KPIs and node resilience."""
    return {
        "network": pd.concat([kpi.network_kpis(r) for r in results.values()], ignore_index=True),
        "sites": pd.concat([kpi.site_kpis(r) for r in results.values()], ignore_index=True),
        "items": pd.concat([kpi.item_kpis(r) for r in results.values()], ignore_index=True),
        "resilience": pd.concat([kpi.node_resilience(r) for r in results.values()], ignore_index=True),
    }


def currency_of(results: dict[str, SimResult]) -> str:
    """The currency the results are priced in ("" when the network named none)."""
    return next((str(r.meta.get("currency") or "") for r in results.values()), "")


def _has(results: dict[str, SimResult], what: str) -> bool:
    """Whether the network has demand that is backordered / lost (unknown: judged from the numbers)."""
    flags = [r.meta.get(what) for r in results.values()]
    if all(f is not None for f in flags):
        return any(int(f) > 0 for f in flags if f is not None)
    col = K.D_BACKLOG if what == "backorder_items" else K.D_LOST
    return any(float(r.daily[:, :, col].max(initial=0.0)) > 0 for r in results.values())


def scenario_summary(results: dict[str, SimResult]) -> pd.DataFrame:
    """One row per scenario (means over replications): fill rate, lost sales and backorders (only those the
    network has), revenue at risk, total cost and its difference to the baseline, in the results' currency."""
    rows = []
    for name, res in results.items():
        per = kpi.network_per_replication(res)
        rows.append({"scenario": name, "fill_rate": float(per["fill_rate"].mean()),
                     "lost_sales": float(per["lost_sales"].mean()), "backorders": float(per["backorders"].mean()),
                     "revenue_at_risk": float(per["revenue_at_risk"].mean()),
                     "total_cost": float(per["total_cost"].mean()),
                     "total_cost_p5": float(per["total_cost"].quantile(0.05)),
                     "total_cost_p95": float(per["total_cost"].quantile(0.95))})
    df = pd.DataFrame(rows)
    if df.empty:
        return df
    base = df.loc[df["scenario"] == "baseline", "total_cost"]
    df["vs_baseline"] = df["total_cost"] - float(base.iloc[0]) if len(base) else np.nan
    drop = [c for c, what in (("lost_sales", "lost_sale_items"), ("backorders", "backorder_items"))
            if not _has(results, what)]
    return df.drop(columns=drop)


def cost_breakdown(results: dict[str, SimResult]) -> pd.DataFrame:
    """Mean cost per component (rows: :data:`supplynet.sim.kpi.COST_COMPONENTS` and ``total_cost``) per scenario."""
    cols = {}
    for name, res in results.items():
        per = kpi.network_per_replication(res)
        cols[name] = [float(per[c].mean()) for c in (*kpi.COST_COMPONENTS, "total_cost")]
    return pd.DataFrame(cols, index=[*kpi.COST_COMPONENTS, "total_cost"])


def _money(v: float, decimals: int = 0) -> str:
    return "-" if v is None or not np.isfinite(v) else f"{v:,.{decimals}f}"


def _signed(v: float) -> str:
    return "" if v is None or not np.isfinite(v) else f"{v:+,.0f}"


def render_table(title: str, header: list[str], rows: list[list[str]], *, text: int = 1) -> Any:
    """A rich Table: the first ``text`` columns left-aligned, the others (numbers) right-aligned; the
    last column left-aligned when its header is ``flags``."""
    from rich.table import Table

    table = Table(title=title, title_justify="left", header_style="bold")
    for j, h in enumerate(header):
        numeric = j >= text and h != "flags"
        table.add_column(h, justify="right" if numeric else "left", no_wrap=numeric,
                         overflow="ellipsis" if numeric else "fold")
    for row in rows:
        table.add_row(*row)
    return table


def summary_table(results: dict[str, SimResult]) -> Any:
    """The scenarios side by side, readable at 80 columns (a rich Table)."""
    cur = currency_of(results)
    df = scenario_summary(results)
    unit = f" ({cur})" if cur else ""
    header = ["scenario", "fill rate"]
    if "lost_sales" in df:
        header.append("lost units")
    if "backorders" in df:
        header.append("backorders")
    header += [f"total cost{unit}", "vs baseline"]
    rows = []
    for _, r in df.iterrows():
        row = [str(r["scenario"]), f"{100 * r['fill_rate']:.1f}%" if np.isfinite(r["fill_rate"]) else "-"]
        if "lost_sales" in df:
            row.append(_money(r["lost_sales"]))
        if "backorders" in df:
            row.append(_money(r["backorders"], 1))
        row += [_money(r["total_cost"]), _signed(r["vs_baseline"])]
        rows.append(row)
    return render_table("Scenarios (mean over replications)", header, rows)


def ranking_rows(results: dict[str, SimResult], top: int = 10) -> list[dict[str, Any]]:
    """The riskiest (site, scenario) pairs, scenarios only (a baseline row is never a risk)."""
    frames = [kpi.node_resilience(r) for name, r in results.items() if r.ev_start.shape[1] and name != "baseline"]
    frames = [f for f in frames if not f.empty]
    if not frames:
        return []
    df = pd.concat(frames, ignore_index=True).sort_values(["risk_exposure_index", "ttr_p50"], ascending=False)
    return json.loads(df.head(top).to_json(orient="records"))


#: what the TTS and TTR columns mean (:func:`supplynet.sim.kpi.node_resilience`), under every table showing them
TTS_TTR_MEANING = ("TTS (time to survive): days from the first disruption until the skus a site fails to serve "
                   "carry over a tenth of its demand. TTR (time to recover): days until all but a tenth of its "
                   "demand is served again for good. P50 over replications. 'short before': already short before "
                   "the disruption (those skus are left out of its TTS; '-': every sku was).")


def days_cell(v: Any) -> str:
    """Whole days, or "-" where there is no figure (a site short before the disruption has no TTS)."""
    return "-" if v is None or not math.isfinite(float(v)) else f"{float(v):.0f}"


def ranking_table(rows: list[dict[str, Any]]) -> Any:
    out = []
    for r in rows:
        flags = ("TTS<TTR " if r.get("flag_tts_lt_ttr") else "") + ("short before" if r.get("short_before_disruption") else "")
        out.append([str(r["site"]), str(r["scenario"]), f"{r['risk_exposure_index']:.2f}", days_cell(r["tts_p50"]),
                    days_cell(r["ttr_p50"]), flags.strip()])
    table = render_table("Risk exposure (TTS/TTR in days from the first disruption)",
                         ["site", "scenario", "risk", "TTS", "TTR", "flags"], out, text=2)
    table.caption = TTS_TTR_MEANING
    table.caption_justify = "left"
    return table


def service_panels(results: dict[str, SimResult]) -> list[tuple[str, str]]:
    """The panels of the service plot: the fill rate, and backorders or lost sales only when the network
    has them (no flat-zero backorder panel on a lost-sales network)."""
    panels = [("fill", "daily fill rate (P5-P95)")]
    if _has(results, "backorder_items"):
        panels.append(("backlog", "units backordered"))
    if _has(results, "lost_sale_items"):
        panels.append(("lost", "units of demand lost per day"))
    return panels


def _plots(results: dict[str, SimResult], tables: dict[str, pd.DataFrame], out: Path) -> list[dict[str, str]]:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    cur = currency_of(results)
    panels = service_panels(results)
    files = []
    fig, axes = plt.subplots(len(panels), 1, figsize=(9, 2.6 * len(panels) + 1), sharex=True, squeeze=False)
    axes = axes[:, 0]
    for name, res in results.items():
        d = res.daily
        with np.errstate(invalid="ignore", divide="ignore"):
            fr = np.where(d[:, :, K.D_DEMAND] > 0, d[:, :, K.D_SERVED_NOW] / d[:, :, K.D_DEMAND], np.nan)
        days = np.arange(d.shape[1])
        series = {"fill": fr, "backlog": d[:, :, K.D_BACKLOG], "lost": d[:, :, K.D_LOST]}
        for ax, (key, _) in zip(axes, panels, strict=True):
            lo, mid, hi = np.nanquantile(series[key], [0.05, 0.5, 0.95], axis=0)
            ax.fill_between(days, lo, hi, alpha=0.25)
            ax.plot(days, mid, label=name)
    for ax, (key, label) in zip(axes, panels, strict=True):
        ax.set_ylabel(label, fontsize=9)
        if key == "fill":
            ax.set_ylim(0, 1.02)
            ax.legend(loc="lower left", fontsize=8)
    axes[-1].set_xlabel("day")
    fig.tight_layout()
    fig.savefig(out / "service_over_time.png", dpi=110)
    plt.close(fig)
    files.append({"file": "service_over_time.png", "title": "Service over time"})

    res_df = tables["resilience"]
    res_df = res_df[res_df["risk_exposure_index"].notna()] if not res_df.empty else res_df
    if not res_df.empty:
        top = res_df.sort_values("risk_exposure_index", ascending=False).head(15)
        fig, ax = plt.subplots(figsize=(9, 0.35 * len(top) + 1.5))
        y = np.arange(len(top))
        ax.barh(y - 0.2, top["tts_p50"], height=0.4, label="time to survive (P50)", color="#4c72b0")
        ax.barh(y + 0.2, top["ttr_p50"], height=0.4, label="time to recover (P50)",
                color=np.where(top["flag_tts_lt_ttr"], "#c44e52", "#999999"))
        ax.set_yticks(y, [f"{s} ({sc})" for s, sc in zip(top["site"], top["scenario"], strict=True)], fontsize=8)
        ax.invert_yaxis()
        ax.set_xlabel("days from the first disruption (red: TTS < TTR)")
        ax.legend(fontsize=8)
        fig.tight_layout()
        fig.savefig(out / "tts_ttr.png", dpi=110)
        plt.close(fig)
        files.append({"file": "tts_ttr.png", "title": "Time to survive and time to recover (riskiest sites)"})

    fig, ax = plt.subplots(figsize=(9, 4))
    data = [kpi.network_per_replication(r)["total_cost"] for r in results.values()]
    ax.boxplot(data, whis=(5, 95), showfliers=False)
    ax.set_xticks(range(1, len(results) + 1), list(results), fontsize=8)
    ax.set_ylabel(f"total cost per replication{f' ({cur})' if cur else ''}")
    fig.tight_layout()
    fig.savefig(out / "cost_distribution.png", dpi=110)
    plt.close(fig)
    files.append({"file": "cost_distribution.png", "title": "Total cost per scenario (P5-P95 whiskers)"})
    return files


def _records(df: pd.DataFrame) -> list[dict[str, Any]]:
    return json.loads(df.to_json(orient="records"))


def _html(results: dict[str, SimResult], meta: dict[str, Any], plots: list[dict[str, str]],
          comparison: pd.DataFrame | None) -> str:
    import jinja2

    env = jinja2.Environment(loader=jinja2.FileSystemLoader(str(resources.files("supplynet.sim") / "templates")),
                             autoescape=True, undefined=jinja2.StrictUndefined)
    summary = scenario_summary(results)
    cols = [("fill_rate", "fill rate")]
    cols += [(c, label) for c, label in (("lost_sales", "units lost"), ("backorders", "avg backorders"))
             if c in summary]
    cur = currency_of(results)
    unit = f" ({cur})" if cur else ""
    cols += [("revenue_at_risk", f"revenue at risk{unit}"), ("total_cost", f"total cost{unit}"),
             ("vs_baseline", "vs baseline")]
    srows = []
    for _, r in summary.iterrows():
        row: dict[str, Any] = {"scenario": r["scenario"]}
        for c, _label in cols:
            v = r[c]
            row[c] = (f"{100 * v:.2f}%" if np.isfinite(v) else "-") if c == "fill_rate" else \
                _signed(v) if c == "vs_baseline" else _money(v, 1 if c == "backorders" else 0)
        srows.append(row)
    breakdown = cost_breakdown(results)
    absent = {c for c, what in (("lost_sale_cost", "lost_sale_items"), ("backorder_cost", "backorder_items"))
              if not _has(results, what)}
    cost_rows = [{"label": _COST_LABELS.get(c, "total"), "values": [_money(v) for v in breakdown.loc[c]]}
                 for c in breakdown.index if c not in absent]
    ranking = [{"site": r["site"], "kind": r["kind"], "scenario": r["scenario"],
                "rei": f"{r['risk_exposure_index']:.2f}", "tts": days_cell(r["tts_p50"]), "ttr": days_cell(r["ttr_p50"]),
                "flags": ", ".join(f for f, on in (("TTS < TTR", r.get("flag_tts_lt_ttr")),
                                                   ("short before the disruption", r.get("short_before_disruption")))
                                   if on),
                "rar": _money(r["revenue_at_risk_mean"])} for r in ranking_rows(results, top=25)]
    comp = None
    if comparison is not None and not comparison.empty:
        comp = {"header": list(comparison.columns),
                "rows": [[f"{v:,.3f}" if isinstance(v, float) else str(v) for v in row]
                         for row in comparison.itertuples(index=False)]}
    return env.get_template("report.html.j2").render(
        network=meta.get("network", ""), replications=meta.get("replications", ""), horizon=meta.get("horizon", ""),
        seed=meta.get("seed", ""), scenarios=list(results), currency=currency_of(results) or "(no currency)",
        live=meta.get("live"), summary_columns=[{"key": c, "label": label} for c, label in cols], summary_rows=srows,
        cost_rows=cost_rows, ranking=ranking, comparison=comp, plots=plots,
        warnings=(meta.get("live") or {}).get("warnings") or [])


def write_report(out_dir: str | Path, results: dict[str, SimResult], *, meta: dict[str, Any] | None = None,
                 comparison: pd.DataFrame | None = None) -> dict[str, Any]:
    """Write the report folder; returns the JSON summary written to ``report.json``."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    meta = dict(meta or {})
    meta.setdefault("currency", currency_of(results))
    tables = build_tables(results)
    plots = _plots(results, tables, out)
    for name, df in tables.items():
        df.to_csv(out / f"{name}.csv", index=False)
    breakdown = cost_breakdown(results)
    summary = {
        "meta": meta,
        "currency": meta["currency"],
        "scenarios": list(results),
        "summary": _records(scenario_summary(results)),
        "costs": {name: {c: float(breakdown.loc[c, name]) for c in breakdown.index} for name in results},
        "network": _records(tables["network"]),
        "resilience": _records(tables["resilience"]),
        "ranking": ranking_rows(results, top=25),
        "sites": _records(tables["sites"]),
        "comparison": _records(comparison) if comparison is not None else None,
        "plots": [p["file"] for p in plots],
    }
    (out / "report.json").write_text(json.dumps(summary, indent=2, default=str))
    (out / "report.html").write_text(_html(results, meta, plots, comparison))
    return summary
