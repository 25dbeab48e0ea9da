"""Request and response schemas: separate Create / Update / Public models per resource.

Create and Update models forbid unknown fields, so a field a caller may not set (``approved``,
``status``, ``role`` on a device ...) is refused with 422, never silently ignored.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field

Ident = Annotated[str, Field(min_length=1, max_length=128, pattern=r"^[A-Za-z0-9_.:@/\-]+$")]
Role = Literal["viewer", "planner", "admin"]


class _In(BaseModel):
    model_config = ConfigDict(extra="forbid")


class _Out(BaseModel):
    model_config = ConfigDict(extra="allow")


class Problem(BaseModel):
    """RFC 9457 problem details."""

    type: str = "about:blank"
    title: str
    status: int
    detail: str = ""
    code: str | None = None
    instance: str | None = None
    errors: list[dict[str, Any]] | None = None


# -- network ------------------------------------------------------------------------------------------
class SitePublic(_Out):
    id: str
    name: str | None = None
    kind: str
    lat: float
    lon: float
    city: str | None = None


class LanePublic(_Out):
    id: str
    origin: str
    destination: str
    mode: str
    lead_time_days: float | None = None
    cost_per_unit: float
    route: list[list[float]] | None = None


class NetworkPublic(BaseModel):
    name: str
    currency: str
    sites: list[SitePublic]
    lanes: list[LanePublic]
    products: list[dict[str, Any]]
    assets: list[dict[str, Any]]


# -- state --------------------------------------------------------------------------------------------
class StatePage(BaseModel):
    table: str
    as_of: datetime | None = None
    offset: int = Field(description="log offset the state covers")
    last_event_at: datetime | None = None
    total: int
    rows: list[dict[str, Any]]


class Kpis(BaseModel):
    as_of: datetime | None = None
    last_event_at: datetime | None = Field(None, description="time of the latest event the twin has applied")
    log_offset: int
    events_applied: int
    positions: int
    on_hand: float
    on_order: float
    in_transit: float
    backorders: float
    lost_sales: float
    sold: float
    fill_rate: float | None = None
    shipments_open: int
    shipments_delivered: int
    shipments_late: int
    orders_open: int
    assets: int
    assets_with_work_order: int
    decisions_proposed: int
    quarantined: int


class ForecastBand(BaseModel):
    site: str
    sku: str
    position: float
    on_hand: float
    demand_mean_per_day: float
    demand_std_per_day: float
    days_of_cover: float | None = Field(None, description="inventory position / mean daily demand (None: no demand)")
    in_transit: float = 0.0
    days: list[int]
    p10: list[float]
    p50: list[float]
    p90: list[float]
    method: str


class AssetHealth(BaseModel):
    asset_id: str
    kind: str | None = None
    site: str | None = None
    last_seen: datetime | None = None
    readings: int
    failures: int
    open_work_order: str | None = None
    last_alert: str | None = None
    temperature_k: float | None = None
    rul: dict[str, Any] | None = Field(None, description="latest RUL estimate: low, median, high, level, unit")


# -- events -------------------------------------------------------------------------------------------
class EventPublic(BaseModel):
    offset: int
    received_at: datetime
    event: dict[str, Any]


class EventPage(BaseModel):
    items: list[EventPublic]
    next_after_offset: int | None = Field(None, description="pass as after_offset for the next page")


# -- devices ------------------------------------------------------------------------------------------
class DeviceCreate(_In):
    device_id: Annotated[str, Field(min_length=1, max_length=128, pattern=r"^[A-Za-z0-9_.:@\-]+$")]
    kind: Ident | None = None
    measures: list[Ident] = Field(default_factory=list, max_length=16)
    asset: Ident | None = None
    site: Ident | None = None
    report_interval_s: Annotated[float, Field(gt=0, le=86400 * 30)] | None = None
    scheme: Literal["ed25519", "hmac-sha256"] = Field(
        "ed25519", description="ed25519 (the platform keeps only the public key) or hmac-sha256 (symmetric: "
                               "cheaper per message; the secret is kept sealed under the vault key)")
    any_site: bool = Field(False, description="bound to no asset or site: may report for any (a gateway relaying "
                                              "for several sites); every other device needs asset or site")


class DevicePublic(BaseModel):
    device_id: str
    kind: str | None = None
    measures: list[str]
    asset: str | None = None
    site: str | None = None
    any_site: bool = False
    report_interval_s: float | None = None
    keys: list[dict[str, Any]]
    revoked_at_us: int | None = None
    created_at_us: int


class DeviceCreated(BaseModel):
    device: DevicePublic
    credential: dict[str, str] = Field(description="shown once: the device's private key")


# -- decisions ----------------------------------------------------------------------------------------
class DecisionPublic(_Out):
    id: str
    no: int
    kind: str
    status: str
    created_at: datetime
    proposer: str
    trigger_event_ids: list[str]
    sources: list[str]
    model_output: dict[str, Any]
    options: list[dict[str, Any]]
    chosen: str
    why: str
    action: dict[str, Any]
    cost: float
    autonomy: dict[str, Any]
    approvals: list[dict[str, Any]]
    rejection: dict[str, Any] | None = None
    executed: dict[str, Any] | None = None


class DecisionPage(BaseModel):
    items: list[DecisionPublic]
    next_before: int | None = None


class ApproveBody(_In):
    note: Annotated[str, Field(max_length=500)] = ""


class RejectBody(_In):
    reason: Annotated[str, Field(min_length=1, max_length=1000)]


class DecisionGroup(BaseModel):
    key: str
    site: str
    kind: str
    day: str
    count: int
    money_at_stake: float
    currency: str
    ids: list[str]


class DecisionGroups(BaseModel):
    groups: list[DecisionGroup]


class BulkBody(_In):
    ids: Annotated[list[Annotated[str, Field(min_length=2, max_length=32, pattern=r"^D[0-9]+$")]],
                   Field(min_length=1, max_length=1000)]
    action: Literal["approve", "reject"]
    note: Annotated[str, Field(max_length=500)] = ""


class BulkResult(BaseModel):
    id: str
    status: str | None
    error: str | None = None


class BulkResults(BaseModel):
    results: list[BulkResult]


class DecisionOutcome(BaseModel):
    decision: DecisionPublic
    events: list[dict[str, Any]]


# -- orders and work orders ---------------------------------------------------------------------------
class OrderCreate(_In):
    """A planner's order: it becomes a decision proposed by them (high-impact ones wait for a second person)."""

    site: Ident
    sku: Ident
    quantity: Annotated[float, Field(gt=0, le=1e7)]
    lane_id: Ident | None = None
    reason: Annotated[str, Field(max_length=1000)] = ""


