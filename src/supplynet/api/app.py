"""The FastAPI application: ``create_app(settings)`` builds it (nothing at import time).

Started by the ingestion gateway issue with the ``POST /v1/ingest`` route; the control tower grows it.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI

from ..config import Settings

__all__ = ["create_app"]


def create_app(settings: Settings | None = None, *, store: Any = None, gate_config: Any = None) -> FastAPI:
    """The service. ``store``: an open store to use (tests); otherwise the one the settings name is
    opened at startup and closed at shutdown."""
    from ..ingest.gate import Gate
    from ..ingest.http import HttpIngest, router
    from ..store import open_store

    settings = settings or Settings()
    settings.check_production()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        own = store is None
        st = open_store(settings.resolved_store_url()) if own else store
        app.state.store = st
        app.state.ingest = HttpIngest(Gate(st, config=gate_config, monitor=True))
        try:
            yield
        finally:
            if own:
                st.close()

    app = FastAPI(title="supplynet", version="0.1", lifespan=lifespan)
    app.state.settings = settings
    app.include_router(router)

    @app.get("/v1/ingest/metrics", tags=["ingest"])
    def ingest_metrics() -> dict[str, Any]:
        """Messages per outcome and reason code since the service started."""
        gate = app.state.ingest.gate
        return {"counters": dict(gate.counters), "devices": len(gate.accounting)}

    return app
