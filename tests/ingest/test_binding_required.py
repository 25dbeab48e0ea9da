"""A device reports only about the asset or site it is bound to (issue 15, item 9): a binding is
required when it is added (CLI, registry, network file), ``--any-site`` registers a relaying gateway on
purpose, and the gate quarantines readings about anything else -- also for a record made before
bindings were required."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from supplynet.cli import app
from supplynet.errors import SecurityError

from .conftest import Dev, make_dev

runner = CliRunner()


def _count(site: str, qty: float = 3.0) -> dict:
    return {"kind": "stock_count", "site": site, "sku": "BREAD", "quantity": qty}


def test_registry_refuses_a_device_bound_to_nothing(gate):
    with pytest.raises(SecurityError, match="bound to nothing"):
        gate.registry.provision("pos-1", measures=("stock_count", "sale"))
    with pytest.raises(SecurityError, match="bound to nothing"):
        gate.registry.provision("pos-2")  # no measures either
    with pytest.raises(SecurityError, match="any-site"):
        gate.registry.provision("pos-3", site="S1", any_site=True)
    assert gate.registry.get("pos-1") is None and gate.registry.get("pos-2") is None
    gate.registry.provision("gw-1", measures=("stock_count",), any_site=True)
    gate.registry.provision("operator:alice", kind="operator")  # operators report nothing: no binding
    assert gate.registry.get("gw-1").any_site


def test_gate_refuses_readings_about_another_site(gate):
    dev = make_dev(gate, "pos-1", measures=(), asset=None, site="S1")  # bound, but no measures given
    out = gate.submit([dev.msg(_count("S1")), dev.msg(_count("S2")),
                       dev.msg({"kind": "sale", "site": "S2", "sku": "BREAD", "quantity": 5000})])
    assert [o.status for o in out] == ["stored", "quarantined", "quarantined"]
    assert {o.reason for o in out[1:]} == {"binding"} and "bound to 'S1'" in out[1].detail
    assert gate.store.log.count() == 1


def test_asset_bound_device_cannot_report_stock(gate):
    dev = make_dev(gate, "rf-9", measures=(), asset="R1")
    out = gate.submit([dev.msg(_count("S1")), dev.msg({"kind": "condition", "temperature": 4.0})])
    assert [o.status for o in out] == ["quarantined", "stored"]
    assert out[0].reason == "binding" and "not bound to any site" in out[0].detail


def test_unbound_record_from_before_the_rule_reports_nothing(gate, clock):
    """A record written before bindings were required (straight into the table) is refused, not trusted."""
    cred = gate.registry.provision("old-1", measures=("stock_count",), site="S1", now_us=int(clock() * 1e6))
    rec = gate.registry.get("old-1").to_dict()
    rec["site"] = None  # what an unbound device of an older release looks like
    gate.registry.records.put_device("old-1", rec)
    gate.registry.refresh()
    dev = Dev(cred, clock)
    out = gate.submit([dev.msg(_count("S1")), dev.msg(_count("S2"))])
    assert [(o.status, o.reason) for o in out] == [("quarantined", "binding")] * 2


def test_any_site_gateway_names_its_sites(gate):
    cred = gate.registry.provision("gw-1", measures=("stock_count",), any_site=True,
                                   now_us=int(gate.clock() * 1e6))
    dev = Dev(cred, gate.clock)
    out = gate.submit([dev.msg(_count("S1")), dev.msg(_count("S2")),
                       dev.msg({"kind": "stock_count", "sku": "BREAD", "quantity": 1.0}),  # names no site
                       dev.msg({"kind": "sale", "site": "S2", "sku": "BREAD", "quantity": 1})])  # not measured
    assert [o.status for o in out] == ["stored", "stored", "quarantined", "quarantined"]
    assert out[2].reason == "schema" and out[3].reason == "binding"


def test_cli_devices_add_needs_a_binding(tmp_path):
    url = f"sqlite:///{tmp_path / 's.db'}"
    r = runner.invoke(app, ["devices", "add", "pos-1", "--measures", "stock_count,sale", "--store", url])
    assert r.exit_code == 2 and "bound to nothing" in r.output and "Traceback" not in r.output
    r = runner.invoke(app, ["devices", "add", "pos-1", "--measures", "stock_count", "--site", "S1", "--any-site",
                            "--store", url])
    assert r.exit_code == 2 and "--any-site" in r.output
    r = runner.invoke(app, ["devices", "add", "gw-1", "--measures", "stock_count", "--any-site", "--store", url])
    assert r.exit_code == 0, r.output
    r = runner.invoke(app, ["devices", "add", "pos-1", "--measures", "sale", "--site", "S1", "--store", url])
    assert r.exit_code == 0, r.output
    listed = {d["device_id"]: d for d in json.loads(runner.invoke(app, ["devices", "list", "--store", url, "--json"]).stdout)}
    assert set(listed) == {"gw-1", "pos-1"}
    assert listed["gw-1"]["any_site"] and not listed["pos-1"]["any_site"] and listed["pos-1"]["site"] == "S1"


def test_network_file_devices_are_bound(tmp_path):
    """Network-file provisioning (the demo's fleet) keeps working: every device there has bound_to."""
    from supplynet.model import example_path

    url = f"sqlite:///{tmp_path / 's.db'}"
    r = runner.invoke(app, ["devices", "add", "--network", str(example_path("realistic")), "--all", "--store", url])
    assert r.exit_code == 0, r.output
    listed = json.loads(runner.invoke(app, ["devices", "list", "--store", url, "--json"]).stdout)
    assert len(listed) > 10
    assert all((d["asset"] is None) != (d["site"] is None) and not d["any_site"] for d in listed)
