"""Twin state: tables (with ``as_of`` time travel), KPI cards, inventory with forecast bands, asset health."""

from __future__ import annotations

import math
from dataclasses import fields
from datetime import datetime
from typing import Annotated, Any, Literal

import orjson
from fastapi import APIRouter, Query
from fastapi.responses import Response

from ...errors import DataError
from ...events import to_utc
from ...store.quarantine import IngestTables
from ..deps import StateDep, Viewer
from ..schemas import AssetHealth, ForecastBand, Kpis, StatePage

router = APIRouter(tags=["state"])

Table = Literal["inventory", "shipments", "orders", "assets"]
_FIELDS: dict[type, tuple[str, ...]] = {}


def _row(rec: Any) -> dict[str, Any]:
    names = _FIELDS.get(type(rec))
    if names is None:
        names = _FIELDS[type(rec)] = tuple(f.name for f in fields(rec))
    d = {n: getattr(rec, n) for n in names}
    for extra in ("position", "open_quantity"):
        if hasattr(rec, extra):
            d[extra] = getattr(rec, extra)
    if "lines" in d:
        d["units"] = sum(q for _, q, _ in d["lines"])
        d["lines"] = [{"sku": s, "quantity": q, "order_id": o} for s, q, o in d["lines"]]
    return d


def _json(payload: Any) -> Response:
    return Response(orjson.dumps(payload, option=orjson.OPT_SERIALIZE_NUMPY | orjson.OPT_NON_STR_KEYS),
                    media_type="application/json")


def _as_of(value: datetime | None) -> datetime | None:
    if value is None:
        return None
    try:
        return to_utc(value)
    except ValueError as exc:
        raise DataError(f"as_of {value.isoformat()}: {exc}") from exc


@router.get("/v1/state/{table}", response_model=StatePage,
            summary="A table of the twin (inventory, shipments, orders, assets), live or as of a past time")
def get_state(state: StateDep, _: Viewer, table: Table,
              as_of: Annotated[datetime | None, Query(description="state as of this time (ISO 8601 with zone)")] = None,
              site: Annotated[str | None, Query(max_length=128)] = None,
              sku: Annotated[str | None, Query(max_length=128)] = None,
              limit: Annotated[int, Query(ge=1, le=5000)] = 500,
              offset: Annotated[int, Query(ge=0, le=10_000_000)] = 0) -> Response:
    when = _as_of(as_of)
    with state.twins.read(when) as twin:
        key = (table, when, site, sku, limit, offset, twin.offset, twin.state.events_applied)
        pages = state.twins.pages
        hit = pages.get(key)
        if hit is not None:
            return Response(hit, media_type="application/json")
        st = twin.state
        recs: list[Any] = list({"inventory": st.inventory, "shipments": st.shipments, "orders": st.orders,
                                "assets": st.assets}[table].values())
        if site is not None:
            recs = [r for r in recs if getattr(r, "site", None) == site
                    or site in (getattr(r, "origin", None), getattr(r, "destination", None))]
        if sku is not None:
            recs = [r for r in recs if getattr(r, "sku", None) == sku]
        page = [_row(r) for r in recs[offset:offset + limit]]
        resp = _json({"table": table, "as_of": when, "offset": twin.offset, "last_event_at": st.last_event_at,
                      "total": len(recs), "rows": page})
        if len(pages) >= 64:
            pages.clear()
        pages[key] = resp.body
        return resp


