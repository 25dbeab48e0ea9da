from __future__ import annotations

from datetime import datetime
from typing import Annotated

import orjson
from fastapi import APIRouter, Query
from fastapi.responses import Response

from ...errors import DataError
from ...events import EVENT_TYPES, to_utc
from ..deps import StateDep, Viewer
from ..schemas import EventPage

router = APIRouter(tags=["events"])


@router.get("/v1/events", response_model=EventPage,
            summary="Events from the log: filter by time, source and kind; page with after_offset")
def list_events(state: StateDep, _: Viewer,
                since: Annotated[datetime | None, Query(description="event time from (inclusive)")] = None,
                until: Annotated[datetime | None, Query(description="event time up to (exclusive)")] = None,
                source: Annotated[list[str] | None, Query(max_length=50)] = None,
                kind: Annotated[list[str] | None, Query(max_length=20)] = None,
                after_offset: Annotated[int | None, Query(ge=0, le=2**62)] = None,
                limit: Annotated[int, Query(ge=1, le=1000)] = 100) -> Response:
    for k in kind or []:
        if k not in EVENT_TYPES:
            raise DataError(f"kind {k!r}: use one of {', '.join(sorted(EVENT_TYPES))}")
    try:
        s, u = (to_utc(since) if since else None), (to_utc(until) if until else None)
    except ValueError as exc:
        raise DataError(f"since/until: {exc}") from exc
    recs = list(state.store.log.read(since=s, until=u, sources=source or None, kinds=kind or None,
                                     after_offset=after_offset, limit=limit + 1))
    more = len(recs) > limit
    recs = recs[:limit]
    items = [{"offset": r.offset, "received_at": r.received_at,
              "event": r.event.model_dump(mode="json", exclude_none=True)} for r in recs]
    body = {"items": items, "next_after_offset": recs[-1].offset if more else None}
    return Response(orjson.dumps(body), media_type="application/json")
