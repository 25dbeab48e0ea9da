"""The :class:`Twin`: live state plus how it is rebuilt from the log (with snapshots)."""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Iterable
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

import pandas as pd

from ..errors import DataError
from ..events import EventBase, ts_to_us
from ._snapshot import decode_snapshot, encode_snapshot
from ._state import TwinState, apply

if TYPE_CHECKING:
    from ..model import Network
    from ..store import Store

__all__ = ["Twin"]

log = logging.getLogger(__name__)


def _aware(as_of: Any) -> datetime:
    """``as_of`` in UTC; a naive or non-datetime value is refused with what to pass instead."""
    if not isinstance(as_of, datetime):
        raise DataError(f"Twin.rebuild(as_of={as_of!r}): pass a datetime with a time zone, e.g. "
                        "datetime(2026, 1, 5, 12, tzinfo=UTC)")
    if as_of.tzinfo is None or as_of.utcoffset() is None:
        raise DataError(f"Twin.rebuild(as_of={as_of.isoformat()}): that datetime has no time zone, so the moment "
                        f"is ambiguous; pass an aware one, e.g. datetime({as_of.year}, {as_of.month}, {as_of.day}, "
                        f"{as_of.hour}, tzinfo=UTC) or datetime.fromisoformat('{as_of.isoformat()}Z')")
    from ..events import to_utc

    try:
        return to_utc(as_of)
    except ValueError as exc:
        raise DataError(f"Twin.rebuild(as_of={as_of.isoformat()}): {exc}") from None


class Twin:
    """Live state of the network. ``apply`` folds one event; ``rebuild`` replays the log.

    The log's offset of the last applied event is kept in ``offset``, so ``catch_up`` applies only
    what was committed since.
    """

    def __init__(self, network: Network | None = None, state: TwinState | None = None, offset: int = 0):
        self.network = network
        self.state = state if state is not None else TwinState.for_network(network)
        self.offset = offset

    # -- folding ---------------------------------------------------------------------------------
    def apply(self, event: EventBase, offset: int | None = None) -> Twin:
        apply(self.state, event)
        if offset is not None:
            self.offset = max(self.offset, offset)
        return self

    def apply_many(self, events: Iterable[EventBase]) -> Twin:
        for e in events:
            apply(self.state, e)
        return self

    def catch_up(self, store: Store) -> int:
        """Apply every event committed to ``store`` after ``offset`` (through the log follower); returns
        how many."""
        from ._follower import Follower

        return Follower(store, self).poll()

    @classmethod
    def rebuild(cls, store: Store, network: Network | None = None, as_of: datetime | None = None,
                use_snapshot: bool = True) -> Twin:
        """Replay the log into a fresh twin. With ``as_of``, only events whose time is at or before it
        count (state as of that moment, as far as the log knows it now); ``as_of`` must carry its time
        zone (a naive datetime is ambiguous and refused with a :class:`~supplynet.errors.DataError`)."""
        if as_of is not None:
            as_of = _aware(as_of)
            twin = cls(network)
            # the log's range is [since, until): one microsecond more includes events at as_of itself
            for rec in store.log.read(until=as_of + timedelta(microseconds=1), order="offset"):
                apply(twin.state, rec.event)
                twin.offset = rec.offset
            return twin
        twin = None
        if use_snapshot:
            snap = store.snapshots.latest_snapshot()
            if snap is not None:
                try:
                    twin = cls.from_snapshot(snap.blob, network)
                except DataError as exc:  # an old or foreign snapshot: the log is the truth, replay it all
                    log.warning("%s; replaying the log from the start instead", exc)
        twin = twin or cls(network)
        twin.catch_up(store)
        return twin

    # -- snapshots -------------------------------------------------------------------------------
    def to_snapshot(self) -> bytes:
        """The state as snapshot bytes (compressed JSON, see :mod:`supplynet.twin._snapshot`)."""
        return encode_snapshot(self.offset, self.state)

    @classmethod
    def from_snapshot(cls, blob: bytes, network: Network | None = None) -> Twin:
        """A twin from snapshot bytes; :class:`~supplynet.errors.DataError` for any other format (an old
        pickle is refused, never unpickled), and for a snapshot folded under another network than
        ``network`` where that changes the fold (which sites lose sales, which are not tracked): the
        network was replaced since (``--network-update``), so the log is the truth, replayed under it.
        Snapshots are otherwise interchangeable between writers: a twin is a function of the log."""
        offset, state = decode_snapshot(blob)
        if network is not None:
            now = TwinState.for_network(network)
            if (now.lost_sales_sites, now.untracked_sites) != (state.lost_sales_sites, state.untracked_sites):
                raise DataError("twin snapshot refused: folded under another network (its lost-sales or untracked "
                                "sites differ from this network's)")
        return cls(network, state=state, offset=offset)

    def save_snapshot(self, store: Store, name: str = "twin") -> None:
        """Write the state (its offset included) to ``store``'s snapshots under its writer's ``name``."""
        at = self.state.last_event_at
        store.snapshots.save_snapshot(self.offset, ts_to_us(at) if at else 0, self.to_snapshot(), name=name)

    # -- tables ----------------------------------------------------------------------------------
    def inventory_frame(self) -> pd.DataFrame:
        rows = [dict(dataclasses.asdict(p), position=p.position) for p in self.state.inventory.values()]
        cols = ["site", "sku", "on_hand", "on_order", "in_transit", "backorders", "position", "lost_sales", "sold",
                "last_count", "last_count_at", "updated_at"]
        return pd.DataFrame(rows, columns=cols).sort_values(["site", "sku"], ignore_index=True)

    def shipments_frame(self) -> pd.DataFrame:
        rows = []
        for s in self.state.shipments.values():
            d = dataclasses.asdict(s)
            d["units"] = sum(q for _, q, _ in s.lines)
            d.pop("lines")
            rows.append(d)
        cols = [f.name for f in dataclasses.fields(next(iter(self.state.shipments.values())))] if rows else []
        frame = pd.DataFrame(rows)
        return frame.sort_values("shipment_id", ignore_index=True) if rows else pd.DataFrame(columns=cols)

    def orders_frame(self) -> pd.DataFrame:
        rows = [dict(dataclasses.asdict(o), open_quantity=o.open_quantity) for o in self.state.orders.values()]
        frame = pd.DataFrame(rows)
        return frame.sort_values("order_id", ignore_index=True) if rows else frame

    def assets_frame(self) -> pd.DataFrame:
        rows = []
        for a in self.state.assets.values():
            d = {f.name: getattr(a, f.name) for f in dataclasses.fields(a) if f.name not in ("sensors", "settings",
                                                                                            "extra")}
            d["n_sensors"] = len(a.sensors)
            rows.append(d)
        frame = pd.DataFrame(rows)
        return frame.sort_values("asset_id", ignore_index=True) if rows else frame
