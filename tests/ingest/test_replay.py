"""File replay (CSV, JSONL, Parquet, GPX) through the gate, signed by an operator key."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from supplynet.errors import DataError, SecurityError
from supplynet.ingest.replay import replay_file
from supplynet.security.signing import OperatorKey, sign_file
from supplynet.testing.require import require_or_skip

from .conftest import make_dev


@pytest.fixture
def operator(gate) -> OperatorKey:
    cred = gate.registry.provision("operator:alice", kind="operator", now_us=int(gate.clock() * 1e6))
    return OperatorKey(cred.private_key)


def _csv(path: Path, n: int, source: str = "hist-1") -> Path:
    lines = ["source,ts,kind,temperature,colour"]
    lines += [f"{source},2025-06-01T00:{i // 60:02d}:{i % 60:02d}Z,condition,{3 + i % 5},red" for i in range(n)]
    path.write_text("\n".join(lines) + "\n")
    return path


def test_history_without_binding_fields_is_quarantined_with_schema(gate, operator, store, tmp_path):
    f = _csv(tmp_path / "h.csv", 1200)
    rep = replay_file(f, gate, operator, units={"temperature": "degC"})
    # the source is not registered and its rows name no asset: nothing says what they measure
    assert rep.rows == 1200 and rep.outcomes == {"schema": 3} and store.log.count() == 0
    assert rep.ignored_columns == ["colour"]
    assert {r.reason for r in gate.tables.quarantined()} == {"schema"}


def test_csv_import_stores_every_row_once(gate, operator, store, tmp_path):
    lines = ["device,ts,temperature,asset_id"] + [f"hist-1,2025-06-01T00:00:{i % 60:02d}.{i:06d}Z,{3 + i % 5},R9"
                                                  for i in range(1200)]
    f = tmp_path / "h.csv"
    f.write_text("\n".join(lines) + "\n")
    rep = replay_file(f, gate, operator, kind="condition", units={"temperature": "degC"})
    assert rep.rows == 1200 and rep.envelopes == 3 and rep.outcomes == {"stored": 3}
    assert store.log.count() == 1200
    ev = next(iter(store.log.read()))
    assert ev.event.temperature_k == pytest.approx(276.15) and ev.event.asset_id == "R9"
    again = replay_file(f, gate, operator, kind="condition", units={"temperature": "degC"})
    assert again.outcomes == {"replayed_sequence": 3} and store.log.count() == 1200


def test_jsonl_and_parquet_and_binding_of_registered_devices(gate, operator, store, tmp_path):
    make_dev(gate, "rf-9", asset="R9")
    rows = [{"source": "rf-9", "ts": f"2025-06-01T01:00:{i:02d}Z", "kind": "condition", "temperature_k": 280.0}
            for i in range(10)]
    rows.append({"source": "rf-9", "ts": "2025-06-01T01:01:00Z", "kind": "stock_count", "sku": "A", "quantity": 1})
    f = tmp_path / "h.jsonl"
    f.write_text("".join(json.dumps(r) + "\n" for r in rows))
    rep = replay_file(f, gate, operator, chunk=5)
    assert rep.outcomes == {"stored": 2, "binding": 1}
    assert {e.event.asset_id for e in store.log.read()} == {"R9"}

    import pyarrow as pa
    import pyarrow.parquet as pq

    pf = tmp_path / "h.parquet"
    pq.write_table(pa.table({"source": ["pq-1"] * 4, "ts": ["2025-06-02T00:00:00Z"] * 4,
                             "kind": ["sale"] * 4, "site": ["S1"] * 4, "sku": ["A", "B", "C", "D"],
                             "quantity": [1.0, 2.0, 3.0, 4.0]}), pf)
    rep = replay_file(pf, gate, operator)
    assert rep.outcomes == {"stored": 1}
    assert sorted(e.event.quantity for e in store.log.read(sources=["pq-1"])) == [1, 2, 3, 4]


def test_gpx_track_becomes_positions(gate, operator, store, tmp_path):
    import gpxpy.gpx

    g = gpxpy.gpx.GPX()
    t = gpxpy.gpx.GPXTrack(name="bus-14")
    seg = gpxpy.gpx.GPXTrackSegment()
    from datetime import UTC, datetime, timedelta

    for i in range(30):
        seg.points.append(gpxpy.gpx.GPXTrackPoint(53.4 + i * 1e-4, -2.9, time=datetime(2025, 1, 1, tzinfo=UTC)
                                                  + timedelta(seconds=10 * i)))
    t.segments.append(seg)
    g.tracks.append(t)
    f = tmp_path / "route.gpx"
    f.write_text(g.to_xml())
    rep = replay_file(f, gate, operator, rename={}, kind=None)
    assert rep.outcomes == {"binding": 1} or rep.outcomes == {"schema": 1}  # positions need an asset_id
    rep = replay_file(f, gate, operator, source="bus-14-tracker", seq_offset=0)
    assert rep.rows == 30
    gate.registry.provision("gps-bus", measures=("position",), asset="BUS-14", now_us=int(gate.clock() * 1e6))
    rep = replay_file(f, gate, operator, source="gps-bus")
    assert rep.outcomes == {"stored": 1}
    pos = [e.event for e in store.log.read(sources=["gps-bus"], order="time")]
    assert len(pos) == 30 and pos[0].asset_id == "BUS-14" and pos[-1].lat == pytest.approx(53.4029)


def test_unknown_operator_key_is_refused_and_file_signature_checked(gate, operator, store, tmp_path):
    f = _csv(tmp_path / "h.csv", 10)
    rogue = OperatorKey.generate()
    rep = replay_file(f, gate, rogue, units={"temperature": "degC"})
    assert rep.outcomes == {"unknown_device": 1} and store.log.count() == 0
    with pytest.raises(SecurityError, match="no signature file"):
        replay_file(f, gate, operator, require_file_signature=True)
    sign_file(operator, f)
    f.write_text(f.read_text().replace("red", "blue"))
    with pytest.raises(SecurityError, match="does not match"):
        replay_file(f, gate, operator, require_file_signature=True)


def test_bad_files_name_the_problem(gate, operator, tmp_path):
    with pytest.raises(DataError, match="file not found"):
        replay_file(tmp_path / "nope.csv", gate, operator)
    f = tmp_path / "x.jsonl"
    f.write_text('{"source": "a", "ts": "2025-01-01T00:00:00Z", "kind": "condition"}\n{oops\n')
    with pytest.raises(DataError, match=r"x.jsonl:2"):
        replay_file(f, gate, operator)
    f.write_text('{"source": "a", "ts": "yesterday", "kind": "condition"}\n')
    with pytest.raises(DataError, match="not an ISO timestamp"):
        replay_file(f, gate, operator)


DATA = Path(os.environ.get("SUPPLYNET_DATA_DIR", Path(__file__).resolve().parents[2] / ".." / "shared" / "data"))


@pytest.mark.data
def test_real_bus_trace_replays(gate, operator, store):
    f = DATA / "gps-trajectories" / "liverpool_bus_route14_outbound.csv"
    if not f.exists():
        require_or_skip(f"public dataset not found at {f}", "data")
    gate.registry.provision("bus-4716", measures=("position",), asset="BUS-4716", now_us=int(gate.clock() * 1e6))
    gate.clock.t += 60 * 86_400  # imported after the trace was recorded (a reading from the future is refused)
    rep = replay_file(f, gate, operator, kind="position", source="bus-4716",
                      rename={"timestamp": "ts", "latitude": "lat", "longitude": "lon"})
    assert rep.rows > 100 and rep.outcomes["stored"] == rep.envelopes
    # the trace is not sorted by time: fixes later than the allowed lateness go to the late table
    assert store.log.count() + gate.tables.late_count() == rep.rows
