"""No disruption looks cheaper than normal operation (issue 16's target). Run: .venv/bin/python bench/disruption_costs.py [--quick]

For the realistic and the tiny example networks and seeds 0-4, every library scenario and the baseline
(no disruption) run on common random numbers (same seed: the same demand and lead-time draws); each
run's expected total cost is its mean over the replications, priced by the network's one cost model
(:class:`supplynet.model.CostModel`, in its currency). The figure per network, seed and scenario is that
cost over the baseline's; the target: every ratio >= 1 on every seed.

Figures: ``disruption_cost_over_baseline_min`` (the smallest ratio over everything), per network
``<network>_min_ratio`` and per network and seed ``<network>_seed<k>`` (the smallest ratio of that
seed's scenarios), ``scenarios_checked`` and ``scenarios_cheaper_than_baseline`` (must be 0).
``--quick``: seeds 0-1 and fewer replications.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "bench"))
from _common import write_result  # noqa: E402

from supplynet.model import example_path, load_network  # noqa: E402
from supplynet.sim import kpi  # noqa: E402
from supplynet.sim.engine import Simulation  # noqa: E402
from supplynet.sim.network import SimNetwork  # noqa: E402
from supplynet.sim.scenario import library, load_scenario  # noqa: E402


def mean_cost(net: SimNetwork, scenario, *, seed: int, reps: int, horizon: int) -> float:
    res = Simulation(net, horizon=horizon, replications=reps, seed=seed, scenario=scenario).run().result()
    return float(kpi.network_per_replication(res)["total_cost"].mean())


def main(quick: bool = False) -> None:
    seeds = [0, 1] if quick else [0, 1, 2, 3, 4]
    plan = {"realistic": (16 if quick else 32, 90 if quick else 120), "tiny": (24 if quick else 64, 120)}
    figures: dict[str, float] = {}
    notes: dict[str, object] = {"horizon_days": {k: v[1] for k, v in plan.items()},
                                "replications": {k: v[0] for k, v in plan.items()}, "ratios": {}}
    cheaper = checked = 0
    t0 = time.perf_counter()
    for name, (reps, horizon) in plan.items():
        model = load_network(example_path(name))
        net = SimNetwork.from_network(model)
        notes.setdefault("currency", {})[name] = model.currency  # type: ignore[index]
        worst = float("inf")
        for seed in seeds:
            base = mean_cost(net, None, seed=seed, reps=reps, horizon=horizon)
            ratios = {}
            for sc in library():
                cost = mean_cost(net, load_scenario(sc), seed=seed, reps=reps, horizon=horizon)
                ratios[sc] = cost / base
                checked += 1
                cheaper += cost < base
            notes["ratios"][f"{name}_seed{seed}"] = {k: round(v, 4) for k, v in ratios.items()}  # type: ignore[index]
            notes["ratios"][f"{name}_seed{seed}"]["baseline_cost"] = round(base, 2)  # type: ignore[index]
            figures[f"{name}_seed{seed}"] = min(ratios.values())
            worst = min(worst, min(ratios.values()))
        figures[f"{name}_min_ratio"] = worst
    figures["disruption_cost_over_baseline_min"] = min(v for k, v in figures.items() if k.endswith("_min_ratio"))
    figures["scenarios_checked"] = checked
    figures["scenarios_cheaper_than_baseline"] = cheaper
    notes["seconds"] = round(time.perf_counter() - t0, 1)
    write_result("disruption_costs", figures,
                 targets={"disruption_cost_over_baseline_min": ">= 1 (every library scenario's expected total "
                                                               "cost >= the baseline's, every seed)",
                          "scenarios_cheaper_than_baseline": 0,
                          "met": bool(cheaper == 0)},
                 notes=notes)
    if cheaper:
        raise SystemExit(f"{cheaper} of {checked} scenario runs cost less than their baseline")


if __name__ == "__main__":
    main(quick="--quick" in sys.argv[1:])
