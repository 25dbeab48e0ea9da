"""Orders and work orders: read from the twin; a planner's new one becomes a decision they propose."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from ...decide import decision as dec
from ...errors import DataError
from ..deps import IdemKeyRequired, Planner, StateDep, Viewer
from ..schemas import DecisionOutcome, OrderCreate, OrderPublic, WorkOrderCreate, WorkOrderPublic
from ._idem import idempotent
from .decisions import outcome, sim_now
from .state import _row

router = APIRouter(tags=["orders"])


@router.get("/v1/orders", response_model=list[OrderPublic], summary="Orders in the twin (newest first)")
def list_orders(state: StateDep, _: Viewer, status: Annotated[str | None, Query(max_length=32)] = None,
                site: Annotated[str | None, Query(max_length=128)] = None,
                limit: Annotated[int, Query(ge=1, le=5000)] = 200) -> list[OrderPublic]:
    with state.twins.read() as twin:
        orders = [o for o in twin.state.orders.values() if (status is None or o.status == status)
                  and (site is None or o.site == site)]
    orders.sort(key=lambda o: (o.created_at is not None, o.created_at), reverse=True)
    return [OrderPublic(**_row(o)) for o in orders[:limit]]


def _order_decision(state: StateDep, who: Planner, body: OrderCreate, key: str) -> dec.Decision:
    net = state.network
    if net is None:
        raise DataError("no network is loaded in the service")
    product = net.product(body.sku) if body.sku in {p.sku for p in net.products} else None
    if product is None:
        raise DataError(f"sku {body.sku!r} is not in the network")
    if net.site(body.site) is None:
        raise DataError(f"site {body.site!r} is not in the network")
    lanes = [ln for ln in net.lanes if ln.destination == body.site and (not ln.skus or body.sku in ln.skus)]
    if body.lane_id is not None:
        lanes = [ln for ln in lanes if ln.id == body.lane_id]
        if not lanes:
            raise DataError(f"lane {body.lane_id!r} does not bring {body.sku} to {body.site}")
    if not lanes:
        raise DataError(f"no lane brings {body.sku} to {body.site}")
    options = sorted((dec.Option(label=ln.id, cost=round(body.quantity * (ln.cost_per_unit + product.unit_cost)
                                                         + ln.fixed_cost_per_shipment, 2),
                                 time_days=ln.lead_time.mean, detail={"origin": ln.origin, "mode": ln.mode})
                      for ln in lanes), key=lambda o: (o.cost, o.time_days or 0))
    best = options[0]
    origin = best.detail["origin"]
    kind = "purchase" if (s := net.site(origin)) is not None and s.kind == "supplier" else "transfer"
    return dec.Decision(kind="replenish" if kind == "purchase" else "rebalance", created_at=sim_now(state),
                        proposer=who.actor, sources=[who.actor], options=options, chosen=best.label,
                        why=body.reason or f"placed by {who.actor}", cost=best.cost, idempotency_key=f"order:{key}",
                        action=dec.OrderAction(site=body.site, sku=body.sku, quantity=body.quantity, origin=origin,
                                               lane_id=best.label, order_type=kind))


@router.post("/v1/orders", response_model=DecisionOutcome, status_code=201,
             summary="Place an order (planner; Idempotency-Key required): a decision proposed by the caller")
def create_order(state: StateDep, who: Planner, body: OrderCreate, idem: IdemKeyRequired) -> DecisionOutcome:
    return idempotent(state, idem, who.actor, {"op": "order", **body.model_dump()}, 201,
                      lambda: outcome(dec.submit(state.store, _order_decision(state, who, body, f"{who.actor}|{idem}"),
                                                 state.policy, actor=who.actor)))


@router.get("/v1/work-orders", response_model=list[WorkOrderPublic], summary="Maintenance work orders")
def list_work_orders(state: StateDep, _: Viewer,
                     status: Annotated[str | None, Query(max_length=32)] = None) -> list[WorkOrderPublic]:
    with state.twins.read():
        wos = [dict(w) for w in state.twins.work_orders.values()]
    return [WorkOrderPublic(**w) for w in wos if status is None or w["status"] == status]


@router.post("/v1/work-orders", response_model=DecisionOutcome, status_code=201,
             summary="Open a work order (planner; Idempotency-Key required): a maintain decision")
def create_work_order(state: StateDep, who: Planner, body: WorkOrderCreate, idem: IdemKeyRequired) -> DecisionOutcome:
    net = state.network
    asset = next((a for a in net.assets if a.id == body.asset_id), None) if net is not None else None
    if asset is None:
        raise DataError(f"asset {body.asset_id!r} is not in the network")
    # the cost that decides whether a second person is needed comes from the network's cost data: a
    # requester's lower figure is kept as a note, never used to skip the second person
    cost = max(float(asset.preventive_cost), body.cost or 0.0)
    quoted = {"requested_cost": body.cost} if body.cost is not None else {}

    def run() -> dict:
        d = dec.Decision(kind="maintain", created_at=sim_now(state), proposer=who.actor, sources=[who.actor],
                         options=[dec.Option(label="preventive maintenance", cost=cost,
                                             time_days=asset.maintenance_lead_time_days, detail=quoted),
                                  dec.Option(label="run to failure", cost=float(asset.failure_cost))],
                         chosen="preventive maintenance", why=body.detail or f"opened by {who.actor}", cost=cost,
                         idempotency_key=f"wo:{who.actor}|{idem}",
                         action=dec.WorkOrderAction(asset_id=body.asset_id, detail=body.detail))
        return outcome(dec.submit(state.store, d, state.policy, actor=who.actor))

    return idempotent(state, idem, who.actor, {"op": "work_order", **body.model_dump()}, 201, run)
