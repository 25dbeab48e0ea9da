"""``supplynet run`` raises what the world shows: a reefer excursion, a geofence arrival and a long dwell
each become an alert in the log and a row in a file sink, written once however often run is restarted;
a saved loop state the deployment did not seal is refused, never unpickled."""

from __future__ import annotations

import json
import os
import pickle
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from supplynet.events import Alert, Condition, Line, Position, ShipmentStatus
from supplynet.model import example_path, load_network
from supplynet.store import open_store

SRC = Path(__file__).resolve().parents[2] / "src"
REALISTIC = str(example_path("realistic"))
T0 = datetime(2026, 1, 5, 6, tzinfo=UTC)
ZERO_C = 273.15


def _events():
    net = load_network(REALISTIC)
    crw, lei = net.site("SUP-CRW").location, net.site("PLT-LEI").location
    out = [ShipmentStatus(source="wms-SUP-CRW", seq=1, ts=T0, shipment_id="SH1", status="departed",
                          lane_id="L-CRW-LEI", origin="SUP-CRW", destination="PLT-LEI", asset_id="RFR-CRW-LEI",
                          lines=(Line(sku="MINCE-10KG", quantity=40.0),), promised_at=T0 + timedelta(days=2.7))]
    temps = [4.0, 9.5, 9.8, 10.2, 9.9, 4.0, 4.1]  # about an hour above mince's 8 C: the lot is at risk
    out += [Condition(source="LOG-RFR-CRW-LEI", seq=i + 1, ts=T0 + timedelta(minutes=15 * (i + 1)),
                      asset_id="RFR-CRW-LEI", shipment_id="SH1", temperature_k=ZERO_C + c) for i, c in enumerate(temps)]
    # the reefer leaves the dairy, stands 4 hours in a lay-by half way, then reaches the kitchen
    mid = ((crw.lat + lei.lat) / 2, (crw.lon + lei.lon) / 2)
    fixes = [(crw.lat, crw.lon), (crw.lat + 0.02, crw.lon + 0.02)] + [mid] * 17 + [(lei.lat, lei.lon)]
    out += [Position(source="GPS-RFR-CRW-LEI", seq=i + 1, ts=T0 + timedelta(minutes=15 * (i + 1)),
                     asset_id="RFR-CRW-LEI", shipment_id="SH1", lat=la, lon=lo) for i, (la, lo) in enumerate(fixes)]
    # a later event closes the last tick
    out.append(ShipmentStatus(source="wms-PLT-LEI", seq=2, ts=T0 + timedelta(hours=9), shipment_id="SH1",
                              status="delivered", lane_id="L-CRW-LEI", origin="SUP-CRW", destination="PLT-LEI",
                              asset_id="RFR-CRW-LEI"))
    return out


def _run(db: Path, home: Path, sinks: Path, *extra: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(SRC), "SUPPLYNET_HOME": str(home)}
    return subprocess.run([sys.executable, "-m", "supplynet.cli", "run", "--store", f"sqlite:///{db}", "--network",
                           REALISTIC, "--sinks", str(sinks), "--tick", "3600", "--until-caught-up", *extra],
                          env=env, capture_output=True, text=True, timeout=600)


def _alerts(db: Path) -> list[Alert]:
    with open_store(db) as st:
        return [r.event for r in st.log.read(kinds=["alert"])]


def test_run_raises_cold_chain_geofence_and_dwell_alerts_once(tmp_path):
    db, home = tmp_path / "s.db", tmp_path / "home"
    home.mkdir()
    with open_store(db) as st:
        st.log.append(_events())
    sinks = tmp_path / "sinks.yaml"
    sinks.write_text(f"sinks:\n  - {{name: ops, kind: file, folder: {tmp_path / 'out'}, rotate: none, "
                     f"actions: [alert]}}\n")
    r = _run(db, home, sinks)
    assert r.returncode == 0, r.stderr[-2000:]
    codes = [a.code for a in _alerts(db)]
    for code in ("cold_chain_excursion", "product_at_risk", "geofence_departure", "long_dwell", "geofence_arrival"):
        assert code in codes, (code, codes)
    assert codes.count("product_at_risk") == 1
    arrivals = [a for a in _alerts(db) if a.code == "geofence_arrival"]
    assert {a.data["site"] for a in arrivals} == {"SUP-CRW", "PLT-LEI"}
    with open_store(db) as st:
        quality = [d for d in st.log.read(kinds=["alert"]) if d.event.code == "quality_hold"]
        assert quality == []  # the quality decision is proposed to a person (the default level), not executed
    # again, on the same log: nothing new is raised
    before = sorted(a.event_id for a in _alerts(db))
    assert _run(db, home, sinks).returncode == 0
    assert sorted(a.event_id for a in _alerts(db)) == before
    # the file sink got each alert once, with its action id as the idempotency key
    lines = [json.loads(x) for f in (tmp_path / "out").glob("*.jsonl") for x in f.read_text().splitlines()]
    got = [ln["body"]["code"] for ln in lines if ln["action"] == "alert"]
    assert "product_at_risk" in got and "long_dwell" in got
    assert len({ln["action_id"] for ln in lines}) == len(lines)


class _Boom:
    def __reduce__(self):
        return (os.system, ("touch /tmp/supplynet-pwned-by-loop-state",))


def test_a_planted_loop_state_is_refused_not_unpickled(tmp_path):
    from supplynet.errors import DataError
    from supplynet.loop import open_state, state_key

    Path("/tmp/supplynet-pwned-by-loop-state").unlink(missing_ok=True)
    key = state_key(tmp_path)
    planted = pickle.dumps(_Boom())
    for blob in (planted, b"supplynet-loop-state/1\n" + b"\0" * 32 + planted):
        with pytest.raises(DataError, match="refused"):
            open_state(blob, key)
    # through run: a store whose loop_state row was planted folds the log from the start instead
    db, home = tmp_path / "s.db", tmp_path / "home"
    home.mkdir()
    with open_store(db) as st:
        st.log.append(_events())
    sinks = tmp_path / "sinks.yaml"
    sinks.write_text(f"sinks:\n  - {{name: ops, kind: file, folder: {tmp_path / 'out'}, actions: [alert]}}\n")
    assert _run(db, home, sinks, "--snapshot-events", "10").returncode == 0
    with open_store(db) as st:
        tables = st.brain
        snap = st.snapshots.latest_snapshot()
        assert snap is not None and tables.state("main")[0] == snap.offset  # a snapshot and its sealed state
        tables.save_state("main", snap.offset, b"supplynet-loop-state/1\n" + b"\0" * 32 + planted)
    r = _run(db, home, sinks, "--snapshot-events", "10")
    assert r.returncode == 0, r.stderr[-2000:]
    assert "not sealed with this deployment's vault key" in r.stderr and "folding the log from its start" in r.stderr
    assert not Path("/tmp/supplynet-pwned-by-loop-state").exists()
