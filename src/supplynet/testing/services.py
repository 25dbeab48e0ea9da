"""Start the local services tests need (PostgreSQL, Mosquitto, NATS) when they are not running.

Each ``ensure_*`` checks the port first and starts the service only if nothing listens there,
then waits until the port accepts connections. They raise :class:`ServiceMissing` when the
service is not installed on this machine (tests turn that into a skip with the reason) and
:class:`~supplynet.errors.SupplynetError` when it is installed but does not come up (a failure).
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import time
from pathlib import Path

from ..errors import StoreUnavailable, SupplynetError

__all__ = [
    "ServiceMissing",
    "ensure_mosquitto",
    "ensure_nats",
    "ensure_postgres",
    "port_open",
    "wait_for_port",
]


class ServiceMissing(SupplynetError):
    """The service is not installed here (not an error of the code under test)."""

    code = "service_missing"


def port_open(host: str, port: int, timeout: float = 0.5) -> bool:
    """True if something accepts TCP connections on ``host:port``."""
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


def wait_for_port(host: str, port: int, timeout: float = 30.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if port_open(host, port):
            return True
        time.sleep(0.2)
    return False


def _run(cmd: list[str], what: str, error: type[SupplynetError]) -> None:
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=60, check=False)
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise error(f"could not start {what} with {' '.join(cmd)}: {exc}") from exc
    if proc.returncode != 0:
        raise error(f"could not start {what} with {' '.join(cmd)} (exit {proc.returncode}): "
                    f"{(proc.stderr or proc.stdout).strip()[:500]}")


def ensure_postgres(host: str = "127.0.0.1", port: int = 5432, timeout: float = 30.0) -> None:
    """Make sure PostgreSQL listens on ``host:port``; start the Debian cluster if it does not.

    Runs ``pg_ctlcluster --skip-systemctl-redirect <version> main start`` for the version found in
    ``/etc/postgresql``.
    """
    if port_open(host, port):
        return
    conf = Path("/etc/postgresql")
    versions = sorted((p.name for p in conf.iterdir() if p.is_dir()), key=_version_key) if conf.is_dir() else []
    if not versions or shutil.which("pg_ctlcluster") is None:
        raise ServiceMissing(f"PostgreSQL is not running on {host}:{port} and no cluster is installed "
                             "(/etc/postgresql, pg_ctlcluster)")
    _run(["pg_ctlcluster", "--skip-systemctl-redirect", versions[-1], "main", "start"], "PostgreSQL",
         StoreUnavailable)
    if not wait_for_port(host, port, timeout):
        raise StoreUnavailable(f"PostgreSQL {versions[-1]} was started but {host}:{port} is still closed "
                               f"after {timeout:.0f} s")


def _version_key(name: str) -> tuple[int, ...]:
    return tuple(int(p) for p in name.split(".") if p.isdigit())


def ensure_mosquitto(host: str = "127.0.0.1", port: int = 1883, timeout: float = 15.0,
                     config: str = "/etc/mosquitto/mosquitto.conf") -> None:
    """Make sure a Mosquitto broker listens; start ``mosquitto -d -c <config>`` if not."""
    if port_open(host, port):
        return
    exe = shutil.which("mosquitto") or ("/usr/sbin/mosquitto" if os.path.exists("/usr/sbin/mosquitto") else None)
    if exe is None:
        raise ServiceMissing(f"Mosquitto is not running on {host}:{port} and is not installed")
    _run([exe, "-d", "-c", config], "Mosquitto", SupplynetError)
    if not wait_for_port(host, port, timeout):
        raise SupplynetError(f"Mosquitto was started with {config} but {host}:{port} is still closed")


def ensure_nats(host: str = "127.0.0.1", port: int = 4222, timeout: float = 15.0) -> None:
    """Make sure a NATS server (JetStream on) listens; start ``nats-server`` in the background if not."""
    if port_open(host, port):
        return
    exe = shutil.which("nats-server") or ("/usr/sbin/nats-server" if os.path.exists("/usr/sbin/nats-server") else None)
    if exe is None:
        raise ServiceMissing(f"NATS is not running on {host}:{port} and nats-server is not installed")
    store_dir = Path(os.environ.get("TMPDIR", "/tmp")) / "supplynet-nats"
    store_dir.mkdir(parents=True, exist_ok=True)
    try:
        subprocess.Popen(  # noqa: S603 - fixed argv
            [exe, "-a", host, "-p", str(port), "-js", "-sd", str(store_dir)],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True,
        )
    except OSError as exc:
        raise SupplynetError(f"could not start nats-server: {exc}") from exc
    if not wait_for_port(host, port, timeout):
        raise SupplynetError(f"nats-server was started but {host}:{port} is still closed")
