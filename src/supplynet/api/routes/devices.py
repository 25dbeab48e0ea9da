"""Device registry (admin): read and changed through the ingestion side's registry and its store table."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path

from ...errors import DataError, SecurityError
from ...security.devices import DeviceRegistry
from ...security.tokens import Principal
from ..deps import Admin, StateDep
from ..problems import Conflict, NotFound
from ..schemas import DeviceCreate, DeviceCreated, DevicePublic

router = APIRouter(tags=["devices"])
DeviceId = Annotated[str, Path(min_length=1, max_length=128, pattern=r"^[A-Za-z0-9_.:@\-]+$")]


def _registry(state: StateDep, who: Principal | None = None) -> DeviceRegistry:
    """The registry; changes made through it are audited as ``who`` (in the change's transaction)."""
    records = state.store.devices.acting_as(who.actor if who is not None else "api")
    return DeviceRegistry(records, home=state.home)


@router.get("/v1/devices", response_model=list[DevicePublic], summary="Registered devices (admin)")
def list_devices(state: StateDep, _: Admin) -> list[DevicePublic]:
    return [DevicePublic(**d.public_dict()) for d in _registry(state).list()]


@router.get("/v1/devices/{device_id}", response_model=DevicePublic, summary="One device (admin)")
def get_device(state: StateDep, _: Admin, device_id: DeviceId) -> DevicePublic:
    rec = _registry(state).get(device_id)
    if rec is None:
        raise NotFound(f"no device {device_id!r}")
    return DevicePublic(**rec.public_dict())


@router.post("/v1/devices", response_model=DeviceCreated, status_code=201,
             summary="Provision a device; its private key is shown once (admin)")
def provision_device(state: StateDep, who: Admin, body: DeviceCreate) -> DeviceCreated:
    reg = _registry(state, who)
    if reg.records.get_device(body.device_id) is not None:
        raise Conflict(f"device {body.device_id!r} is already registered")
    try:
        cred = reg.provision(body.device_id, kind=body.kind, measures=body.measures, asset=body.asset,
                             site=body.site, report_interval_s=body.report_interval_s, scheme=body.scheme,
                             any_site=body.any_site)
    except SecurityError as exc:
        raise DataError(str(exc)) from exc
    rec = reg.get(body.device_id)
    return DeviceCreated(device=DevicePublic(**rec.public_dict()), credential=cred.to_dict())  # type: ignore[union-attr]


@router.post("/v1/devices/{device_id}/revoke", response_model=DevicePublic, summary="Revoke a device (admin)")
def revoke_device(state: StateDep, who: Admin, device_id: DeviceId) -> DevicePublic:
    reg = _registry(state, who)
    if reg.records.get_device(device_id) is None:
        raise NotFound(f"no device {device_id!r}")
    rec = reg.revoke(device_id)
    return DevicePublic(**rec.public_dict())
