"""``supplynet ingest acl`` and ``supplynet certs init``: the broker's access files from the registry,
and the TLS certificates (issue 15, items 7 and 10)."""

from __future__ import annotations

import base64
import hashlib
import json
import stat

from typer.testing import CliRunner

from supplynet.cli import app
from supplynet.security.broker import mosquitto_hash, mqtt_password, render_broker_files
from supplynet.security.devices import DeviceRegistry
from supplynet.security.vault import Vault

runner = CliRunner()


def test_mosquitto_hash_is_pbkdf2_sha512_as_mosquitto_passwd_writes_it():
    h = mosquitto_hash("secret", salt=b"s" * 12)
    _, kind, iterations, salt, digest = h.split("$")
    assert (kind, iterations, base64.b64decode(salt)) == ("7", "101", b"s" * 12)
    assert base64.b64decode(digest) == hashlib.pbkdf2_hmac("sha512", b"secret", b"s" * 12, 101)


def test_acl_grants_each_live_device_its_own_topics_only():
    vault = Vault(Vault.generate_key())
    reg = DeviceRegistry(vault=vault)
    reg.provision("rf-1", asset="R1")
    reg.provision("rf-2", asset="R2")
    reg.provision("gps:7", asset="T7")  # ':' cannot be a user name in Mosquitto's password file
    reg.provision("operator:alice", kind="operator")
    reg.revoke("rf-2")
    files = render_broker_files(reg.list(), vault)
    assert files.devices == ["rf-1"] and files.skipped == {"rf-2": "revoked", "gps:7": files.skipped["gps:7"]}
    body = [x for x in files.acl.splitlines() if x and not x.startswith("#")]
    assert body == ["user gateway", "topic read devices/+/up", "topic write devices/+/ack",
                    "user rf-1", "topic write devices/rf-1/up", "topic read devices/rf-1/ack"]
    users = [line.split(":", 1)[0] for line in files.passwd.splitlines()]
    assert users == ["gateway", "rf-1"] and mqtt_password(vault, "rf-1") not in files.passwd
    # the device's credential carries the password the file was made for, derived from the vault key
    cred = reg.provision("rf-3", asset="R1")
    assert cred.mqtt_password == mqtt_password(vault, "rf-3") != mqtt_password(Vault(Vault.generate_key()), "rf-3")


def test_cli_ingest_acl_and_certs_init(tmp_path):
    url = f"sqlite:///{tmp_path / 's.db'}"
    assert runner.invoke(app, ["devices", "add", "rf-1", "--asset", "R1", "--store", url]).exit_code == 0
    r = runner.invoke(app, ["ingest", "acl", "--out", str(tmp_path / "m"), "--store", url])
    assert r.exit_code == 0, r.output
    out = json.loads(r.stdout)
    assert out["devices"] == 1 and out["queue_needed_10min"] == 30_000  # 1 device x 50/s x 600 s
    assert stat.S_IMODE((tmp_path / "m" / "passwd").stat().st_mode) == 0o600
    assert "topic write devices/rf-1/up" in (tmp_path / "m" / "acl").read_text()
    r = runner.invoke(app, ["certs", "init", "--dir", str(tmp_path / "c"), "--host", "broker.example"])
    assert r.exit_code == 0, r.output
    files = json.loads(r.stdout)
    assert stat.S_IMODE((tmp_path / "c" / "server.key").stat().st_mode) == 0o600
    from cryptography import x509

    cert = x509.load_pem_x509_certificate((tmp_path / "c" / "server.crt").read_bytes())
    names = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert "broker.example" in names.get_values_for_type(x509.DNSName)
    assert files["ca_cert"].endswith("ca.crt")
    again = runner.invoke(app, ["certs", "init", "--dir", str(tmp_path / "c")])
    assert again.exit_code == 2 and "--force" in again.output and "Traceback" not in again.output
    bad = runner.invoke(app, ["certs", "init", "--dir", str(tmp_path / "d"), "--host", "a b"])
    assert bad.exit_code == 2 and "neither an IP address nor a DNS name" in bad.output


def test_cli_ingest_mqtt_names_a_missing_tls_file(tmp_path):
    r = runner.invoke(app, ["ingest", "mqtt", "--tls-ca", str(tmp_path / "nope.crt"), "--store",
                            f"sqlite:///{tmp_path / 's.db'}"])
    assert r.exit_code == 2 and "nope.crt not found" in r.output and "Traceback" not in r.output


def test_client_certificate_is_issued_by_the_ca(tmp_path):
    from cryptography import x509

    from supplynet.security.certs import init_certs, issue_client_cert

    files = init_certs(tmp_path / "c")
    cert_path, key_path = issue_client_cert(files.folder, "rf-1")
    ca = x509.load_pem_x509_certificate(files.ca_cert.read_bytes())
    cert = x509.load_pem_x509_certificate(cert_path.read_bytes())
    cert.verify_directly_issued_by(ca)  # raises when the CA did not sign it
    assert "CN=rf-1" in cert.subject.rfc4514_string().split(",")
    assert stat.S_IMODE(key_path.stat().st_mode) == 0o600
    server = x509.load_pem_x509_certificate(files.server_cert.read_bytes())
    server.verify_directly_issued_by(ca)