class WorkOrderCreate(_In):
    asset_id: Ident
    detail: Annotated[str, Field(max_length=1000)] = ""
    cost: Annotated[float, Field(ge=0, le=1e9, description="a quote, kept as a note: the decision is costed "
                                 "at the larger of it and the asset's preventive cost in the network")] | None = None


class OrderPublic(_Out):
    order_id: str
    order_type: str
    status: str
    site: str
    sku: str
    quantity: float
    open_quantity: float
    origin: str | None = None
    lane_id: str | None = None
    decision_id: str | None = None


class WorkOrderPublic(BaseModel):
    work_order_id: str
    asset_id: str
    status: str
    opened_at: datetime | None = None
    decision_id: str | None = None
    detail: str = ""


# -- scenarios ----------------------------------------------------------------------------------------
class ScenarioCreate(_In):
    scenario: Annotated[str, Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_\-]+$")] = "supplier_fire"
    replications: Annotated[int, Field(ge=1, le=500)] = 50
    horizon: Annotated[int, Field(ge=7, le=365)] = 90
    seed: Annotated[int, Field(ge=0, le=2**31)] = 0
    baseline: bool = True


class ScenarioPublic(BaseModel):
    id: str
    status: Literal["queued", "running", "done", "failed"]
    params: dict[str, Any]
    requested_by: str
    created_at: datetime
    started_at: datetime | None = None
    finished_at: datetime | None = None
    progress: float
    error: str | None = None


class ScenarioResults(BaseModel):
    id: str
    status: str
    network: list[dict[str, Any]]
    daily: dict[str, dict[str, list[float | None]]]
    resilience: list[dict[str, Any]]


class ScenarioLibrary(BaseModel):
    scenarios: dict[str, str]


# -- quarantine, audit, tokens, health, policy --------------------------------------------------------
class QuarantinePublic(BaseModel):
    id: int
    at: datetime
    device: str
    reason: str
    detail: str
    adapter: str
    size: int
    raw_preview: str


class QuarantinePage(BaseModel):
    items: list[QuarantinePublic]
    counts: dict[str, int]
    next_before_id: int | None = None


class AuditEntryPublic(BaseModel):
    seq: int
    at_us: int
    actor: str
    action: str
    subject: str
    detail: Any  # a JSON object; an entry whose detail is not JSON shows its text
    prev_hash: str
    hash: str


class AuditPage(BaseModel):
    items: list[AuditEntryPublic]
    head_seq: int


class AuditVerify(BaseModel):
    ok: bool
    entries: int
    head_seq: int
    problems: list[str]
    keyed_from: int | None = Field(None, description="the first keyed entry (earlier ones predate keyed chains)")


class TokenCreate(_In):
    name: Annotated[str, Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.@ \-]+$")]
    person: Annotated[str | None, Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.@ \-]+$",
                                        description="the person it belongs to (default: the name)")] = None
    role: Role
    expires_in_days: Annotated[float, Field(gt=0, le=3650)] | None = 90


class TokenPublic(BaseModel):
    id: str
    name: str
    person: str = ""
    role: str
    created_at_us: int
    expires_at_us: int | None = None
    revoked_at_us: int | None = None
    created_by: str
    last_used_at_us: int | None = None


class TokenCreated(BaseModel):
    token: str = Field(description="shown once; only its hash is kept")
    info: TokenPublic


class Me(BaseModel):
    name: str
    role: str
    token_id: str


class Health(BaseModel):
    """The unauthenticated liveness answer: nothing about the deployment."""

    ok: bool


class Status(BaseModel):
    status: Literal["ok", "degraded"]
    store: str
    schema_version: int
    log_offset: int | None = None
    network: str | None = None
    version: str


class AutonomyPolicyBody(_In):
    high_impact_cost: Annotated[float, Field(ge=0)] = 20000.0
    costly_action_cost: Annotated[float, Field(ge=0)] = 2000.0
    split_window_hours: Annotated[float, Field(ge=0, le=24 * 14)] = 24.0
    person_max_spend_per_day: Annotated[float, Field(ge=0)] | None = None
    budget_per_day: Annotated[float, Field(ge=0, allow_inf_nan=False)] | None = None
    timezone: Annotated[str, Field(min_length=1, max_length=64)] = "UTC"
    kinds: dict[Literal["replenish", "rebalance", "maintain", "reroute", "quality"], dict[str, Any]] = Field(default_factory=dict)
