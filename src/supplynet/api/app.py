"""The FastAPI application: ``create_app(settings)`` builds it (nothing at import time).

Started by the ingestion gateway issue with the ``POST /v1/ingest`` route (its router is included
unchanged); the control tower adds the network, twin state with ``as_of`` time travel, events,
devices, decisions, orders and work orders, scenarios, quarantine, audit, tokens, policies, health,
Prometheus metrics, live updates over SSE and the dashboard under ``/ui/``.
"""

from __future__ import annotations

import gc
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from importlib import resources
from typing import TYPE_CHECKING, Any

from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles

from ..config import Settings
from .deps import Viewer
from .middleware import Limits, LimitsMiddleware, MetricsMiddleware, SecurityHeaders
from .problems import COMMON_RESPONSES, install

if TYPE_CHECKING:
    from ..store import Store

__all__ = ["create_app"]


def _load_network(settings: Settings, network: Any) -> Any:
    if network is not None:
        if isinstance(network, str | bytes) or hasattr(network, "__fspath__"):
            from ..model import load_network

            return load_network(network)
        return network
    if settings.network is not None:
        from ..model import load_network

        return load_network(settings.network)
    return None


def create_app(settings: Settings | None = None, *, store: Store | None = None, gate_config: Any = None,
               network: Any = None, policy: Any = None, limits: Limits | None = None,
               twin_refresh_s: float = 0.1, token_cache_s: float = 1.0) -> FastAPI:
    """The service. ``store``: an open store to use (tests, the demo); otherwise the one the settings
    name is opened at startup and closed at shutdown. ``network``: a Network or a path (default: the
    settings' network, if any). ``policy``: an AutonomyPolicy (default: the stored one, else the
    packaged example). ``limits``: request size and rate limits. ``twin_refresh_s``: the live twin catches up
    with the log at most this often (the service's own writes are seen at once). ``token_cache_s``: how long a
    token's row is kept in memory (a revocation made by another process applies within it)."""
    from ..ingest.gate import Gate
    from ..ingest.http import HttpIngest, IngestShedding
    from ..ingest.http import router as ingest_router
    from ..security.devices import DeviceRegistry
    from ..security.tokens import TokenService
    from ..store import open_store
    from .metrics import Metrics
    from .routes import decisions, devices, events, forecasts, ops, orders, scenarios, state, stream, web
    from .routes import network as network_routes
    from .service import ControlState, ScenarioRunner, TwinService

    settings = settings or Settings()
    settings.check_production()
    net = _load_network(settings, network)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        own = store is None
        st = store if store is not None else open_store(settings.resolved_store_url())
        app.state.store = st
        registry = DeviceRegistry(st.devices, home=settings.home)
        app.state.ingest = HttpIngest(Gate(st, registry, config=gate_config, monitor=True))
        runner = ScenarioRunner(net, st.scenarios)
        control = ControlState(store=st, network=net, twins=TwinService(st, net, refresh_s=twin_refresh_s),
                               tokens=TokenService(st, cache_s=token_cache_s),
                               decisions=st.decisions, scenarios=runner, _policy=policy,
                               home=settings.home)
        control.metrics = metrics  # type: ignore[attr-defined]
        runner.on_done = lambda job, seconds: metrics.scenario_seconds.observe(seconds)
        app.state.control = control
        # what startup made lives as long as the service: keep it out of the collector's full passes
        # (they scanned it all, a stall of a few hundred ms on a busy machine, under every request)
        gc.collect()
        gc.freeze()
        try:
            yield
        finally:
            runner.shutdown()
            if own:
                st.close()

    app = FastAPI(title="supplynet control tower", version="0.1", lifespan=lifespan,
                  docs_url=None, redoc_url=None,  # /docs is served from vendored Swagger UI (routes/web.py)
                  description="Network, live twin state, events, decisions and approvals, scenarios, audit. "
                              "Authenticate with `Authorization: Bearer <API token>` (`supplynet tokens create`).")
    app.state.settings = settings
    metrics = Metrics(lambda: getattr(app.state, "control", None))
    app.state.metrics = metrics
    install(app)
    app.include_router(ingest_router)

    @app.get("/v1/ingest/metrics", tags=["ingest"], responses=COMMON_RESPONSES)
    def ingest_metrics(_: Viewer) -> dict[str, Any]:
        """Messages per outcome and reason code since the service started, and the HTTP edge's
        admission counters (shed, served, cut off); viewer token."""
        svc = app.state.ingest
        return {"counters": dict(svc.gate.counters), "devices": len(svc.gate.accounting), "http": svc.stats()}

    for mod in (network_routes, state, events, devices, decisions, orders, scenarios, ops, stream, forecasts):
        app.include_router(mod.router, responses=COMMON_RESPONSES)
    from .routes import outbox as outbox_routes

    app.include_router(outbox_routes.router, responses=COMMON_RESPONSES)
    app.include_router(web.router)
    app.mount("/ui", StaticFiles(directory=str(resources.files("supplynet") / "web"), html=True), name="ui")
    app.add_middleware(LimitsMiddleware, limits=limits or Limits())
    app.add_middleware(MetricsMiddleware, metrics=metrics)
    app.add_middleware(IngestShedding)  # sheds ingest overload before routing or metrics
    app.add_middleware(SecurityHeaders)  # outermost: every response carries them
    return app
