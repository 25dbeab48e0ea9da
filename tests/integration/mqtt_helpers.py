"""Helpers for the MQTT integration tests (real Mosquitto)."""

from __future__ import annotations

import secrets
import time

from supplynet.testing.require import require_or_skip, require_service
from supplynet.testing.services import ensure_mosquitto


def broker() -> tuple[str, int]:
    require_service(ensure_mosquitto)
    return "127.0.0.1", 1883


def uid() -> str:
    return secrets.token_hex(4)


def wait_until(pred, timeout: float, step: float = 0.05) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if pred():
            return True
        time.sleep(step)
    return pred()


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _user_line() -> str:
    """Mosquitto started as root drops to user ``mosquitto``, which cannot read the test's files."""
    import os

    return "user root\n" if os.geteuid() == 0 else ""


class PrivateBroker:
    """A second Mosquitto on its own loopback port, that a test may kill and restart."""

    def __init__(self, tmp_path, extra: str = "", port: int | None = None):
        import shutil

        exe = shutil.which("mosquitto") or "/usr/sbin/mosquitto"
        if not shutil.os.path.exists(exe):
            require_or_skip("mosquitto is not installed (apt-get install mosquitto)", "service")
        self.exe = exe
        self.port = port or free_port()
        self.conf = tmp_path / f"mosquitto-{self.port}.conf"
        self.conf.write_text(
            f"listener {self.port} 127.0.0.1\npersistence false\nmax_queued_messages 200000\n"
            f"max_inflight_messages 1000\n" + _user_line() + (extra or "allow_anonymous true\n"))
        self.log = tmp_path / f"mosquitto-{self.port}.log"
        self.proc = None

    def start(self) -> PrivateBroker:
        import subprocess

        from supplynet.testing.services import wait_for_port

        self.proc = subprocess.Popen([self.exe, "-c", str(self.conf)], stdout=self.log.open("ab"),
                                     stderr=subprocess.STDOUT)
        if not wait_for_port("127.0.0.1", self.port, 10):
            raise RuntimeError(f"private mosquitto did not start: {self.log.read_text()[-500:]}")
        return self

    def kill(self) -> None:
        import signal

        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait(10)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(10)
