"""The outbox dispatcher against real HTTP receivers on 127.0.0.1, a real folder and a real broker."""

from __future__ import annotations

import json
import os
import socket
from pathlib import Path

import orjson
import pytest

from supplynet.decide import _transports
from supplynet.decide.outbox import ALERT_SOURCE, Dispatcher, sink_secret
from supplynet.decide.sinks import parse_sinks
from supplynet.errors import ConfigError, SecurityError
from supplynet.security.vault import Vault
from supplynet.store import open_store
from supplynet.testing.receivers import WebhookReceiver, verify_signature

SECRET = "correct horse battery staple"
T0 = 1_800_000_000.0  # dispatcher time in seconds (a fixed clock: backoff is checked exactly)


@pytest.fixture
def store(tmp_path: Path):
    s = open_store(f"sqlite:///{tmp_path / 'store.db'}")
    yield s
    s.close()


@pytest.fixture(autouse=True)
def _secret(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ERP_SECRET", SECRET)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _sinks(url: str, *, max_attempts: int = 4, extra: str = "", secret: str = "    secret_env: ERP_SECRET\n"):
    return parse_sinks(
        "sinks:\n  - name: erp\n    kind: webhook\n    url: " + url + "\n" + secret
        + f"    actions: [order, transfer, alert]\n    max_attempts: {max_attempts}\n    backoff_s: 1\n"
        + "    backoff_max_s: 60\n    timeout_s: 2\n" + extra, "sinks.yaml")


def _enqueue(store, n: int = 1, action: str = "order", sinks=("erp",)) -> list[str]:
    box = store.outbox
    ids = [f"dec-{i}:order" for i in range(n)]
    for i, aid in enumerate(ids):
        box.enqueue(action_id=aid, action=action, body={"site": "ST1", "sku": "A", "quantity": 10 + i},
                    sinks=list(sinks), decision_id=f"dec-{i}", at_us=int(T0 * 1e6))
    return ids


def test_receiver_down_then_up_is_retried_then_delivered(store) -> None:
    port = _free_port()
    d = Dispatcher(store, _sinks(f"http://127.0.0.1:{port}/hook"), seed=1)
    ids = _enqueue(store, 3)
    assert d.run_once(T0) == {"claimed": 3, "delivered": 0, "retried": 3, "dead": 0}
    rows = store.outbox.list()
    assert all(r.status == "pending" and r.attempts == 1 and "refused" in (r.last_error or "").lower() for r in rows)
    # equal jitter around the first backoff (1 s): due between 0.5 and 1 s later, not before
    assert all(T0 * 1e6 + 0.5e6 <= r.next_at_us <= T0 * 1e6 + 1e6 for r in rows)
    assert d.run_once(T0 + 0.4)["claimed"] == 0
    with WebhookReceiver(secret=SECRET.encode(), port=port) as rx:
        assert d.run_once(T0 + 1.0) == {"claimed": 3, "delivered": 3, "retried": 0, "dead": 0}
        assert sorted(r.headers["Idempotency-Key"] for r in rx.requests) == sorted(ids)
        assert all(r.signature_ok for r in rx.requests)
    assert store.outbox.counts() == {"delivered": 3}
    assert {r.attempts for r in store.outbox.list()} == {2}
    d.close()


def test_500_is_retried_with_identical_bytes_then_dead_and_alerted(store) -> None:
    with WebhookReceiver(secret=SECRET.encode(), default_status=500) as rx:
        d = Dispatcher(store, _sinks(rx.url, max_attempts=3), seed=2)
        [aid] = _enqueue(store, 1)
        t = T0
        seen = []
        for _ in range(3):
            c = d.run_once(t)
            seen.append((c["retried"], c["dead"]))
            t += 120  # past any backoff
        assert seen == [(1, 0), (1, 0), (0, 1)]
        assert rx.count == 3
        bodies = {r.body for r in rx.requests}
        assert len(bodies) == 1 and all(r.signature_ok for r in rx.requests)
        assert orjson.loads(bodies.pop()) == {"action": "order", "action_id": aid, "decision_id": "dec-0",
                                              "body": {"site": "ST1", "sku": "A", "quantity": 10}}
    [row] = store.outbox.list(sink="erp")
    assert (row.status, row.attempts) == ("dead", 3)
    assert "HTTP 500" in row.last_error and "gave up after 3 attempts" in row.last_error
    # the dead letter raised an alert in the log (supplynet run sends alerts to the sinks that take them)
    [alert] = [e.event for e in store.log.read() if e.event.source == ALERT_SOURCE]
    assert (alert.code, alert.subject, alert.severity, alert.data["action_id"], alert.data["attempts"]) == (
        "dead_letter", "erp", "critical", aid, 3)
    d.close()


def test_a_dead_alert_about_a_dead_letter_raises_no_further_alert(store) -> None:
    with WebhookReceiver(default_status=410) as rx:
        d = Dispatcher(store, _sinks(rx.url))
        box = store.outbox
        box.enqueue(action_id="alert-x", action="alert", body={"code": "dead_letter", "subject": "erp"},
                    sinks=["erp"], decision_id=None, at_us=0)
        box.enqueue(action_id="alert-y", action="alert", body={"code": "cold_chain", "subject": "REEFER-1"},
                    sinks=["erp"], decision_id=None, at_us=0)
        assert d.run_once(T0)["dead"] == 2
    alerts = [e.event for e in store.log.read() if e.event.source == ALERT_SOURCE]
    assert [a.data["action_id"] for a in alerts] == ["alert-y"]  # no chain of alerts about alerts
    d.close()


def test_410_is_dead_at_once(store) -> None:
    with WebhookReceiver(default_status=410) as rx:
        d = Dispatcher(store, _sinks(rx.url, max_attempts=8))
        _enqueue(store, 2)
        assert d.run_once(T0) == {"claimed": 2, "delivered": 0, "retried": 0, "dead": 2}
        assert rx.count == 2
    assert {(r.status, r.attempts) for r in store.outbox.list()} == {("dead", 1)}
    assert "HTTP 410" in store.outbox.list()[0].last_error
    d.close()


@pytest.mark.parametrize("status", [429, 408])
def test_429_and_408_are_retried_and_retry_after_is_honoured(store, status: int) -> None:
    with WebhookReceiver(script=[status, status], retry_after="30") as rx:
        d = Dispatcher(store, _sinks(rx.url, max_attempts=3), seed=3)
        _enqueue(store, 1)
        assert d.run_once(T0)["retried"] == 1
        [row] = store.outbox.list()
        pause = row.next_at_us / 1e6 - T0
        assert (pause >= 30) if status == 429 else (0.5 <= pause <= 1.0)
        assert d.run_once(T0 + 31)["retried"] == 1
        assert d.run_once(T0 + 62)["delivered"] == 1  # the third attempt, within max_attempts 3
        assert rx.count == 3
    d.close()


def test_signature_with_the_vault_secret(store, tmp_path: Path) -> None:
    vault = Vault(Vault.generate_key())
    with WebhookReceiver() as rx:
        cfg = _sinks(rx.url, secret="")
        d = Dispatcher(store, cfg, vault=vault)
        secret = sink_secret(store, cfg.get("erp"), vault=vault)
        assert secret == sink_secret(store, cfg.get("erp"), vault=vault)  # kept, not remade
        assert len(secret) >= 32
        sealed = store.backend.query("SELECT sealed FROM sink_secrets WHERE sink = 'erp'")[0][0]
        assert secret.decode() not in sealed
        _enqueue(store, 1)
        assert d.run_once(T0)["delivered"] == 1
        [req] = rx.requests
        assert verify_signature(secret, req.body, req.headers["X-Supplynet-Signature"])
        assert not verify_signature(b"another secret", req.body, req.headers["X-Supplynet-Signature"])
        assert not verify_signature(secret, req.body + b" ", req.headers["X-Supplynet-Signature"])
        with pytest.raises(SecurityError, match="sink erp: its sealed webhook secret does not open"):
            sink_secret(store, cfg.get("erp"), vault=Vault(Vault.generate_key()))
    d.close()


def test_missing_secret_env_is_a_clear_error(store, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("ERP_SECRET")
    with pytest.raises(ConfigError, match="sink erp: secret_env ERP_SECRET is not set"):
        Dispatcher(store, _sinks("http://127.0.0.1:9/hook"))


def test_file_sink_appends_jsonl_and_fsyncs(store, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    folder = tmp_path / "out"
    cfg = parse_sinks(f"sinks:\n  - {{name: wms, kind: file, folder: {folder}, actions: [order, work_order]}}\n",
                      "s.yaml")
    synced: list[tuple[int, int]] = []
    real_fsync = os.fsync

    def spy(fd: int) -> None:
        synced.append((fd, os.fstat(fd).st_size))
        real_fsync(fd)

    monkeypatch.setattr(_transports.os, "fsync", spy)
    d = Dispatcher(store, cfg)
    ids = _enqueue(store, 3, sinks=["wms"])
    assert d.run_once(T0)["delivered"] == 3
    path = folder / "actions-2027-01-15.jsonl"  # the UTC day of T0
    lines = path.read_bytes().splitlines(keepends=True)
    assert [json.loads(x)["action_id"] for x in lines] == ids
    rows = {r.action_id: r for r in store.outbox.list()}
    assert [x.rstrip(b"\n") for x in lines] == [rows[a].payload() for a in ids]
    assert synced and synced[0][1] == path.stat().st_size  # the file was fsynced after the lines were written
    assert len(synced) == 2  # the file and, as it was new, its folder
    store.outbox.enqueue(action_id="late", action="work_order", body={"asset_id": "M1"}, sinks=["wms"],
                                       decision_id=None, at_us=int(T0 * 1e6))
    d.run_once(T0 + 60)
    assert len(path.read_text().splitlines()) == 4 and len(synced) == 3
    d.close()


def test_unknown_sink_rows_are_dead_letters(store) -> None:
    with WebhookReceiver() as rx:
        d = Dispatcher(store, _sinks(rx.url))
        _enqueue(store, 1, sinks=["gone"])
        assert d.run_once(T0)["dead"] == 1
    [row] = store.outbox.list()
    assert "no sink named 'gone'" in row.last_error
    d.close()


def test_resend_after_dead_delivers(store) -> None:
    with WebhookReceiver(script=[410]) as rx:
        d = Dispatcher(store, _sinks(rx.url))
        [aid] = _enqueue(store, 1)
        assert d.run_once(T0)["dead"] == 1
        assert store.outbox.resend(aid, now_us=int((T0 + 1) * 1e6)) == 1
        assert d.run_once(T0 + 1)["delivered"] == 1
        assert [r.status for r in rx.requests] == [410, 200]
        assert rx.requests[0].body == rx.requests[1].body
    d.close()


def test_run_forever_delivers_what_is_enqueued_and_stops_on_request(store) -> None:
    import threading

    with WebhookReceiver(secret=SECRET.encode()) as rx:
        d = Dispatcher(store, _sinks(rx.url))
        stop = threading.Event()
        t = threading.Thread(target=d.run_forever, args=(stop,), kwargs={"idle_s": 0.05}, daemon=True)
        t.start()
        box = store.outbox
        for i in range(50):  # enqueued while the dispatcher runs, as decisions commit
            box.enqueue(action_id=f"live-{i}", action="order", body={"i": i}, sinks=["erp"], decision_id=None,
                        at_us=0)
        assert rx.wait_for(50, timeout=20)
        stop.set()
        t.join(5)
        assert not t.is_alive()
        assert sorted(r.headers["Idempotency-Key"] for r in rx.requests) == sorted(f"live-{i}" for i in range(50))
        assert all(r.signature_ok for r in rx.requests)
    assert box.counts() == {"delivered": 50} and d.totals["delivered"] == 50
    d.close()


def test_a_hanging_endpoint_costs_one_timeout_per_connection_not_per_row(store) -> None:
    import time

    hang = socket.socket()  # accepts connections (the kernel's backlog) and never answers
    hang.bind(("127.0.0.1", 0))
    hang.listen(512)
    try:
        cfg = parse_sinks(f"sinks:\n  - {{name: erp, kind: webhook, url: 'http://127.0.0.1:{hang.getsockname()[1]}/h',"
                          f" secret_env: ERP_SECRET, timeout_s: 0.3, actions: [order]}}\n", "s.yaml")
        d = Dispatcher(store, cfg, workers=8, seed=4)
        _enqueue(store, 200)
        t0 = time.perf_counter()
        c = d.run_once(T0)
        elapsed = time.perf_counter() - t0
    finally:
        hang.close()
    assert c == {"claimed": 200, "delivered": 0, "retried": 200, "dead": 0}
    rows = store.outbox.list()
    tried = [r for r in rows if r.attempts == 1]
    assert 8 <= len(tried) <= 40 and all("timed out" in r.last_error for r in tried)
    deferred = [r for r in rows if r.attempts == 0]
    assert len(deferred) == 200 - len(tried) and all(r.next_at_us > T0 * 1e6 for r in deferred)
    assert elapsed < 3.0  # 200 rows x 0.3 s / 8 connections = 7.5 s if each row waited for its timeout
    d.close()


def test_an_idle_dispatcher_takes_no_write_lock(store, monkeypatch: pytest.MonkeyPatch) -> None:
    with WebhookReceiver() as rx:
        d = Dispatcher(store, _sinks(rx.url))
        _enqueue(store, 1)
        real, writes = store.backend.write, []

        def counted():
            writes.append(1)
            return real()

        monkeypatch.setattr(store.backend, "write", counted)
        assert d.run_once(T0)["delivered"] == 1
        assert len(writes) == 2  # claim and settle
        for i in range(20):
            assert d.run_once(T0 + i)["claimed"] == 0
        assert len(writes) == 2  # nothing due: reads only (the loop and the gate keep the write lock)
    d.close()


@pytest.mark.integration
def test_two_dispatchers_on_postgresql_share_the_work_without_sending_twice(pg_url: str) -> None:
    import threading

    with open_store(pg_url) as pg, WebhookReceiver(secret=SECRET.encode()) as rx:
        box = pg.outbox
        for lo in range(0, 300, 100):
            with pg.transaction() as tx:
                for i in range(lo, lo + 100):
                    box.enqueue_tx(tx, action_id=f"pg-{i}", action="order", body={"i": i}, sinks=["erp"],
                                 decision_id=f"D{i}", at_us=0)
        cfg = _sinks(rx.url)
        claimed: list[int] = []

        def work(seed: int) -> None:
            with open_store(pg_url) as st, Dispatcher(st, cfg, batch=25, seed=seed) as d:
                while True:
                    c = d.run_once()
                    if not c["claimed"] and not st.outbox.counts().get("pending"):
                        return
                    claimed.append(c["claimed"])

        threads = [threading.Thread(target=work, args=(s,)) for s in (1, 2)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(60)
        assert box.counts() == {"delivered": 300}
        keys = [r.headers["Idempotency-Key"] for r in rx.requests]
        assert sorted(keys) == sorted(f"pg-{i}" for i in range(300))  # each once: a claimed row is leased
        assert sum(claimed) == 300 and all(r.signature_ok for r in rx.requests)


def test_errors_never_show_the_url_query_where_tokens_live(store) -> None:
    with WebhookReceiver(default_status=503) as rx:
        d = Dispatcher(store, _sinks(rx.url + "?token=s3cr3t"))
        _enqueue(store, 1)
        assert d.run_once(T0)["retried"] == 1
        assert rx.requests[0].path == "/hook?token=s3cr3t"  # the receiver gets the whole URL
    [row] = store.outbox.list()
    assert row.last_error == f"POST {rx.url}: HTTP 503" and "s3cr3t" not in row.last_error
    d.close()


def test_backoff_doubles_with_jitter_up_to_the_cap() -> None:
    import random

    from supplynet.decide.outbox import backoff_s

    spec = _sinks("http://127.0.0.1:9/h").get("erp")  # backoff_s 1, backoff_max_s 60
    for seed in range(5):
        rng = random.Random(seed)
        for n in range(1, 12):
            d = min(60.0, 2.0 ** (n - 1))
            assert d / 2 <= backoff_s(spec, n, rng) <= d
    waits = {round(backoff_s(spec, 4, random.Random(s)), 6) for s in range(20)}
    assert len(waits) == 20  # jittered: retries of many rows do not arrive together
