"""The keyed audit chain: an insider who can write the database but has no vault key cannot rewrite
it (recomputing plain hashes, or keying entries with another key); stores from before keyed chains
migrate through an ``audit.keyed`` entry; signed checkpoints exported to a file anchor the history even
against someone who also holds the vault key. Every device change from the CLI is audited; ``audit
list`` shows a hand-written non-JSON detail as text."""

from __future__ import annotations

import base64
import getpass
import hashlib
import hmac
import json
import os
import sqlite3

import pytest
from typer.testing import CliRunner

from supplynet.commands.audit import app as audit_app
from supplynet.commands.devices import app as devices_app
from supplynet.errors import StoreError
from supplynet.store import open_store
from supplynet.store.audit import AuditKey, entry_hash
from supplynet.store.migrations import apply_migrations, latest_version
from supplynet.testing.old_store import undo_after_audit

runner = CliRunner()


def _key() -> str:
    return base64.urlsafe_b64encode(os.urandom(32)).decode()


@pytest.fixture
def vault(monkeypatch, tmp_path):
    key = _key()
    monkeypatch.setenv("SUPPLYNET_VAULT_KEY", key)
    monkeypatch.setenv("SUPPLYNET_HOME", str(tmp_path / "home"))
    for var in ("SUPPLYNET_VAULT_KEY_FILE", "SUPPLYNET_AUDIT_SIGNING_KEY", "SUPPLYNET_AUDIT_SIGNING_KEY_FILE",
                "SUPPLYNET_AUDIT_CHECKPOINT_EVERY"):
        monkeypatch.delenv(var, raising=False)
    return key


@pytest.fixture
def db(vault, tmp_path):
    path = tmp_path / "a.db"
    with open_store(path) as st:
        log = st.audit
        for i in range(6):
            log.append(f"planner:p{i % 2}", "decision.approve", f"D{i:07d}", {"note": f"n{i}", "cost": 100 * i})
    return path


def _rows(path):
    conn = sqlite3.connect(path)
    rows = conn.execute("SELECT seq, at_us, actor, action, subject, detail FROM audit ORDER BY seq").fetchall()
    conn.close()
    return rows


def _rewrite(path, hasher, edit=lambda seq, detail: detail, start=1):
    """The insider's attack: edit entries from ``start`` on and recompute every hash, link and the head."""
    conn = sqlite3.connect(path)
    prev = conn.execute("SELECT hash FROM audit WHERE seq = ?", (start - 1,)).fetchone() if start > 1 else None
    prev = prev[0] if prev else "0" * 64
    with conn:
        for seq, at, actor, action, subject, detail in _rows(path):
            if seq < start:
                continue
            detail = edit(seq, detail)
            h = hasher(seq, at, actor, action, subject, detail, prev)
            conn.execute("UPDATE audit SET detail = ?, prev_hash = ?, hash = ? WHERE seq = ?", (detail, prev, h, seq))
            prev = h
        conn.execute("UPDATE audit_head SET hash = ?", (prev,))
    conn.close()


def _verify(path):
    with open_store(path) as st:
        return st.audit.verify()


def _cheaper(seq, detail):
    return json.dumps({**json.loads(detail), "cost": 0}, sort_keys=True, separators=(",", ":")) if seq == 3 else detail


def test_rewriting_every_entry_with_plain_hashes_fails_verify(db):
    assert _verify(db).ok and _verify(db).keyed_from == 1
    _rewrite(db, entry_hash, _cheaper)  # plain SHA-256 everywhere: passed verify before keyed chains
    res = _verify(db)
    assert not res.ok and any("none of the 6 entries is keyed" in p for p in res.problems)
    out = runner.invoke(audit_app, ["verify", "--store", str(db)])
    assert out.exit_code == 1


def test_rewriting_with_another_key_or_keeping_the_prefix_fails(db):
    other = AuditKey.from_vault_key(os.urandom(32))
    _rewrite(db, lambda *a: entry_hash(*a, other), _cheaper)
    res = _verify(db)
    assert not res.ok and any("entry 1" in p and "keyed hash" in p for p in res.problems)


