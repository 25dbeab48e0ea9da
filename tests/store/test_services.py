"""The service helpers tests share: they check the port first and leave running services alone."""

from __future__ import annotations

import socket

import pytest

from supplynet.testing.require import require_service
from supplynet.testing.services import (
    ensure_mosquitto,
    ensure_nats,
    ensure_postgres,
    port_open,
    wait_for_port,
)


def test_port_open_sees_a_listener_and_a_closed_port() -> None:
    with socket.socket() as srv:
        srv.bind(("127.0.0.1", 0))
        srv.listen()
        port = srv.getsockname()[1]
        assert port_open("127.0.0.1", port)
        assert wait_for_port("127.0.0.1", port, timeout=1)
    assert not port_open("127.0.0.1", port)
    assert not wait_for_port("127.0.0.1", port, timeout=0.3)


@pytest.mark.integration
@pytest.mark.parametrize(("ensure", "port"), [(ensure_postgres, 5432), (ensure_mosquitto, 1883), (ensure_nats, 4222)])
def test_ensure_leaves_the_service_listening(ensure, port: int) -> None:
    require_service(ensure)
    assert port_open("127.0.0.1", port)
