"""SeqTracker against a plain set of done sequence numbers."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from supplynet.ingest.gate import SeqTracker

ranges = st.lists(st.tuples(st.integers(0, 200), st.integers(0, 5)).map(lambda t: (t[0], t[0] + t[1])),
                  max_size=60)


@given(marks=ranges, probes=ranges)
@settings(max_examples=300, deadline=None)
def test_tracker_matches_a_set(marks, probes):
    t = SeqTracker()
    done: set[int] = set()
    for n, (lo, hi) in enumerate(marks):
        t.mark(lo, hi)
        done.update(range(lo, hi + 1))
        expect_acked = -1
        while expect_acked + 1 in done:
            expect_acked += 1
        assert t.acked == expect_acked
        assert t.high == max(h for _, h in marks[: n + 1])
        assert all(a <= b for a, b in zip(t.los, t.his, strict=True))
        assert all(t.his[k] + 1 < t.los[k + 1] for k in range(len(t.los) - 1))  # disjoint, not touching
    for lo, hi in probes:
        assert t.done(lo, hi) == all(s in done for s in range(lo, hi + 1))


def test_span_cap_forgets_the_oldest_only():
    t = SeqTracker(max_spans=10)
    for k in range(100):
        t.mark(2 * k + 1, 2 * k + 1)  # every other seq: gaps that never fill
    assert t.acked == -1 and len(t.los) == 10 and t.los[0] == 181 and t.high == 199
    assert t.done(199, 199) and not t.done(1, 1)  # forgotten: the log deduplicates it
