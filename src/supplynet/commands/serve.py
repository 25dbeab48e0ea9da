"""``supplynet serve``: the control tower (API and dashboard) with uvicorn; and
:func:`serve_in_background` for ``supplynet demo`` (serves while the demo runs and after it)."""

from __future__ import annotations

import signal
import socket
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from ..config import Settings
from ..errors import ConfigError
from .options import check_store

if TYPE_CHECKING:
    from ..store import Store

__all__ = ["app", "serve", "serve_in_background"]

app = typer.Typer(help="Serve the control tower: REST API, OpenAPI docs (/docs) and the dashboard (/ui/).")


def _free_port(host: str) -> int:
    with socket.socket() as s:
        s.bind((host, 0))
        return int(s.getsockname()[1])


def serve_in_background(settings: Settings | None = None, network: Any = None, *, store: Store | None = None,
                        host: str | None = None, port: int | None = None, planner_name: str = "demo-planner",
                        token_days: float = 7.0, limits: Any = None) -> tuple[str, Callable[[], None]]:
    """Start the service in a daemon thread; returns ``(url, stop)``.

    A planner token is created for the dashboard: ``url`` carries it in its fragment
    (``http://host:port/ui/#token=snt_...``; a fragment never reaches the server or its logs), so opening
    the URL signs in. ``stop.token`` is the token and ``stop.base_url`` the URL without it.
    ``store``: an open store to share (else the settings' store is opened); ``port`` None takes the
    settings' port (a free one if that is taken), 0 a free one. ``limits``: request size and rate limits
    (:class:`supplynet.api.middleware.Limits`).
    """
    import uvicorn

    from ..api import create_app
    from ..security.tokens import TokenService
    from ..store import open_store

    settings = settings or Settings()
    host = host or settings.api_host
    if port is None:
        port = settings.api_port
    try:
        with socket.socket() as s:
            s.bind((host, port))
    except OSError:
        port = 0
    if port == 0:
        port = _free_port(host)
    own = store is None
    st = store if store is not None else open_store(settings.resolved_store_url())
    token, _ = TokenService(st).create(role="planner", name=planner_name, expires_in_s=token_days * 86400,
                                       created_by="demo")
    api = create_app(settings, store=st, network=network, limits=limits)
    server = uvicorn.Server(uvicorn.Config(api, host=host, port=port, log_level="warning", access_log=False))
    thread = threading.Thread(target=server.run, name="supplynet-serve", daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise ConfigError(f"the control tower did not start on {host}:{port}")
        time.sleep(0.05)

    def stop() -> None:
        server.should_exit = True
        thread.join(timeout=10)
        if own:
            st.close()

    base = f"http://{host}:{port}/ui/"
    stop.token = token  # type: ignore[attr-defined]
    stop.base_url = base  # type: ignore[attr-defined]
    return f"{base}#token={token}", stop


@app.callback(invoke_without_command=True)
def serve(host: Annotated[str | None, typer.Option(help="address to listen on (SUPPLYNET_API_HOST)")] = None,
          port: Annotated[int | None, typer.Option(help="port (SUPPLYNET_API_PORT)")] = None,
          network: Annotated[Path | None, typer.Option(help="network YAML (SUPPLYNET_NETWORK; default: the one the "
                                                            "store recorded)")] = None,
          store: Annotated[str | None, typer.Option(callback=check_store, help="sqlite:///path or postgresql://... (SUPPLYNET_STORE_URL)")] = None,
          policy: Annotated[Path | None, typer.Option(help="autonomy policy YAML (default: the stored one, else "
                                                           "the packaged example)")] = None,
          network_update: Annotated[bool, typer.Option("--network-update", help="replace the store's network "
                                                                                 "(recorded in the log)")] = False,
          loop: Annotated[bool, typer.Option("--loop", help="also run the brain (supplynet run) in this process")] = False,
          sinks: Annotated[Path | None, typer.Option(help="with --loop: sinks YAML for executed actions")] = None,
          tick: Annotated[float, typer.Option(help="with --loop: decide as each tick of event time closes (s)")] = 900.0,
          workers: Annotated[int, typer.Option(min=1, max=1, help="one process (the twin lives in it)")] = 1) -> None:
    """Serve the API and dashboard until Ctrl-C (with --loop, the brain runs beside it)."""
    import uvicorn

    from ..api import create_app
    from ..decide.autonomy import load_policy
    from ..store import open_store
    from ._netstore import store_network

    overrides: dict[str, Any] = {}
    if store:
        overrides["store_url"] = store
    settings = Settings(**overrides)
    if not 1 <= (port or settings.api_port) <= 65535:
        raise ConfigError(f"--port {port or settings.api_port}: a TCP port is 1..65535")
    pol = load_policy(policy) if policy else None
    st = open_store(settings.resolved_store_url())
    try:
        net = store_network(st, network or settings.network, update=network_update)
        app_ = create_app(settings, store=st, network=net, policy=pol)
        h, p = host or settings.api_host, port or settings.api_port
        stop = threading.Event()
        brain = _start_loop(st, net, policy, settings, sinks, tick, stop) if loop else None
        typer.echo(f"supplynet control tower on http://{h}:{p}/ui/ (API docs: http://{h}:{p}/docs)", err=True)
        for sig in (signal.SIGTERM, signal.SIGINT):  # uvicorn re-raises the signal that stopped it: ours ends
            signal.signal(sig, lambda *_: stop.set())  # the brain's batch, then the process exits 0
        uvicorn.run(app_, host=h, port=p, log_level="info", workers=workers)
        stop.set()
        if brain is not None:  # the batch in hand finishes and the checkpoint commits
            brain.join(timeout=60)
    finally:
        st.close()


def _start_loop(store: Store, network: Any, policy: Path | None, settings: Settings, sinks: Path | None, tick: float,
                stop: threading.Event) -> threading.Thread:
    """The brain in a thread of the API process; a brain that dies takes the process with it."""
    from .run import Brain, _crash_on_error, _policy, load_sinks_file, start_dispatcher

    cfg = load_sinks_file(sinks)
    brain = Brain(store, network, _policy(store, policy), sinks=cfg, tick_s=tick, home=settings.home, status_s=30.0)
    thread = threading.Thread(target=_crash_on_error(lambda s: brain.run(s), "loop"), args=(stop,),
                              name="supplynet-loop", daemon=True)
    thread.start()
    start_dispatcher(store, cfg, stop, settings.home)
    return thread
