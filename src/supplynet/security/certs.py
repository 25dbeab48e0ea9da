"""Certificates for MQTT over TLS: a private CA, the broker's server certificate and, optionally,
client certificates, made with the ``cryptography`` package (``supplynet certs init``).

The CA signs the broker's certificate; devices and gateway workers trust only that CA
(``--tls-ca ca.crt``) and check the broker's name or address against the certificate's subject
alternative names (``localhost`` and ``127.0.0.1`` always, plus the ``hosts`` given). Keys are EC
P-256 (small and fast on constrained devices); private keys are written with mode 600. A CA key
is needed only to make more certificates: keep it off the broker.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import os
from collections.abc import Iterable
from pathlib import Path

from ..errors import SecurityError

__all__ = ["CertFiles", "init_certs", "issue_client_cert"]

_DAYS_CA = 3650
_DAYS_LEAF = 825  # what browsers and most TLS stacks accept for a leaf


class CertFiles:
    """Paths of the files :func:`init_certs` writes in ``folder``."""

    def __init__(self, folder: Path):
        self.folder = folder
        self.ca_cert, self.ca_key = folder / "ca.crt", folder / "ca.key"
        self.server_cert, self.server_key = folder / "server.crt", folder / "server.key"

    def to_dict(self) -> dict[str, str]:
        return {k: str(v) for k, v in vars(self).items()}


def _key():  # noqa: ANN202 - an EllipticCurvePrivateKey
    from cryptography.hazmat.primitives.asymmetric import ec

    return ec.generate_private_key(ec.SECP256R1())


def _write_key(path: Path, key: object) -> None:
    from cryptography.hazmat.primitives import serialization as s

    pem = key.private_bytes(s.Encoding.PEM, s.PrivateFormat.PKCS8, s.NoEncryption())  # type: ignore[attr-defined]
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as f:
        f.write(pem)
    path.chmod(0o600)


def _write_cert(path: Path, cert: object) -> None:
    from cryptography.hazmat.primitives import serialization as s

    path.write_bytes(cert.public_bytes(s.Encoding.PEM))  # type: ignore[attr-defined]


def _san(hosts: Iterable[str]) -> list[object]:
    from cryptography import x509

    out: list[object] = []
    for h in dict.fromkeys(["localhost", "127.0.0.1", *hosts]):
        try:
            out.append(x509.IPAddress(ipaddress.ip_address(h)))
        except ValueError:
            if not h or any(c.isspace() for c in h) or len(h) > 253:
                raise SecurityError(f"--host {h!r} is neither an IP address nor a DNS name") from None
            out.append(x509.DNSName(h))
    return out


def _build(subject_cn: str, issuer: object, issuer_key: object, public_key: object, days: int, *, ca: bool,
           san: list[object] | None = None, usage: str | None = None) -> object:
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes
    from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

    now = dt.datetime.now(dt.UTC)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, subject_cn),
                      x509.NameAttribute(NameOID.ORGANIZATION_NAME, "supplynet")])
    b = (x509.CertificateBuilder().subject_name(name).issuer_name(issuer if issuer is not None else name)
         .public_key(public_key).serial_number(x509.random_serial_number())
         .not_valid_before(now - dt.timedelta(minutes=5)).not_valid_after(now + dt.timedelta(days=days))
         .add_extension(x509.BasicConstraints(ca=ca, path_length=0 if ca else None), critical=True)
         .add_extension(x509.SubjectKeyIdentifier.from_public_key(public_key), critical=False))  # type: ignore[arg-type]
    if ca:
        b = b.add_extension(x509.KeyUsage(digital_signature=True, key_cert_sign=True, crl_sign=True,
                                          content_commitment=False, key_encipherment=False, data_encipherment=False,
                                          key_agreement=False, encipher_only=False, decipher_only=False), critical=True)
    else:
        b = b.add_extension(x509.KeyUsage(digital_signature=True, key_encipherment=False, key_cert_sign=False,
                                          crl_sign=False, content_commitment=False, data_encipherment=False,
                                          key_agreement=True, encipher_only=False, decipher_only=False), critical=True)
        eku = ExtendedKeyUsageOID.SERVER_AUTH if usage == "server" else ExtendedKeyUsageOID.CLIENT_AUTH
        b = b.add_extension(x509.ExtendedKeyUsage([eku]), critical=False)
    if san:
        b = b.add_extension(x509.SubjectAlternativeName(san), critical=False)  # type: ignore[arg-type]
    return b.sign(issuer_key, hashes.SHA256())  # type: ignore[arg-type]


def init_certs(folder: str | Path, *, hosts: Iterable[str] = (), force: bool = False) -> CertFiles:
    """Make a CA and a server certificate (for ``localhost``, ``127.0.0.1`` and ``hosts``) in ``folder``.
    Refuses to overwrite existing files unless ``force``."""
    files = CertFiles(Path(folder))
    existing = [p for p in (files.ca_cert, files.ca_key, files.server_cert, files.server_key) if p.exists()]
    if existing and not force:
        raise SecurityError(f"{existing[0]} exists; use --force to make new certificates (devices must then "
                            f"trust the new CA)")
    san = _san(hosts)
    files.folder.mkdir(parents=True, exist_ok=True)
    ca_key = _key()
    ca = _build("supplynet MQTT CA", None, ca_key, ca_key.public_key(), _DAYS_CA, ca=True)
    srv_key = _key()
    srv = _build("supplynet MQTT broker", ca.subject, ca_key, srv_key.public_key(), _DAYS_LEAF,  # type: ignore[attr-defined]
                 ca=False, san=san, usage="server")
    _write_key(files.ca_key, ca_key)
    _write_cert(files.ca_cert, ca)
    _write_key(files.server_key, srv_key)
    _write_cert(files.server_cert, srv)
    return files


def issue_client_cert(folder: str | Path, name: str) -> tuple[Path, Path]:
    """A client certificate (common name ``name``, e.g. a device id) signed by the CA in ``folder``,
    for brokers that require one (``require_certificate true``); returns (certificate, key) paths."""
    from cryptography import x509
    from cryptography.hazmat.primitives import serialization as s

    files = CertFiles(Path(folder))
    if not files.ca_key.is_file():
        raise SecurityError(f"{files.ca_key} not found: run supplynet certs init first")
    if not name or "/" in name or name.startswith("."):
        raise SecurityError(f"client name {name!r} cannot name a file")
    try:
        ca = x509.load_pem_x509_certificate(files.ca_cert.read_bytes())
        ca_key = s.load_pem_private_key(files.ca_key.read_bytes(), password=None)
    except (OSError, ValueError) as exc:
        raise SecurityError(f"cannot read the CA in {files.folder}: {exc}") from exc
    key = _key()
    cert = _build(name, ca.subject, ca_key, key.public_key(), _DAYS_LEAF, ca=False, usage="client")
    cert_path, key_path = files.folder / f"{name}.crt", files.folder / f"{name}.key"
    _write_key(key_path, key)
    _write_cert(cert_path, cert)
    return cert_path, key_path
