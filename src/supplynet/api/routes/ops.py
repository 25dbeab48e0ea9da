"""Quarantine, audit, tokens, policies, health, identity and metrics."""

from __future__ import annotations

import asyncio
import json
import time
from typing import Annotated, Any

import orjson
from fastapi import APIRouter, Path, Query, Request
from fastapi.responses import JSONResponse, Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from starlette.concurrency import run_in_threadpool

from ... import __version__
from ...decide.autonomy import loosened, parse_policy
from ...events import us_to_ts
from ...security.tokens import people_behind, person_of
from ..deps import Admin, StateDep, Viewer
from ..problems import NotFound
from ..schemas import (
    AuditPage,
    AuditVerify,
    AutonomyPolicyBody,
    Health,
    Me,
    QuarantinePage,
    Status,
    TokenCreate,
    TokenCreated,
    TokenPublic,
)

router = APIRouter()


class HealthProbe:
    """The store check behind ``/v1/health``: run in the thread pool at most once a second, never
    awaited by a health request once a first answer is in (under overload the answer is the last
    check's, at once); not ok when the store failed, or no check finished for ``stale_s``."""

    def __init__(self, check: Any, every_s: float = 1.0, stale_s: float = 10.0):
        self.check, self.every_s, self.stale_s = check, every_s, stale_s
        self.ok, self.at = False, 0.0
        self._task: asyncio.Future[None] | None = None

    def _run(self) -> None:
        try:
            self.check()
            self.ok = True
        except Exception:  # reported as not ok, not raised: a health check answers
            self.ok = False
        self.at = time.monotonic()

    async def status(self) -> bool:
        if self.at == 0.0:
            await run_in_threadpool(self._run)
        now = time.monotonic()
        if now - self.at > self.every_s and (self._task is None or self._task.done()):
            self._task = asyncio.ensure_future(run_in_threadpool(self._run))
        return self.ok and now - self.at <= self.stale_s


_OK, _NOT_OK = orjson.dumps({"ok": True}), orjson.dumps({"ok": False})


@router.get("/v1/health", response_model=Health, tags=["health"], responses={503: {"model": Health}},
            summary="Liveness: {\"ok\": true}, or 503 {\"ok\": false} when the store fails (no token)")
async def health(request: Request, state: StateDep) -> Response:
    probe = getattr(request.app.state, "health_probe", None)
    if probe is None:
        probe = request.app.state.health_probe = HealthProbe(lambda: state.store.log.last_offset())
    ok = await probe.status()
    return Response(_OK if ok else _NOT_OK, status_code=200 if ok else 503, media_type="application/json")


@router.get("/v1/status", response_model=Status, tags=["health"], summary="The store, schema, log and version "
                                                                         "(viewer token)")
def status(state: StateDep, _: Viewer) -> Status:
    try:
        version = state.store.schema_version()
        offset = state.store.log.last_offset()
        st = "ok"
    except Exception:  # reported, not raised: a status check answers
        version, offset, st = -1, None, "degraded"
    return Status(status=st, store=state.store.safe_url, schema_version=version, log_offset=offset,
                  network=getattr(state.network, "name", None), version=__version__)


@router.get("/v1/me", response_model=Me, tags=["health"], summary="Who the token belongs to")
def me(who: Viewer) -> Me:
    return Me(name=who.name, role=who.role, token_id=who.token_id)


@router.get("/metrics", tags=["health"], summary="Prometheus metrics (viewer token)",
            responses={200: {"content": {"text/plain": {"schema": {"type": "string"}}}}})
def metrics(state: StateDep, _: Viewer) -> Response:
    return Response(generate_latest(state.metrics.registry), media_type=CONTENT_TYPE_LATEST)


@router.get("/v1/quarantine", response_model=QuarantinePage, tags=["quarantine"],
            summary="Messages the gate rejected, with reason (newest first)")
def quarantine(state: StateDep, _: Viewer, device: Annotated[str | None, Query(max_length=128)] = None,
               reason: Annotated[str | None, Query(max_length=64)] = None,
               before_id: Annotated[int | None, Query(ge=1, le=2**62)] = None,
               limit: Annotated[int, Query(ge=1, le=500)] = 50) -> QuarantinePage:
    t = state.store.ingest
    rows = t.quarantined(device=device, reason=reason, limit=limit + 1, before_id=before_id)
    more = len(rows) > limit
    rows = rows[:limit]
    items = [{"id": r.id, "at": us_to_ts(r.at_us), "device": r.device, "reason": r.reason, "detail": r.detail,
              "adapter": r.adapter, "size": r.size, "raw_preview": r.raw[:200].decode("utf-8", "replace")}
             for r in rows]
    return QuarantinePage(items=items, counts=t.quarantine_counts(), next_before_id=rows[-1].id if more else None)


