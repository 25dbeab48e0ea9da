"""Report folder of a stress test: ``report.json``, ``report.html`` and PNG plots (matplotlib Agg).

Plots a planner would rather look at than read: the daily fill rate as a P5-P95 band per scenario,
backorders over time, time-to-survive against time-to-recover per site (flagged sites in red), and
the cost and revenue-at-risk distribution per scenario.
"""

from __future__ import annotations

import html
import json
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from supplynet.sim import _kernel as K
from supplynet.sim import kpi
from supplynet.sim.engine import SimResult

__all__ = ["build_tables", "write_report"]


def build_tables(results: dict[str, SimResult]) -> dict[str, pd.DataFrame]:
    """Tidy tables for every scenario: network, site, item KPIs and node resilience."""
    return {
        "network": pd.concat([kpi.network_kpis(r) for r in results.values()], ignore_index=True),
        "sites": pd.concat([kpi.site_kpis(r) for r in results.values()], ignore_index=True),
        "items": pd.concat([kpi.item_kpis(r) for r in results.values()], ignore_index=True),
        "resilience": pd.concat([kpi.node_resilience(r) for r in results.values()], ignore_index=True),
    }


def _plots(results: dict[str, SimResult], tables: dict[str, pd.DataFrame], out: Path) -> list[str]:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    files = []
    fig, axes = plt.subplots(2, 1, figsize=(9, 6.5), sharex=True)
    for name, res in results.items():
        d = res.daily
        with np.errstate(invalid="ignore", divide="ignore"):
            fr = np.where(d[:, :, K.D_DEMAND] > 0, d[:, :, K.D_SERVED_NOW] / d[:, :, K.D_DEMAND], np.nan)
        days = np.arange(d.shape[1])
        lo, mid, hi = np.nanquantile(fr, [0.05, 0.5, 0.95], axis=0)
        axes[0].fill_between(days, lo, hi, alpha=0.25)
        axes[0].plot(days, mid, label=name)
        blo, bmid, bhi = np.quantile(d[:, :, K.D_BACKLOG], [0.05, 0.5, 0.95], axis=0)
        axes[1].fill_between(days, blo, bhi, alpha=0.25)
        axes[1].plot(days, bmid, label=name)
    axes[0].set_ylabel("daily fill rate (P5-P95)")
    axes[0].set_ylim(0, 1.02)
    axes[0].legend(loc="lower left", fontsize=8)
    axes[1].set_ylabel("units backordered")
    axes[1].set_xlabel("day")
    fig.tight_layout()
    fig.savefig(out / "service_over_time.png", dpi=110)
    plt.close(fig)
    files.append("service_over_time.png")

    res_df = tables["resilience"]
    if not res_df.empty:
        top = res_df.sort_values("risk_exposure_index", ascending=False).drop_duplicates("site").head(15)
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
        files.append("tts_ttr.png")

    fig, ax = plt.subplots(figsize=(9, 4))
    data = [kpi.network_per_replication(r)["total_cost"] + kpi.network_per_replication(r)["revenue_at_risk"]
            for r in results.values()]
    ax.boxplot(data, whis=(5, 95), showfliers=False)
    ax.set_xticks(range(1, len(results) + 1), list(results), fontsize=8)
    ax.set_ylabel("cost + revenue at risk per replication")
    fig.tight_layout()
    fig.savefig(out / "cost_distribution.png", dpi=110)
    plt.close(fig)
    files.append("cost_distribution.png")
    return files


def _records(df: pd.DataFrame) -> list[dict[str, Any]]:
    return json.loads(df.to_json(orient="records"))


def write_report(out_dir: str | Path, results: dict[str, SimResult], *, meta: dict[str, Any] | None = None,
                 comparison: pd.DataFrame | None = None) -> dict[str, Any]:
    """Write the report folder; returns the JSON summary written to ``report.json``."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    tables = build_tables(results)
    pngs = _plots(results, tables, out)
    for name, df in tables.items():
        df.to_csv(out / f"{name}.csv", index=False)
    ranking = tables["resilience"]
    summary = {
        "meta": meta or {},
        "scenarios": list(results),
        "network": _records(tables["network"]),
        "resilience": _records(ranking),
        "sites": _records(tables["sites"]),
        "comparison": _records(comparison) if comparison is not None else None,
        "plots": pngs,
    }
    (out / "report.json").write_text(json.dumps(summary, indent=2, default=str))
    net = tables["network"].pivot_table(index="metric", columns="scenario", values="p50", sort=False)
    parts = [
        "<!doctype html><html><head><meta charset='utf-8'><title>supplynet stress test</title>",
        "<style>body{font-family:system-ui,sans-serif;margin:2em;max-width:1100px}table{border-collapse:collapse;"
        "font-size:13px}td,th{border:1px solid #ddd;padding:3px 8px;text-align:right}th{background:#f3f3f3}"
        ".flag{color:#c44e52;font-weight:bold}</style></head><body>",
        f"<h1>Stress test: {html.escape(str((meta or {}).get('network', '')))}</h1>",
        f"<p>{html.escape(json.dumps(meta or {}, default=str))}</p>",
        "<h2>Network KPIs (median over replications)</h2>", net.to_html(float_format=lambda v: f"{v:,.3f}"),
        "<h2>Risk exposure ranking (TTS vs TTR, Simchi-Levi et al. 2015)</h2>",
        ranking.to_html(index=False, float_format=lambda v: f"{v:,.2f}") if not ranking.empty else "<p>none</p>",
    ]
    if comparison is not None:
        parts += ["<h2>Policy comparison (paired, common random numbers)</h2>",
                  comparison.to_html(index=False, float_format=lambda v: f"{v:,.3f}")]
    parts += [f"<h2>{html.escape(p[:-4].replace('_', ' '))}</h2><img src='{p}' style='max-width:100%'>" for p in pngs]
    parts.append("</body></html>")
    (out / "report.html").write_text("\n".join(parts))
    return summary
