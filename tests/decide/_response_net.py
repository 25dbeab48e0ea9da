"""A small generated network for the response tests: two suppliers of a component, a plant that
makes the product from it, a DC and a store."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from supplynet.events import Line, ShipmentStatus, StockCount
from supplynet.model import Network
from supplynet.sense.eta.delay import ArrivalForecast, DelayDeclared
from supplynet.twin import Twin

T0 = datetime(2026, 3, 2, 8, tzinfo=UTC)


def network(**meta) -> Network:
    return Network.model_validate({
        "name": "response-test", "sites": [
            {"id": "SUP-A", "kind": "supplier", "location": {"lat": 52.0, "lon": 0.0}},
            {"id": "SUP-B", "kind": "supplier", "location": {"lat": 51.0, "lon": -2.5}},
            {"id": "PLANT", "kind": "plant", "location": {"lat": 52.5, "lon": -1.5}},
            {"id": "DC-1", "kind": "dc", "location": {"lat": 52.6, "lon": -1.6}},
            {"id": "ST-1", "kind": "store", "location": {"lat": 52.7, "lon": -1.8}}],
        "products": [{"sku": "COMP", "unit_cost": 4.0, "price": 5.0},
                     {"sku": "PROD", "unit_cost": 2.0, "price": 6.0}],
        "lanes": [
            {"id": "L-A-PLANT", "origin": "SUP-A", "destination": "PLANT", "lead_time": {"mean_days": 2, "std_days": 0.2},
             "cost_per_unit": 0.5, "fixed_cost_per_shipment": 400.0, "distance_km": 300.0, "skus": ["COMP"]},
            {"id": "L-B-PLANT", "origin": "SUP-B", "destination": "PLANT", "lead_time": 3.0, "cost_per_unit": 0.6,
             "fixed_cost_per_shipment": 300.0, "distance_km": 200.0, "skus": ["COMP"]},
            {"id": "L-PLANT-DC", "origin": "PLANT", "destination": "DC-1", "lead_time": 0.5, "cost_per_unit": 0.05,
             "skus": ["PROD"]},
            {"id": "L-DC-ST", "origin": "DC-1", "destination": "ST-1", "lead_time": 0.5, "cost_per_unit": 0.05}],
        "boms": [{"plant": "PLANT", "output_sku": "PROD", "components": [{"sku": "COMP", "quantity": 1.0}],
                  "rate_per_day": 150.0}],
        "demand": [{"site": "ST-1", "sku": "PROD", "mean_per_day": 80.0, "cv": 0.2}],
        "meta": meta,
    })


def twin_with_late_load(net: Network, *, comp_at_plant: float = 40.0) -> Twin:
    """The plant holds little of the component; 600 units are on their way from SUP-A."""
    twin = Twin(net)
    seq = 0
    for site, sku, q in [("PLANT", "COMP", comp_at_plant), ("PLANT", "PROD", 20.0), ("DC-1", "PROD", 40.0),
                         ("ST-1", "PROD", 120.0)]:
        seq += 1
        twin.apply(StockCount(source="wms", seq=seq, ts=T0, site=site, sku=sku, quantity=q, method="manual"))
    twin.apply(ShipmentStatus(source="wms-SUP-A", seq=1, ts=T0 - timedelta(days=1), shipment_id="SH1",
                              status="departed", lane_id="L-A-PLANT", origin="SUP-A", destination="PLANT",
                              lines=(Line(sku="COMP", quantity=600.0),), promised_at=T0 + timedelta(hours=12)))
    return twin


def declared(delay_h: float = 36.0) -> DelayDeclared:
    eta = T0 + timedelta(hours=12 + delay_h)
    t = T0.timestamp()
    fc = ArrivalForecast(t, 0.4, eta.timestamp() - 3600, eta.timestamp(), eta.timestamp() + 3600, "lane_history")
    return DelayDeclared(
        shipment_id="SH1", lane_id="L-A-PLANT", origin="SUP-A", destination="PLANT", declared_at=T0,
        promised_at=T0 + timedelta(hours=12), probability_late=0.97, confidence=0.9,
        eta_p10=eta - timedelta(hours=1), eta_p50=eta, eta_p90=eta + timedelta(hours=1), progress=0.4,
        method="lane_history", trigger_event_ids=("gps-1:10", "gps-1:11", "gps-1:12", "wms-SUP-A:1"),
        evidence=(("gps-1:10", 0.92), ("gps-1:11", 0.95), ("gps-1:12", 0.97)),
        lines=(("COMP", 600.0, None),), forecast=fc)
