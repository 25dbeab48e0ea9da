"""Every benchmark's ``--quick`` mode, run as a user runs it, its figures held to the claims.

Each bench runs as a subprocess (``.venv/bin/python bench/NAME.py --quick``) with
``SUPPLYNET_BENCH_RESULTS`` pointing at a temporary folder, so bench/results is left alone; the test
reads the JSON it wrote and checks the figures that a quick run can check in about a minute.

Two kinds of figure, two kinds of tolerance:

* model and solver quality (ETA, RUL, GSM, intermittent demand, the closed inventory loop) does not
  depend on the machine's load: held to the benchmark's claim with the tolerance stated beside each
  assertion;
* speed figures swing with the load of this shared 2-core machine (up to 8 engineers' jobs; load
  averages of 6-16 were seen while these were written, where one quick run of the sim bench took
  three times as long as the next). Speed is held to a floor stated with its reason (a floor that
  fails means a regression of several times, not noise), and only when the machine was not
  oversubscribed during the run (load average at most the number of CPUs at its start and end, as
  the result file records them); otherwise the test says so in a warning and checks the rest. What
  does not depend on speed is always checked: every message stored, exactly once, every request
  answered 200, every decision measured, the quality figures.

Marked ``slow`` (each bench takes 15 s to 2.5 minutes on the loaded machine); data-dependent benches
are marked ``data``.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import warnings
from pathlib import Path
from typing import Any

import pytest

from supplynet.testing.require import require_or_skip

pytestmark = [pytest.mark.slow, pytest.mark.timeout(600)]

ROOT = Path(__file__).resolve().parents[1]
DATA = Path(os.environ.get("SUPPLYNET_DATA_DIR", ROOT.parent / "shared" / "data"))


def run_bench(name: str, out: Path, timeout: float = 560.0) -> dict[str, Any]:
    """Run ``bench/<name>.py --quick`` into ``out``; returns its result document (plus ``start_load``)."""
    start_load = os.getloadavg()[0]
    env = {**os.environ, "SUPPLYNET_BENCH_RESULTS": str(out),
           "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT / "src"), os.environ.get("PYTHONPATH")]))}
    proc = subprocess.run([sys.executable, str(ROOT / "bench" / f"{name}.py"), "--quick"], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=timeout)
    assert proc.returncode == 0, f"bench/{name}.py --quick failed:\n{proc.stderr[-3000:]}"
    doc = json.loads((out / f"{name}.json").read_text())
    assert doc["name"] == name
    assert {"when", "machine", "figures", "targets"} <= set(doc)
    assert doc["notes"]["quick"] is True
    doc["start_load"] = start_load
    return doc


def calm(doc: dict[str, Any], start_load: float) -> bool:
    """Whether the machine was calm enough for a speed floor: load average (1 min) at most the number
    of CPUs at the run's start and end. Warns when it was not."""
    cpus = doc["machine"]["cpus"] or 1
    end_load = (doc["machine"]["loadavg"] or [0.0])[0]
    ok = max(start_load, end_load) <= cpus
    if not ok:
        warnings.warn(f"bench/{doc['name']}.py --quick: speed floors not checked, load average "
                      f"{start_load:.1f} -> {end_load:.1f} on {cpus} CPUs", stacklevel=2)
    return ok


def need(*parts: str) -> None:
    path = DATA.joinpath(*parts)
    if not path.exists():  # skipped locally, a failure under SUPPLYNET_REQUIRE_DATA (CI)
        require_or_skip(f"{path} not found (set SUPPLYNET_DATA_DIR)", "data")


def test_sim_quick(tmp_path: Path) -> None:
    doc = run_bench("sim", tmp_path)
    f, n = doc["figures"], doc["notes"]
    threads = n["threads"]["engine_numba_threads"]
    # equal cores in CPU time (the engine's threads summed against SimPy's one); the wall-clock ratio
    # per thread beside it is the whole-machine ratio over the threads
    per = n["per_core_detail"]
    assert per["wall_clock_ratio_per_thread"] == pytest.approx(f["ratio_vs_simpy"] / threads, abs=0.06)
    cpu_ratio = per["engine_cpu_sku_loc_days_per_s"] / per["simpy_cpu_sku_loc_days_per_s"]
    assert f["ratio_vs_simpy_per_core"] == pytest.approx(cpu_ratio, rel=0.25)  # a median of pairs vs medians
    # the fast SimPy writing is the faster reference (the issue measured ~1.5x): never slower than the old
    assert n["simpy_scalar"]["fast_reference_speedup"] > 1.1
    if calm(doc, doc["start_load"]):
        # the engine on all cores against SimPy on one: 84 in a quick run at load 6; 30 is a
        # regression of more than 2x, not noise
        assert f["ratio_vs_simpy"] >= 30
        if f["willems706_seconds"] is not None:
            assert f["willems706_seconds"] < 60  # the target