def test_unkeyed_suffix_after_keyed_entries_fails(db):
    _rewrite(db, entry_hash, _cheaper, start=3)  # keep the keyed entries 1-2, plain hashes from 3 on
    res = _verify(db)
    assert not res.ok and any(p.startswith("entry 3") and "keyed hash" in p for p in res.problems)


def test_verify_needs_the_vault_key(db, monkeypatch, tmp_path):
    monkeypatch.delenv("SUPPLYNET_VAULT_KEY")
    res = _verify(db)
    assert not res.ok and "cannot check the keyed chain" in res.problems[0]


def test_a_process_with_another_vault_key_refuses_to_append(db, monkeypatch):
    monkeypatch.setenv("SUPPLYNET_VAULT_KEY", _key())
    with open_store(db) as st, pytest.raises(StoreError, match="does not key this store's audit chain") as err:
        st.audit.append("admin:x", "token.create", "t")
    assert "SUPPLYNET_HOME=DIR" in str(err.value)  # where a demo's store keeps its key


def test_store_from_before_keyed_chains_migrates_through_a_transition_entry(vault, tmp_path):
    path = tmp_path / "old.db"
    with open_store(path) as st:  # an old store: schema 8, plain entries written as the old code did
        pass
    conn = sqlite3.connect(path)
    with conn:
        undo_after_audit(conn)
        for stmt in ("DROP TABLE audit_checkpoints", "DROP TABLE people", "DELETE FROM schema_version WHERE version = 9"):
            conn.execute(stmt)
        conn.execute("CREATE TABLE audit_head2 (id INTEGER PRIMARY KEY CHECK (id = 1), seq INTEGER NOT NULL, "
                     "hash TEXT NOT NULL)")
        conn.execute("DROP TABLE audit_head")
        conn.execute("ALTER TABLE audit_head2 RENAME TO audit_head")
        conn.execute("ALTER TABLE api_tokens DROP COLUMN person")
        prev = "0" * 64
        for seq in (1, 2, 3):
            h = entry_hash(seq, 1000 + seq, "admin:old", "token.create", f"t{seq}", "{}", prev)
            conn.execute("INSERT INTO audit VALUES (?, ?, 'admin:old', 'token.create', ?, '{}', ?, ?)",
                         (seq, 1000 + seq, f"t{seq}", prev, h))
            prev = h
        conn.execute("INSERT INTO audit_head (id, seq, hash) VALUES (1, 3, ?)", (prev,))
    conn.close()
    with open_store(path) as st:  # migrates to 9: the plain entries are still there, nothing keyed yet
        log = st.audit
        res = log.verify()
        assert not res.ok and "nothing was recorded since the upgrade" in res.problems[0]
        log.append("admin:new", "device.revoke", "d1")
        res = log.verify()
        assert res.ok and res.keyed_from == 4 and res.entries == 5
        marks = log.entries(after_seq=3, limit=1)
        assert marks[0].action == "audit.keyed" and marks[0].detail["unkeyed_entries"] == 3
        assert apply_migrations(st.backend) == latest_version()
    # the old entries cannot be rewritten either: the keyed transition entry links to their hash
    _rewrite(path, entry_hash, lambda seq, d: '{"x":1}' if seq == 2 else d, start=1)
    assert not _verify(path).ok


