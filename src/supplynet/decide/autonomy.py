"""Autonomy policy: how much the platform may do alone, per decision kind, and its guardrails.

    high_impact_cost: 20000      # at or above: approved by someone other than the proposer
    split_window_hours: 24       # a person's decisions on one subject within it add up against high_impact_cost
    person_max_spend_per_day: null   # a person's own decisions in a day (null: high_impact_cost)
    costly_action_cost: 2000     # at or above: the evidence must name two independent sources
    timezone: Europe/London      # for quiet hours
    kinds:
      replenish:
        level: auto              # manual | propose | auto
        guardrails:
          max_spend_per_decision: 10000
          max_spend_per_day: 60000
          max_quantity: 5000
          allowed_lanes: null    # null: any lane
          allowed_suppliers: [SUP-NOR, SUP-CRW]
          quiet_hours: {start: "22:00", end: "06:00"}
      maintain: {level: propose}

``manual``: the platform only notes what it would do (a person acts); ``propose``: it proposes and a
planner approves; ``auto``: it acts within the guardrails. An auto decision that would break a
guardrail becomes a proposal naming the guardrail(s) (:func:`evaluate`, a pure function).
"""

from __future__ import annotations

import io
from dataclasses import dataclass, field
from datetime import datetime, time
from pathlib import Path
from typing import Annotated, Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from ..errors import ConfigError, DecisionError

__all__ = ["KINDS", "AutonomyPolicy", "Guardrails", "KindPolicy", "QuietHours", "Verdict", "evaluate",
           "load_policy", "loosened", "parse_policy"]

KINDS = ("replenish", "rebalance", "maintain", "reroute", "quality")
Level = Literal["manual", "propose", "auto"]
NonNeg = Annotated[float, Field(ge=0, allow_inf_nan=False)]


