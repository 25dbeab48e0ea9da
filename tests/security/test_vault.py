"""The vault key and symmetric (hmac-sha256) devices in the registry: the secret is shown once,
kept only sealed, opens only with the right vault key and on the record it was sealed for."""

from __future__ import annotations

import json
import stat

import pytest
from typer.testing import CliRunner

from supplynet.commands.devices import app as devices_app
from supplynet.errors import SecurityError
from supplynet.security.devices import DeviceRegistry
from supplynet.security.signing import HMAC_SHA256, b64u_decode, sign, verify_mac
from supplynet.security.vault import Vault, default_vault
from supplynet.store import open_store

runner = CliRunner()


@pytest.fixture
def no_vault_env(monkeypatch, tmp_path):
    monkeypatch.delenv("SUPPLYNET_VAULT_KEY", raising=False)
    monkeypatch.delenv("SUPPLYNET_VAULT_KEY_FILE", raising=False)
    monkeypatch.setenv("SUPPLYNET_HOME", str(tmp_path / "home"))
    return tmp_path / "home"


def test_symmetric_device_secret_is_shown_once_and_kept_only_sealed():
    vault = Vault(Vault.generate_key())
    reg = DeviceRegistry(vault=vault)
    cred = reg.provision("pos-1", measures=("sale",), site="S1", scheme=HMAC_SHA256)
    assert cred.scheme == HMAC_SHA256 and cred.public_key == "" and cred.private_key.startswith("hmac-sha256:")
    raw = b64u_decode(cred.private_key.split(":", 1)[1])
    assert len(raw) == 32
    stored = json.dumps(reg.records.all_devices())
    assert cred.private_key.split(":", 1)[1] not in stored and raw.hex() not in stored
    key = reg.get("pos-1").keys[0]
    assert key.scheme == HMAC_SHA256 and key.sealed and key.public == ""
    assert reg.secret("pos-1", key) == raw
    tag = sign(cred.private_key, b"body")
    assert verify_mac(raw, b"body", tag) and not verify_mac(raw, b"bodY", tag)
    assert "sealed" not in json.dumps(reg.get("pos-1").public_dict())


def test_sealed_secret_opens_only_with_its_vault_key_and_on_its_own_record():
    vault = Vault(Vault.generate_key())
    reg = DeviceRegistry(vault=vault)
    reg.provision("a", asset="R1", scheme=HMAC_SHA256)
    key = reg.get("a").keys[0]
    other = DeviceRegistry(reg.records, vault=Vault(Vault.generate_key()))  # a gateway with another key
    with pytest.raises(SecurityError, match="does not open with this vault key"):
        other.secret("a", key)
    reg.provision("b", asset="R1", scheme=HMAC_SHA256)
    with pytest.raises(SecurityError):  # a's sealed secret pasted onto b's record
        reg.secret("b", key)


def test_rotation_keeps_the_scheme_unless_told_and_operators_stay_ed25519():
    reg = DeviceRegistry(vault=Vault(Vault.generate_key()))
    reg.provision("a", asset="R1", scheme=HMAC_SHA256)
    assert reg.rotate("a", overlap_s=10).scheme == HMAC_SHA256
    assert reg.rotate("a", overlap_s=10, scheme="ed25519").scheme == "ed25519"
    assert [k.scheme for k in reg.get("a").keys] == [HMAC_SHA256, HMAC_SHA256, "ed25519"]
    with pytest.raises(SecurityError, match="Ed25519 keys only"):
        reg.provision("operator:x", kind="operator", scheme=HMAC_SHA256)
    with pytest.raises(SecurityError, match="unknown key scheme"):
        reg.provision("c", asset="R1", scheme="rsa")


def test_vault_key_from_env_file_or_home(no_vault_env, monkeypatch, tmp_path):
    with pytest.raises(SecurityError, match="no vault key"):
        default_vault()
    made = default_vault(create=True)  # the home folder's key, mode 600
    path = no_vault_env / "vault.key"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert default_vault().key_id == made.key_id  # the same key next time
    key = Vault.generate_key()
    monkeypatch.setenv("SUPPLYNET_VAULT_KEY", key)
    assert default_vault().key_id == Vault(key).key_id != made.key_id
    monkeypatch.delenv("SUPPLYNET_VAULT_KEY")
    f = tmp_path / "k"
    f.write_text("short\n")
    monkeypatch.setenv("SUPPLYNET_VAULT_KEY_FILE", str(f))
    with pytest.raises(SecurityError, match="must be 32 bytes"):
        default_vault()
    monkeypatch.setenv("SUPPLYNET_VAULT_KEY_FILE", str(tmp_path / "missing"))
    with pytest.raises(SecurityError, match="does not exist"):
        default_vault(create=True)  # a named file is never made up


def test_cli_adds_symmetric_devices_and_never_shows_the_sealed_secret(no_vault_env, tmp_path):
    url = f"sqlite:///{tmp_path / 's.db'}"
    res = runner.invoke(devices_app, ["add", "pos-1", "--measures", "sale", "--site", "S1", "--scheme", "hmac-sha256",
                                      "--store", url])
    assert res.exit_code == 0, res.output
    cred = json.loads(res.stdout)
    assert cred["scheme"] == "hmac-sha256" and "sealed under its vault key" in cred["note"]
    listed = runner.invoke(devices_app, ["list", "--store", url, "--json"])
    assert json.loads(listed.stdout)[0]["keys"][0]["scheme"] == "hmac-sha256" and "sealed" not in listed.stdout
    rot = json.loads(runner.invoke(devices_app, ["rotate", "pos-1", "--store", url]).stdout)
    assert rot["scheme"] == "hmac-sha256" and rot["kid"] != cred["kid"]
    with open_store(url) as st:
        rows = json.dumps(st.backend.query("SELECT record FROM devices"))
    assert cred["private_key"].split(":", 1)[1] not in rows and rot["private_key"].split(":", 1)[1] not in rows
    bad = runner.invoke(devices_app, ["add", "x", "--site", "S1", "--scheme", "rsa", "--store", url])
    assert bad.exit_code != 0 and "use one of ed25519, hmac-sha256" in str(bad.exception)  # the CLI prints it


def test_network_file_names_each_devices_scheme(no_vault_env, tmp_path):
    from supplynet.model import example_path

    url = f"sqlite:///{tmp_path / 's.db'}"
    res = runner.invoke(devices_app, ["add", "--network", str(example_path("realistic")), "--all", "--store", url])
    assert res.exit_code == 0, res.output
    creds = {c["device_id"]: c for c in json.loads(res.stdout)}
    assert {c["scheme"] for i, c in creds.items() if i.startswith("POS-")} == {"hmac-sha256"}
    assert {c["scheme"] for i, c in creds.items() if not i.startswith("POS-")} == {"ed25519"}
    assert (no_vault_env / "vault.key").exists()  # made for the symmetric devices on first use
