"""The log keeps its last committed offset and per-source high water in memory between appends, and
reads them back when another connection (another process) has committed to the file since."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from supplynet.events import Sale
from supplynet.store.sqlite import SqliteStore

T0 = datetime(2026, 1, 1, tzinfo=UTC)


def _sales(lo: int, hi: int, source: str = "till-1") -> list[Sale]:
    return [Sale(source=source, seq=i, ts=T0 + timedelta(minutes=i), site="S1", sku="A", quantity=1.0)
            for i in range(lo, hi + 1)]


def test_another_writer_between_appends_is_seen(tmp_path):
    path = tmp_path / "shared.db"
    with SqliteStore(path) as a, SqliteStore(path) as b:
        assert a.log.append(_sales(1, 10)).stored == 10
        assert a.log.append(_sales(1, 3, "till-2")).stored == 3  # a's memo now holds both sources
        r = b.log.append(_sales(5, 15))  # the other process: 5..10 are duplicates
        assert (r.stored, r.duplicates) == (5, 6)
        r = a.log.append(_sales(12, 20))  # a must see b's 11..15, not its memo's high water 10
        assert (r.stored, r.duplicates) == (5, 4)
        assert a.log.append(_sales(4, 4, "till-2")).stored == 1
        assert a.log.count() == 24 == b.log.count()
        offsets = [rec.offset for rec in a.log.read(order="offset")]
        assert offsets == list(range(1, 25))  # no offset taken twice, none skipped
        assert a.log.high_water("till-1") == 20 and b.log.high_water("till-2") == 4


def test_memo_serves_repeated_appends_of_one_writer(tmp_path):
    with SqliteStore(tmp_path / "one.db") as s:
        for k in range(5):
            assert s.log.append(_sales(10 * k + 1, 10 * k + 10)).stored == 10
        r = s.log.append(_sales(1, 50))  # everything again: all duplicates, via the lookup path
        assert (r.stored, r.duplicates) == (0, 50)
        assert [rec.offset for rec in s.log.read(order="offset")] == list(range(1, 51))
