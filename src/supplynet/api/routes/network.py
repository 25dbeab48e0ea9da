from __future__ import annotations

from fastapi import APIRouter

from ...errors import ModelError
from ...model.currency import currency_of
from ..deps import StateDep, Viewer
from ..schemas import NetworkPublic

router = APIRouter(tags=["network"])


@router.get("/v1/network", response_model=NetworkPublic, summary="Sites (with coordinates), lanes, products, assets")
def get_network(state: StateDep, _: Viewer) -> NetworkPublic:
    net = state.network
    if net is None:
        raise ModelError("no network is loaded in the service (start it with --network)")
    sites = [{"id": s.id, "name": s.name, "kind": s.kind, "lat": s.location.lat, "lon": s.location.lon,
              "city": s.city} for s in net.sites]
    lanes = [{"id": ln.id, "origin": ln.origin, "destination": ln.destination, "mode": ln.mode,
              "lead_time_days": ln.lead_time.mean, "cost_per_unit": ln.cost_per_unit,
              "route": [list(p) for p in ln.route] if ln.route else None} for ln in net.lanes]
    products = [{"sku": p.sku, "name": p.name, "unit_cost": p.unit_cost, "price": p.price} for p in net.products]
    assets = [{"id": a.id, "kind": a.kind, "site": a.site, "name": a.name} for a in net.assets]
    return NetworkPublic(name=net.name, currency=currency_of(net), sites=sites, lanes=lanes, products=products,
                         assets=assets)
