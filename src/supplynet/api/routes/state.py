"""Twin state: tables (with ``as_of`` time travel), KPI cards, inventory with forecast bands, asset health."""

from __future__ import annotations

import math
from collections.abc import Callable
from datetime import datetime
from functools import partial
from typing import Annotated, Any, Literal

import orjson
from fastapi import APIRouter, Query
from fastapi.responses import Response
from starlette.concurrency import run_in_threadpool

from ...errors import DataError
from ...events import to_utc
from ..deps import StateDep, Viewer
from ..schemas import AssetHealth, ForecastBand, Kpis, StatePage
from ..service import dump, row_dict

router = APIRouter(tags=["state"])

Table = Literal["inventory", "shipments", "orders", "assets"]
_row = row_dict  # the orders route shares it


def _as_of(value: datetime | None) -> datetime | None:
    if value is None:
        return None
    try:
        return to_utc(value)
    except ValueError as exc:
        raise DataError(f"as_of {value.isoformat()}: {exc}") from exc


def _state_page(table: str, when: datetime | None, site: str | None, sku: str | None, limit: int, offset: int,
                twin: Any, row: Callable[[str, Any, Any], bytes]) -> bytes:
    st = twin.state
    items: list[tuple[Any, Any]] = list({"inventory": st.inventory, "shipments": st.shipments, "orders": st.orders,
                                         "assets": st.assets}[table].items())
    if site is not None:
        items = [(k, r) for k, r in items if getattr(r, "site", None) == site
                 or site in (getattr(r, "origin", None), getattr(r, "destination", None))]
    if sku is not None:
        items = [(k, r) for k, r in items if getattr(r, "sku", None) == sku]
    head = dump({"table": table, "as_of": when, "offset": twin.offset, "last_event_at": st.last_event_at,
                 "total": len(items)})
    rows = b",".join([row(table, k, r) for k, r in items[offset:offset + limit]])
    return head[:-1] + b',"rows":[' + rows + b"]}"


def _uncached_row(table: str, key: Any, rec: Any) -> bytes:
    return dump(row_dict(rec))


@router.get("/v1/state/{table}", response_model=StatePage,
            summary="A table of the twin (inventory, shipments, orders, assets), live or as of a past time")
async def get_state(state: StateDep, _: Viewer, table: Table,
                    as_of: Annotated[datetime | None, Query(description="state as of this time (ISO 8601 with zone)")] = None,
                    site: Annotated[str | None, Query(max_length=128)] = None,
                    sku: Annotated[str | None, Query(max_length=128)] = None,
                    limit: Annotated[int, Query(ge=1, le=5000)] = 500,
                    offset: Annotated[int, Query(ge=0, le=10_000_000)] = 0) -> Response:
    """Live pages are served from memory when current (serialized once per twin offset); building one, a
    catch-up and ``as_of`` rebuilds run in the thread pool, off the event loop."""
    when = _as_of(as_of)
    if when is None:
        key = ("state", table, site, sku, limit, offset)
        body = state.twins.cached(key)
        if body is None:
            body = await run_in_threadpool(state.twins.page, key, partial(_state_page, table, None, site, sku, limit,
                                                                          offset))
    else:
        def past() -> bytes:
            return _state_page(table, when, site, sku, limit, offset, state.twins.past(when), _uncached_row)

        body = await run_in_threadpool(past)
    return Response(body, media_type="application/json")


def _twin_kpis(twin: Any, row: Any = None) -> bytes:
    st = twin.state
    inv = list(st.inventory.values())
    now = st.last_event_at
    ships = list(st.shipments.values())
    return dump({
        "log_offset": twin.offset, "last_event_at": now, "events_applied": st.events_applied, "positions": len(inv),
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
    })


@router.get("/v1/kpis", response_model=Kpis, summary="KPI cards: stock, service, shipments, decisions, quarantine")
def get_kpis(state: StateDep, _: Viewer,
             as_of: Annotated[datetime | None, Query(description="as of this time")] = None) -> Kpis:
    when = _as_of(as_of)
    if when is None:
        out = orjson.loads(state.twins.page(("kpis",), _twin_kpis))
    else:
        out = orjson.loads(_twin_kpis(state.twins.past(when)))
    out["as_of"] = when
    demand = out["sold"] + out["lost_sales"] + out["backorders"]
    out["fill_rate"] = out["sold"] / demand if demand > 0 else None
    out["decisions_proposed"] = sum(n for (_, s), n in state.decisions.counts().items() if s == "proposed")
    out["quarantined"] = sum(state.store.ingest.quarantine_counts().values())
    return Kpis(**out)


@router.get("/v1/inventory/forecast", response_model=list[ForecastBand],
            summary="Inventory positions with projected bands over the next days")
def get_forecast_bands(state: StateDep, _: Viewer,
                       site: Annotated[str | None, Query(max_length=128)] = None,
                       sku: Annotated[str | None, Query(max_length=128)] = None,
                       days: Annotated[int, Query(ge=1, le=90)] = 14,
                       order: Annotated[Literal["site", "cover"], Query(
                           description="site: by site and SKU; cover: fewest days of cover first (positions with "
                                       "demand only)")] = "site",
                       limit: Annotated[int, Query(ge=1, le=500)] = 50) -> list[ForecastBand]:
    """Projected on-hand stock without new orders: on hand plus what is in transit (arriving over three days) and
    on order (arriving over the inbound lane's mean lead time) minus cumulative demand, P10-P90 under a normal approximation of daily demand (mean and spread from the
    network's demand model, pushed up the lanes). Below zero is a shortfall."""
    demand = state.demand_model()
    with state.twins.read() as twin:
        inv = [p for p in twin.state.inventory.values() if (site is None or p.site == site)
               and (sku is None or p.sku == sku)]

    def cover(p: Any) -> float | None:
        mu = demand.get((p.site, p.sku), (0.0, 0.0))[0]
        return p.position / mu if mu > 0 else None

    if order == "cover":
        inv = sorted((p for p in inv if cover(p) is not None), key=lambda p: (cover(p), p.site, p.sku))
    else:
        inv = sorted(inv, key=lambda p: (p.site, p.sku))
    out = []
    z = 1.2816
    for p in inv[:limit]:
        mu, sd = demand.get((p.site, p.sku), (0.0, 0.0))
        ds = list(range(days + 1))
        lead = max(state.lead_days(p.site, p.sku), 0.5)
        mid = [p.on_hand + p.in_transit * min(1.0, d / 3) + p.on_order * min(1.0, d / lead) - mu * d for d in ds]
        spread = [z * sd * math.sqrt(d) for d in ds]
        c = cover(p)
        out.append(ForecastBand(site=p.site, sku=p.sku, position=p.position, on_hand=p.on_hand, in_transit=p.in_transit,
                                demand_mean_per_day=mu, demand_std_per_day=sd,
                                days_of_cover=None if c is None else round(c, 2), days=ds,
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
