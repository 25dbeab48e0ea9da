"""The MQTT worker's queue serves devices round-robin, so one device's backlog cannot delay others."""

from __future__ import annotations

import queue
import threading

import pytest

from supplynet.ingest.mqtt import FairQueue, _topic_device


def test_a_flooding_device_does_not_delay_the_others():
    q = FairQueue(10_000)
    for i in range(5000):
        q.put("flood", ("flood", i))
    for d in ("a", "b", "c"):
        q.put(d, (d, 0))
    first = q.take(8)
    # the three quiet devices are in the first batch, though they arrived after 5000 flood messages
    assert {x for x in first if x[0] != "flood"} == {("a", 0), ("b", 0), ("c", 0)}
    assert q.qsize() == 5000 + 3 - 8


def test_order_within_a_device_is_kept_and_nothing_is_lost():
    q = FairQueue(1000)
    sent = [(d, i) for i in range(50) for d in ("x", "y", "z")]
    for d, i in sent:
        q.put(d, (d, i))
    got = []
    while not q.empty():
        got += q.take(7)
    assert sorted(got) == sorted(sent)
    for d in ("x", "y", "z"):
        assert [i for dd, i in got if dd == d] == list(range(50))


def test_bounded_put_blocks_then_times_out_and_take_unblocks():
    q = FairQueue(2)
    q.put("a", 1)
    q.put("a", 2)
    with pytest.raises(queue.Full):
        q.put("b", 3, timeout=0.01)
    t = threading.Thread(target=lambda: q.put("b", 3, timeout=5))
    t.start()
    assert q.take(1) == [1]
    t.join(5)
    assert sorted(q.take(10)) == [2, 3]
    assert q.take(1, timeout=0.01) == []
    with pytest.raises(ValueError):
        FairQueue(0)


def test_topic_device():
    assert _topic_device("devices/truck-7/up") == "truck-7"
    assert _topic_device("odd") == "odd"