def test_ingest_quick(tmp_path: Path) -> None:
    # the bench itself fails when a message is not stored exactly once (every gateway run, the two
    # workers with one killed, the HTTP run with a non-2xx answer): a zero exit checks all of that
    doc = run_bench("ingest", tmp_path)
    f, n = doc["figures"], doc["notes"]
    assert n["two_workers_one_killed_exactly_once"] is True
    assert n["sizes"]["quick"] is True
    for key in ("mqtt_qos1_ratio_vs_bare", "mqtt_qos1_ratio_vs_bare_hmac"):
        assert f[key] > 0, (key, f[key])
    if calm(doc, doc["start_load"]):
        # the bare reference does strictly less work on the same messages than the gateway: a ratio
        # over 1.1 on a calm machine means the reference is broken, not the gateway fast (loaded,
        # single pairs ranged 0.70-1.37: both sides were held by the publisher and the broker)
        for key in ("mqtt_qos1_ratio_vs_bare", "mqtt_qos1_ratio_vs_bare_hmac"):
            assert 0.1 <= f[key] <= 1.1, (key, f[key])
        # HMAC verification is ~20x cheaper than Ed25519: the HMAC gateway is not much the slower
        assert f["gateway_qos1_hmac_msgs_per_s"] >= 0.8 * f["gateway_qos1_msgs_per_s"]
        # targets 100,000 and 200,000 readings/s (quick at load 8: 64,000 and 44,000): a tenth of
        # the target is a regression, not noise
        assert f["mqtt_batched_readings_per_s"] >= 10_000
        assert f["http_readings_per_s"] >= 10_000
        assert f["publish_to_commit_p50_ms"] < 100


def test_decision_latency_quick(tmp_path: Path) -> None:
    doc = run_bench("decision_latency", tmp_path)
    f, n = doc["figures"], doc["notes"]
    assert n["decisions_measured"] == n["trials"] == 100  # one decision per trial, each measured
    assert n["trials_declared_on_a_bulk_ping"] == 0
    assert f["delay_to_decision_p50_ms"] <= f["delay_to_decision_p99_ms"] <= f["decision_latency_max_ms"]
    if calm(doc, doc["start_load"]):
        # the writer keeps up with the 5,000 msg/s it is offered (within 5%: the window's edges)
        assert f["background_msgs_per_s"] >= 0.95 * 5000
        # target p99 < 250 ms; the median is held to it (quick at load 10: 48 ms)
        assert f["delay_to_decision_p50_ms"] < 250


def test_api_quick(tmp_path: Path) -> None:
    doc = run_bench("api", tmp_path)
    f, n = doc["figures"], doc["notes"]
    assert f["state_failures"] == f["events_failures"] == f["kpis_failures"] == 0  # every answer a 200
    for page in ("state", "events", "kpis"):
        (run,) = n["sweeps"][page]
        # open loop: every scheduled request was sent and answered, at the offered rate
        assert run["requests"] == run["offered_per_s"] * n["seconds_per_rate"]
        assert run["status"] == {"200": run["requests"]}
    if calm(doc, doc["start_load"]):
        # target p99 < 100 ms at 100 requests/s; the median is held to it
        assert n["sweeps"]["state"][0]["p50_ms"] < 100


def test_log_quick(tmp_path: Path) -> None:
    doc = run_bench("log", tmp_path)
    f = doc["figures"]
    assert f["sqlite_single_events_per_s"] > 0
    if calm(doc, doc["start_load"]):
        # target ratio_vs_raw_sqlite >= 0.7 (the log against plain sqlite3, interleaved in one run);
        # quick (2 repeats) floor 0.5 (0.45 measured at load 15)
        assert f["ratio_vs_raw_sqlite"] >= 0.5


def test_model_load_quick(tmp_path: Path) -> None:
    doc = run_bench("model_load", tmp_path)
    if calm(doc, doc["start_load"]):
        assert doc["figures"]["realistic_load_seconds"] < 1.0  # the target


