"""The CLI modules: devices, quarantine, ingest (Typer apps, JSON on stdout)."""

from __future__ import annotations

import json
from datetime import UTC, datetime

from typer.testing import CliRunner

from supplynet.commands.devices import app as devices_app
from supplynet.commands.ingest import app as ingest_app
from supplynet.commands.quarantine import app as quarantine_app
from supplynet.ingest.envelope import seal
from supplynet.ingest.gate import Gate
from supplynet.model import example_path
from supplynet.store import open_store

runner = CliRunner()


def _run(app, *args):
    res = runner.invoke(app, list(args))
    assert res.exit_code == 0, (res.output, res.exception)
    return json.loads(res.stdout)


def test_devices_add_list_rotate_revoke(tmp_path):
    url = f"sqlite:///{tmp_path / 's.db'}"
    cred = _run(devices_app, "add", "rf-1", "--measures", "temperature", "--asset", "R1", "--store", url)
    assert cred["device_id"] == "rf-1" and len(cred["private_key"]) == 43 and "shown once" in cred["note"]
    listed = _run(devices_app, "list", "--store", url, "--json")
    assert listed[0]["keys"][0]["kid"] == cred["kid"] and "private_key" not in json.dumps(listed)
    with open_store(url) as st:  # the store holds no private key anywhere
        rows = st.backend.query("SELECT record FROM devices")
        assert cred["private_key"] not in json.dumps(rows) and cred["public_key"] in rows[0][0]
    new = _run(devices_app, "rotate", "rf-1", "--overlap", "60", "--store", url)
    assert new["kid"] != cred["kid"]
    keys = _run(devices_app, "list", "--store", url, "--json")[0]["keys"]
    assert len(keys) == 2 and keys[0]["not_after"] is not None and keys[1]["not_after"] is None
    assert _run(devices_app, "revoke", "rf-1", "--store", url)["revoked_at"]
    res = runner.invoke(devices_app, ["rotate", "nope", "--store", url])
    assert res.exit_code != 0 and "not registered" in str(res.exception)


def test_devices_from_network_file(tmp_path):
    url = f"sqlite:///{tmp_path / 's.db'}"
    creds = _run(devices_app, "add", "--network", str(example_path("tiny")), "--all", "--store", url)
    assert {c["device_id"] for c in creds} >= {"GPS-TRUCK-1", "POS-STORE-1"}
    listed = {d["device_id"]: d for d in _run(devices_app, "list", "--store", url, "--json")}
    assert listed["POS-STORE-1"]["site"] == "STORE-1" and listed["POS-STORE-1"]["measures"] == ["sale"]
    assert listed["GPS-TRUCK-1"]["asset"] == "TRUCK-1" and listed["GPS-TRUCK-1"]["report_interval_s"] == 30


def test_quarantine_list_show_stats_explain(tmp_path):
    url = f"sqlite:///{tmp_path / 's.db'}"
    cred = _run(devices_app, "add", "rf-1", "--measures", "temperature", "--asset", "R1", "--store", url)
    with open_store(url) as st:
        gate = Gate(st)
        good = seal("rf-1", cred["kid"], cred["private_key"], 0, datetime.now(UTC),
                    [{"kind": "condition", "temperature_k": 280.0}])
        gate.submit([good, good.replace(b"280.0", b"290.0"), b"\x00garbage"])
    rows = _run(quarantine_app, "list", "--store", url, "--json")
    assert [r["reason"] for r in rows] == ["schema", "bad_signature"]
    assert "signature" in rows[1]["explanation"]
    one = _run(quarantine_app, "show", str(rows[1]["id"]), "--store", url)
    assert "290.0" in one["raw"] and one["device"] == "rf-1"
    stats = _run(quarantine_app, "stats", "--store", url)
    assert stats["quarantined_by_reason"] == {"bad_signature": 1, "schema": 1}
    assert stats["devices"]["rf-1"] == {"stored": 1, "bad_signature": 1, "received": 2}
    assert _run(quarantine_app, "list", "--reason", "schema", "--store", url, "--json")[0]["device"] == "?"


def test_quarantine_prune_deletes_old_entries_and_keeps_the_counters(tmp_path):

    url = f"sqlite:///{tmp_path / 's.db'}"
    with open_store(url) as st:
        gate = Gate(st)
        now = gate.clock()
        gate.submit([b"\x00old"])  # two entries recorded 40 days ago, one now
        gate.clock = lambda: now - 40 * 86_400
        gate.submit([b"\x00older", b"{}"])
        assert sum(st.ingest.quarantine_counts().values()) == 3
    assert _run(quarantine_app, "prune", "--older-than-days", "30", "--reason", "bad_signature",
                "--store", url)["deleted"] == 0  # no old entry has that reason
    out = _run(quarantine_app, "prune", "--older-than-days", "30", "--store", url)
    assert (out["deleted"], out["remaining"]) == (2, 1)
    stats = _run(quarantine_app, "stats", "--store", url)
    assert stats["quarantined_by_reason"] == {"schema": 1}
    assert sum(stats["devices"]["?"].values()) - stats["devices"]["?"]["received"] == 3  # still counted
    bad = runner.invoke(quarantine_app, ["prune", "--older-than-days", "1", "--reason", "nope", "--store", url])
    assert bad.exit_code != 0 and "not a reason code" in str(bad.exception)


def test_ingest_file_and_sign(tmp_path):
    url = f"sqlite:///{tmp_path / 's.db'}"
    key = tmp_path / "alice.key"
    _run(devices_app, "add", "operator:alice", "--operator", "--key-out", str(key), "--store", url)
    _run(devices_app, "add", "rf-1", "--measures", "temperature", "--asset", "R1", "--store", url)
    f = tmp_path / "h.csv"
    f.write_text("ts,temperature\n" + "".join(f"2025-01-01T00:00:{i:02d}Z,{i}\n" for i in range(20)))
    assert _run(ingest_app, "sign", str(f), "--operator-key", str(key))["signature"].endswith(".sig")
    rep = _run(ingest_app, "file", str(f), "--operator-key", str(key), "--source", "rf-1", "--kind", "condition",
               "--unit", "temperature=degC", "--require-signature", "--store", url)
    assert rep["rows"] == 20 and rep["outcomes"] == {"stored": 1}
    with open_store(url) as st:
        assert st.log.count() == 20
