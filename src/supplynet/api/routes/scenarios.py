"""Scenario runs (what-if, through :mod:`supplynet.sim`) in a background thread, with status and results."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query

from ...sim.scenario import library
from ..deps import Planner, StateDep, Viewer
from ..problems import Busy, Conflict, NotFound
from ..schemas import ScenarioCreate, ScenarioLibrary, ScenarioPublic, ScenarioResults

router = APIRouter(tags=["scenarios"])
JobId = Annotated[str, Path(min_length=1, max_length=32, pattern=r"^[a-f0-9]+$")]


@router.get("/v1/scenarios/library", response_model=ScenarioLibrary, summary="Scenarios that can be run")
def scenario_library(_: Viewer) -> ScenarioLibrary:
    return ScenarioLibrary(scenarios=library())


@router.post("/v1/scenarios", response_model=ScenarioPublic, status_code=202,
             summary="Run a scenario in the background (planner)")
def run_scenario(state: StateDep, who: Planner, body: ScenarioCreate) -> ScenarioPublic:
    if state.scenarios.pending() >= state.scenarios.max_queued:
        raise Busy(f"{state.scenarios.max_queued} scenario runs are already queued; wait for one to finish")
    job = state.scenarios.submit(body.model_dump(), who.actor)  # its audit entry is committed with its row
    return ScenarioPublic(**job.public())


@router.get("/v1/scenarios", response_model=list[ScenarioPublic],
            summary="Scenario runs, newest first (kept in the store)")
def list_runs(state: StateDep, _: Viewer, limit: Annotated[int, Query(ge=1, le=500)] = 50) -> list[ScenarioPublic]:
    return [ScenarioPublic(**j.public()) for j in state.scenarios.list(limit)]


def _job(state: StateDep, job_id: str):  # noqa: ANN202
    job = state.scenarios.get(job_id)
    if job is None:
        raise NotFound(f"no scenario run {job_id!r}")
    return job


@router.get("/v1/scenarios/{job_id}", response_model=ScenarioPublic, summary="Status of a scenario run")
def get_run(state: StateDep, _: Viewer, job_id: JobId) -> ScenarioPublic:
    return ScenarioPublic(**_job(state, job_id).public())


@router.get("/v1/scenarios/{job_id}/results", response_model=ScenarioResults,
            summary="KPIs (P5/P50/P95), daily fill-rate and backlog bands, node resilience")
def get_results(state: StateDep, _: Viewer, job_id: JobId) -> ScenarioResults:
    job = _job(state, job_id)
    results = state.scenarios.results(job_id) if job.status == "done" else None
    if results is None:
        raise Conflict(f"scenario run {job_id} is {job.status}" + (f": {job.error}" if job.error else ""))
    return ScenarioResults(id=job.id, status="done", **results)