def test_checkpoint_anchor_catches_a_rewrite_by_someone_who_holds_the_vault_key(db, vault, tmp_path):
    key_file = tmp_path / "op.key"
    made = runner.invoke(audit_app, ["keygen", "--out", str(key_file)])
    assert made.exit_code == 0 and oct(key_file.stat().st_mode & 0o777) == "0o600"
    public = json.loads(made.stdout)["public_key"]
    anchor = tmp_path / "anchor.json"
    cp = runner.invoke(audit_app, ["checkpoint", "--store", str(db), "--key", str(key_file), "--out", str(anchor)])
    assert cp.exit_code == 0 and json.loads(anchor.read_text())["seq"] == 6
    good = runner.invoke(audit_app, ["verify", "--store", str(db), "--anchor", str(anchor), "--public-key", public])
    assert good.exit_code == 0 and json.loads(good.stdout)["anchor"]["ok"]
    # someone with the vault key rewrites history, keying every entry properly
    k = AuditKey.from_vault_key(base64.urlsafe_b64decode(vault))
    _rewrite(db, lambda *a: entry_hash(*a, k), _cheaper)
    assert _verify(db).ok  # the chain alone cannot tell ...
    bad = runner.invoke(audit_app, ["verify", "--store", str(db), "--anchor", str(anchor)])
    assert bad.exit_code == 1 and "entry 6 differs from the signed anchor" in bad.stdout  # ... the anchor can
    # a forged anchor (hash edited to match) does not verify; another operator's key is refused
    with open_store(db) as st:
        forged = {**json.loads(anchor.read_text()), "hash": st.audit.head()[1]}
    anchor.write_text(json.dumps(forged))
    bad = runner.invoke(audit_app, ["verify", "--store", str(db), "--anchor", str(anchor)])
    assert bad.exit_code == 1 and "signature does not verify" in bad.stdout


def test_signing_key_in_the_environment_checkpoints_every_n_entries(vault, monkeypatch, tmp_path):
    from supplynet.store.checkpoints import generate_signing_key

    private, _ = generate_signing_key()
    monkeypatch.setenv("SUPPLYNET_AUDIT_SIGNING_KEY", private)
    monkeypatch.setenv("SUPPLYNET_AUDIT_CHECKPOINT_EVERY", "3")
    with open_store(tmp_path / "c.db") as st:
        log = st.audit
        for i in range(7):
            log.append("admin:a", "token.create", f"t{i}")
        cp = st.audit.latest_checkpoint()
        assert cp is not None and cp.seq == 6 and st.audit.check_anchor(cp) == []


def test_audit_list_shows_a_non_json_detail_as_text(db):
    conn = sqlite3.connect(db)
    with conn:
        conn.execute("UPDATE audit SET detail = 'not {json' WHERE seq = 2")
    conn.close()
    out = runner.invoke(audit_app, ["list", "--store", str(db), "--json"])
    assert out.exit_code == 0, out.output
    lines = [json.loads(x) for x in out.stdout.splitlines()]
    assert len(lines) == 6 and lines[4]["detail"] == "not {json"


def test_audit_reads_never_migrate_or_create(vault, tmp_path):
    missing = tmp_path / "nowhere" / "x.db"
    out = runner.invoke(audit_app, ["list", "--store", str(missing)])
    assert out.exit_code != 0 and not missing.parent.exists()


def test_device_changes_from_the_cli_are_audited_with_who(vault, tmp_path):
    url = f"sqlite:///{tmp_path / 'dev.db'}"
    for args in (["add", "rf-1", "--measures", "temperature", "--site", "S1"], ["rotate", "rf-1"],
                 ["revoke", "rf-1"]):
        res = runner.invoke(devices_app, [*args, "--store", url])
        assert res.exit_code == 0, res.output
    with open_store(url) as st:
        entries = st.audit.entries()
        assert st.audit.verify().ok
    who = f"cli:{getpass.getuser()}"
    assert [(e.action, e.actor, e.subject) for e in entries] == [
        ("device.provision", who, "rf-1"), ("device.rotate", who, "rf-1"), ("device.revoke", who, "rf-1")]
    assert entries[0].detail["site"] == "S1" and len(entries[1].detail["kids"]) == 2
    text = json.dumps([e.detail for e in entries])
    assert "private" not in text and "sealed" not in text


def test_keyed_hash_is_hmac_sha256_under_a_key_derived_from_the_vault_key(vault):
    k = AuditKey.from_vault_key(base64.urlsafe_b64decode(vault))
    expect = hmac.new(hmac.new(base64.urlsafe_b64decode(vault), b"supplynet audit chain v1", hashlib.sha256).digest(),
                      b'[1,2,"a","b","c","{}","' + b"0" * 64 + b'"]', hashlib.sha256).hexdigest()
    assert entry_hash(1, 2, "a", "b", "c", "{}", "0" * 64, k) == expect