@router.get("/v1/kpis", response_model=Kpis, summary="KPI cards: stock, service, shipments, decisions, quarantine")
def get_kpis(state: StateDep, _: Viewer,
             as_of: Annotated[datetime | None, Query(description="as of this time")] = None) -> Kpis:
    when = _as_of(as_of)
    with state.twins.read(when) as twin:
        st = twin.state
        inv = list(st.inventory.values())
        now = st.last_event_at
        ships = list(st.shipments.values())
        out = {
            "as_of": when, "log_offset": twin.offset, "events_applied": st.events_applied, "positions": len(inv),
            "on_hand": sum(p.on_hand for p in inv), "on_order": sum(p.on_order for p in inv),
            "in_transit": sum(p.in_transit for p in inv), "backorders": sum(p.backorders for p in inv),
            "lost_sales": sum(p.lost_sales for p in inv), "sold": sum(p.sold for p in inv),
            "shipments_open": sum(s.delivered_at is None and s.status != "cancelled" for s in ships),
            "shipments_delivered": sum(s.delivered_at is not None for s in ships),
            "shipments_late": sum(s.delivered_at is None and s.promised_at is not None and now is not None
                                  and s.promised_at < now for s in ships),
            "orders_open": sum(o.open_quantity > 0 for o in st.orders.values()),
            "assets": len(st.assets), "assets_with_work_order": sum(a.open_work_order is not None
                                                                   for a in st.assets.values()),
        }
    demand = out["sold"] + out["lost_sales"] + out["backorders"]
    out["fill_rate"] = out["sold"] / demand if demand > 0 else None
    out["decisions_proposed"] = sum(n for (_, s), n in state.decisions.counts().items() if s == "proposed")
    out["quarantined"] = sum(IngestTables(state.store.backend).quarantine_counts().values())
    return Kpis(**out)


@router.get("/v1/inventory/forecast", response_model=list[ForecastBand],
            summary="Inventory positions with projected bands over the next days")
def get_forecast_bands(state: StateDep, _: Viewer,
                       site: Annotated[str | None, Query(max_length=128)] = None,
                       sku: Annotated[str | None, Query(max_length=128)] = None,
                       days: Annotated[int, Query(ge=1, le=90)] = 14,
                       limit: Annotated[int, Query(ge=1, le=500)] = 50) -> list[ForecastBand]:
    """Projected on-hand stock without new orders: on hand minus cumulative demand, P10-P90 under a normal
    approximation of daily demand (mean and spread from the network's demand model, pushed up the lanes)."""
    demand = state.demand_model()
    with state.twins.read() as twin:
        inv = [p for p in twin.state.inventory.values() if (site is None or p.site == site)
               and (sku is None or p.sku == sku)]
    out = []
    z = 1.2816
    for p in sorted(inv, key=lambda p: (p.site, p.sku))[:limit]:
        mu, sd = demand.get((p.site, p.sku), (0.0, 0.0))
        ds = list(range(days + 1))
        mid = [p.on_hand + p.in_transit * min(1.0, d / 3) - mu * d for d in ds]
        spread = [z * sd * math.sqrt(d) for d in ds]
        out.append(ForecastBand(site=p.site, sku=p.sku, position=p.position, on_hand=p.on_hand,
                                demand_mean_per_day=mu, demand_std_per_day=sd, days=ds,
                                p10=[round(m - s, 2) for m, s in zip(mid, spread, strict=True)],
                                p50=[round(m, 2) for m in mid],
                                p90=[round(m + s, 2) for m, s in zip(mid, spread, strict=True)],
                                method="normal approximation of the network's demand model"))
    return out


@router.get("/v1/assets/health", response_model=list[AssetHealth],
            summary="Asset health: readings, failures, open work orders and the latest RUL interval")
def get_asset_health(state: StateDep, _: Viewer) -> list[AssetHealth]:
    net = state.network
    meta = {a.id: a for a in net.assets} if net is not None else {}
    with state.twins.read() as twin:
        assets = list(twin.state.assets.values())
        rul = dict(state.twins.rul)
    out = []
    for a in sorted(assets, key=lambda a: a.asset_id):
        m = meta.get(a.asset_id)
        out.append(AssetHealth(asset_id=a.asset_id, kind=getattr(m, "kind", None), site=getattr(m, "site", None),
                               last_seen=a.last_seen, readings=a.readings, failures=a.failures,
                               open_work_order=a.open_work_order, last_alert=a.last_alert,
                               temperature_k=a.temperature_k, rul=rul.get(a.asset_id)))
    return out