@router.get("/v1/audit", response_model=AuditPage, tags=["audit"], summary="The audit log (newest first)")
def audit(state: StateDep, _: Viewer, before: Annotated[int | None, Query(ge=1, le=2**62)] = None,
          subject: Annotated[str | None, Query(max_length=128)] = None,
          limit: Annotated[int, Query(ge=1, le=1000)] = 100) -> AuditPage:
    log = state.store.audit
    items = log.entries(after_seq=before or 0, limit=limit, subject=subject, newest_first=True)
    return AuditPage(items=[e.to_dict() for e in items], head_seq=log.head()[0])


@router.get("/v1/audit/verify", response_model=AuditVerify, tags=["audit"], summary="Verify the hash chain (admin)")
def audit_verify(state: StateDep, _: Admin) -> AuditVerify:
    return AuditVerify(**state.store.audit.verify().to_dict())


def _token_public(r) -> TokenPublic:  # noqa: ANN001
    return TokenPublic(id=r.id, name=r.name, person=r.holder, role=r.role, created_at_us=r.created_at, expires_at_us=r.expires_at,
                       revoked_at_us=r.revoked_at, created_by=r.created_by, last_used_at_us=r.last_used_at)


@router.get("/v1/tokens", response_model=list[TokenPublic], tags=["tokens"], summary="API tokens (admin)")
def list_tokens(state: StateDep, _: Admin) -> list[TokenPublic]:
    return [_token_public(r) for r in state.tokens.list()]


@router.post("/v1/tokens", response_model=TokenCreated, status_code=201, tags=["tokens"],
             summary="Create an API token (admin); the token is shown once")
def create_token(state: StateDep, who: Admin, body: TokenCreate) -> TokenCreated:
    days = body.expires_in_days
    token, row = state.tokens.create(role=body.role, name=body.name, person=body.person, created_by=who.actor,
                                     expires_in_s=None if days is None else days * 86400.0)
    return TokenCreated(token=token, info=_token_public(row))


@router.post("/v1/tokens/{token_id}/revoke", response_model=TokenPublic, tags=["tokens"],
             summary="Revoke an API token (admin)")
def revoke_token(state: StateDep, who: Admin,
                 token_id: Annotated[str, Path(min_length=12, max_length=12, pattern=r"^[a-z0-9]+$")]) -> TokenPublic:
    if state.tokens.table.get(token_id) is None:
        raise NotFound(f"no API token {token_id!r}")
    state.tokens.revoke(token_id, by=who.actor)
    return _token_public(state.tokens.table.get(token_id))


@router.get("/v1/policies/autonomy", response_model=AutonomyPolicyBody, tags=["policies"],
            summary="The autonomy policy in force")
def get_policy(state: StateDep, _: Viewer) -> AutonomyPolicyBody:
    return AutonomyPolicyBody(**state.policy.to_yaml_dict())


_PENDING = "autonomy_policy.pending"


@router.put("/v1/policies/autonomy", response_model=AutonomyPolicyBody, tags=["policies"],
            summary="Replace the autonomy policy (admin); one that loosens the two-person rule waits for a "
                    "second admin",
            responses={202: {"description": "it loosens the two-person rule: pending until another admin (not "
                                            "one whose token the first issued) puts the same policy"}})
def put_policy(state: StateDep, who: Admin, body: AutonomyPolicyBody) -> Any:
    policy = parse_policy(body.model_dump(mode="json"), "request body")
    loose = loosened(state.policy, policy)
    if loose:
        raw = state.decisions.setting(_PENDING)
        pending = json.loads(raw) if raw else None
        table = state.tokens.table  # one person cannot be both sides, not even through a token she issued
        me = people_behind(who.actor, table.sponsors(who.token_id))
        if not pending or pending["policy"] != policy.to_yaml_dict() or \
                me & people_behind(pending["by"], table.sponsors(pending["token"])):
            state.decisions.put_setting(_PENDING, json.dumps({"policy": policy.to_yaml_dict(), "by": who.actor,
                                                              "token": who.token_id}),
                                        audit=(who.actor, "policy.propose", {"loosens": loose}))
            return JSONResponse(status_code=202, content={
                "status": "pending", "loosens": loose,
                "note": "it loosens the two-person rule: it applies when another admin (not one whose token "
                        f"{person_of(who.actor)} issued) puts the same policy"})
        state.decisions.put_setting(_PENDING, "", audit=(who.actor, "policy.confirm", {"proposed_by": pending["by"]}))
    state.set_policy(policy, who.actor)
    return AutonomyPolicyBody(**state.policy.to_yaml_dict())