class _Base(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class QuietHours(_Base):
    """No autonomous action from ``start`` to ``end`` (local time; may wrap past midnight)."""

    start: time
    end: time

    def contains(self, t: time) -> bool:
        if self.start == self.end:
            return False
        if self.start < self.end:
            return self.start <= t < self.end
        return t >= self.start or t < self.end


class Guardrails(_Base):
    max_spend_per_decision: NonNeg | None = None
    max_spend_per_day: NonNeg | None = None
    max_quantity: NonNeg | None = None
    allowed_lanes: list[str] | None = None
    allowed_suppliers: list[str] | None = None
    quiet_hours: QuietHours | None = None


class KindPolicy(_Base):
    level: Level = "propose"
    guardrails: Guardrails = Field(default_factory=Guardrails)


class AutonomyPolicy(_Base):
    """The whole policy; kinds left out are ``propose`` with no guardrails."""

    high_impact_cost: NonNeg = 20_000.0
    costly_action_cost: NonNeg = 2_000.0
    #: money replenishment orders may commit per day, proposals included (None: no budget); orders beyond
    #: it are trimmed or left for the next day by the replenisher
    budget_per_day: NonNeg | None = None
    split_window_hours: Annotated[float, Field(ge=0, le=24 * 14, allow_inf_nan=False)] = 24.0
    person_max_spend_per_day: NonNeg | None = None
    timezone: str = "UTC"
    kinds: dict[str, KindPolicy] = Field(default_factory=dict)

    @field_validator("kinds")
    @classmethod
    def _known(cls, v: dict[str, KindPolicy]) -> dict[str, KindPolicy]:
        unknown = sorted(set(v) - set(KINDS))
        if unknown:
            raise ConfigError(f"unknown decision kind {unknown[0]!r}; use {', '.join(KINDS)}")
        return v

    @field_validator("timezone")
    @classmethod
    def _tz(cls, v: str) -> str:
        try:
            ZoneInfo(v)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ConfigError(f"unknown time zone {v!r} (use an IANA name such as Europe/London)") from exc
        return v

    def for_kind(self, kind: str) -> KindPolicy:
        if kind not in KINDS:
            raise DecisionError(f"unknown decision kind {kind!r}; use {', '.join(KINDS)}")
        return self.kinds.get(kind) or KindPolicy()

    def quiet(self, kind: str, at: datetime) -> bool:
        """Whether ``at`` falls in the quiet hours of an ``auto`` kind: the loop then holds that kind's
        decisions and makes them when the quiet hours end, from the state at that time, instead of
        turning each into a proposal that only a person could release."""
        kp = self.for_kind(kind)
        q = kp.guardrails.quiet_hours
        return kp.level == "auto" and q is not None and q.contains(at.astimezone(ZoneInfo(self.timezone)).time())

    def to_yaml_dict(self) -> dict[str, Any]:
        return self.model_dump(mode="json")


@dataclass(frozen=True)
class Verdict:
    """What autonomy makes of a decision: ``status`` auto | proposed | noted, and why."""

    status: Literal["auto", "proposed", "noted"]
    level: str
    broken: tuple[str, ...] = ()
    notes: tuple[str, ...] = field(default=())
    distinct_approver: bool = False

    @property
    def reason(self) -> str:
        return "; ".join(self.broken + self.notes)


def evaluate(*, kind: str, cost: float, quantity: float | None, lane_id: str | None, supplier: str | None,
             sources: list[str] | tuple[str, ...], at: datetime, spent_today: float,
             policy: AutonomyPolicy) -> Verdict:
    """Autonomy's verdict on a machine-made decision (pure: no I/O)."""
    kp = policy.for_kind(kind)
    distinct = cost >= policy.high_impact_cost
    if kp.level == "manual":
        return Verdict("noted", "manual", notes=(f"{kind} is manual: the platform only notes it",),
                       distinct_approver=distinct)
    g = kp.guardrails
    broken: list[str] = []
    if g.max_spend_per_decision is not None and cost > g.max_spend_per_decision:
        broken.append(f"max_spend_per_decision: cost {cost:,.2f} > {g.max_spend_per_decision:,.2f}")
    if g.max_spend_per_day is not None and spent_today + cost > g.max_spend_per_day:
        broken.append(f"max_spend_per_day: {spent_today:,.2f} already today + {cost:,.2f} > "
                      f"{g.max_spend_per_day:,.2f}")
    if g.max_quantity is not None and quantity is not None and quantity > g.max_quantity:
        broken.append(f"max_quantity: {quantity:,.0f} > {g.max_quantity:,.0f}")
    if g.allowed_lanes is not None and lane_id is not None and lane_id not in g.allowed_lanes:
        broken.append(f"allowed_lanes: lane {lane_id} is not allowed")
    if g.allowed_suppliers is not None and supplier is not None and supplier not in g.allowed_suppliers:
        broken.append(f"allowed_suppliers: supplier {supplier} is not allowed")
    if g.quiet_hours is not None:
        local = at.astimezone(ZoneInfo(policy.timezone)).time()
        if g.quiet_hours.contains(local):
            broken.append(f"quiet_hours: {local:%H:%M} is within {g.quiet_hours.start:%H:%M}-"
                          f"{g.quiet_hours.end:%H:%M} ({policy.timezone})")
    independent = sorted(set(sources))
    if cost >= policy.costly_action_cost and len(independent) < 2:
        broken.append(f"second_source: a costly action ({cost:,.2f} >= {policy.costly_action_cost:,.2f}) "
                      f"needs two independent sources, has {len(independent)} ({', '.join(independent) or 'none'})")
    if distinct:
        broken.append(f"high_impact: cost {cost:,.2f} >= {policy.high_impact_cost:,.2f} needs a person's approval")
    if kp.level == "propose":
        return Verdict("proposed", "propose", notes=tuple(broken) or (f"{kind} is propose: a planner approves",),
                       distinct_approver=distinct)
    if broken:
        return Verdict("proposed", "auto", broken=tuple(broken), distinct_approver=distinct)
    return Verdict("auto", "auto")


def loosened(old: AutonomyPolicy, new: AutonomyPolicy) -> list[str]:
    """How ``new`` relaxes the rules that call for a second person (empty: it does not). Such a change
    is itself a decision one person must not make alone (see the API's policy route)."""
    def cap(p: AutonomyPolicy) -> float:
        return p.person_max_spend_per_day if p.person_max_spend_per_day is not None else p.high_impact_cost

    out = []
    if new.high_impact_cost > old.high_impact_cost:
        out.append(f"high_impact_cost {old.high_impact_cost:,.2f} -> {new.high_impact_cost:,.2f}")
    if cap(new) > cap(old):
        out.append(f"person_max_spend_per_day {cap(old):,.2f} -> {cap(new):,.2f}")
    if new.split_window_hours < old.split_window_hours:
        out.append(f"split_window_hours {old.split_window_hours:g} -> {new.split_window_hours:g}")
    return out


def parse_policy(data: Any, source: str = "<autonomy policy>") -> AutonomyPolicy:
    if data is None:
        data = {}
    try:
        return AutonomyPolicy.model_validate(data)
    except ValidationError as exc:
        parts = []
        for e in exc.errors(include_url=False)[:5]:
            loc = ".".join(str(p) for p in e["loc"]) or "(policy)"
            parts.append(f"{source} {loc}: {e['msg']}")
        raise DecisionError("; ".join(parts)) from exc


def load_policy(path_or_text: str | Path) -> AutonomyPolicy:
    """An autonomy policy from a YAML file (or YAML text); errors name the file and field."""
    from ruamel.yaml import YAML
    from ruamel.yaml.error import YAMLError

    if isinstance(path_or_text, Path) or (isinstance(path_or_text, str) and "\n" not in path_or_text
                                          and path_or_text.endswith((".yaml", ".yml"))):
        p = Path(path_or_text)
        if not p.is_file():
            raise DecisionError(f"{p}: autonomy policy file not found")
        text, source = p.read_text(), str(p)
    else:
        text, source = str(path_or_text), "<autonomy policy>"
    try:
        data = YAML(typ="safe").load(io.StringIO(text))
    except YAMLError as exc:
        raise DecisionError(f"{source}: not valid YAML ({exc})") from exc
    return parse_policy(data, source)