@pytest.mark.data
def test_eta_quick(tmp_path: Path) -> None:
    need("gps-trajectories", "liverpool_bus_route14_outbound.csv")
    f = run_bench("eta", tmp_path)["figures"]
    # claim 42.5% below the naive over seeds 0-4; target 40% (the guard: 2.5 points under the claim)
    assert f["eta_mae_reduction_vs_naive"] >= 0.40
    assert 0.85 <= f["eta_p90_coverage"] <= 0.95  # target; claim 0.931
    assert f["eta_n_trips"] == 10
    if "scms_late_roc_auc" in f:  # the classifier beats the per-lane late rate
        assert f["scms_late_roc_auc"] > f["scms_lane_rate_roc_auc"]


def test_forecast_quick(tmp_path: Path) -> None:
    f = run_bench("forecast", tmp_path)["figures"]
    # target: the default model on intermittent series at least as good as classic Croston
    assert f["intermittent_mase_model"] <= f["intermittent_mase_croston"]


@pytest.mark.data
def test_maintenance_quick(tmp_path: Path) -> None:
    need("cmapss")
    need("femto-pronostia", "Learning_set", "Bearing3_1")
    doc = run_bench("maintenance", tmp_path)
    f = doc["figures"]
    assert f["rmse_capped_FD001"] <= 11.5  # the claim and target, no tolerance
    assert 0.75 <= f["coverage80_FD001"] <= 0.85  # target
    assert f["bearing_onset_seconds_before_failure"] > 0
    assert doc["notes"]["bearing"]["alarm_in_first_half"] is False
    if calm(doc, doc["start_load"]):
        assert f["train_seconds_FD001"] < 60  # target


@pytest.mark.data
def test_gsm_quick(tmp_path: Path) -> None:
    need("willems2008")
    doc = run_bench("gsm", tmp_path)
    f, n = doc["figures"], doc["notes"]
    # chains 2, 4, 17 (covered) and 31 (706 stages, stochastic lead times: not covered): 2 and 4
    # within 0.1% of the published cost, 17 within its rounding (three significant figures)
    assert (f["gsm_chains_covered"], f["gsm_chains_within_0_1pct"]) == (3, 2)
    assert n["covered_within_0_1pct"] == [2, 4]
    assert n["covered_within_rounding"] == [2, 4, 17]
    if calm(doc, doc["start_load"]):
        assert f["gsm_706_seconds"] < 10  # the target


@pytest.mark.data
def test_inventory_quick(tmp_path: Path) -> None:
    need("walmart-store-sales")
    f = run_bench("inventory", tmp_path)["figures"]
    assert f["fill_rate_platform"] >= f["fill_rate_static"]  # target
    # target >= 15% less stock on hand than the static policy; quick (every 10th series) measured 18.8%:
    # the guard is the target itself
    assert f["avg_inventory_reduction"] >= 0.15


def test_loop_quick(tmp_path: Path) -> None:
    """bench/loop.py (issue 14): the brain's rate and lag, restart from a snapshot, PostgreSQL failover and
    outbox deliveries. A standby taking over is a property, not a speed: always held to the 10 s target."""
    doc = run_bench("loop", tmp_path)
    f = doc["figures"]
    assert f["loop_events_per_s"] > 0 and f["loop_lag_p99_s"] >= 0
    assert 0 < f["failover_seconds"] < 10
    assert f["outbox_deliveries_per_s"] > 0
    if calm(doc, doc["start_load"]):
        assert f["restart_seconds_1m_events"] < 10  # the target, with a snapshot every 25,000 events
        assert f["outbox_deliveries_per_s"] >= 1000
        assert f["loop_lag_p99_s"] < 1


def test_overload_quick(tmp_path: Path) -> None:
    """bench/overload.py (issue 15): 1M junk items cost neither memory nor time; goodput under 1,000 clients."""
    doc = run_bench("overload", tmp_path)
    f = doc["figures"]
    assert f["junk_1m_items_rss_mb"] < 50  # memory does not depend on the load
    assert f["goodput_ratio_1000_vs_4"] > 0
    if calm(doc, doc["start_load"]):
        assert f["junk_1m_items_seconds"] < 1
        assert f["goodput_ratio_1000_vs_4"] >= 0.5
        assert f["health_p99_ms_under_overload"] < 200
