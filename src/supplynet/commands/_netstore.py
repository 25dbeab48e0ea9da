"""The store remembers its network: ``run``, ``serve`` and ``state`` share these rules.

* The first ``run``/``serve`` with ``--network`` records the file's content and sha256 in the store.
* Later commands without ``--network`` use the recorded one; with the same file, nothing changes.
* A different file is refused (one line, exit 2) unless ``--network-update``, which records it and
  appends a ``network_update`` alert to the log (who changed what, when, both hashes).
* Without ``--network`` on a store that has none: refused, so no command shows numbers computed
  against a missing network.
"""

from __future__ import annotations

import getpass
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..errors import ConfigError, DataError
from ..events import Alert
from ..model import Network, load_network, parse_network

if TYPE_CHECKING:
    from ..store import Store

__all__ = ["NETWORK_SOURCE", "store_network"]

#: the source of the log's ``network_update`` alerts
NETWORK_SOURCE = "supplynet.network"


def store_network(store: Store, path: Path | str | None, *, update: bool = False, record: bool = True,
                  required: bool = True) -> Network | None:
    """The network to run on ``store`` (see the module doc). ``record``: write a first network into the
    store (``run``/``serve``); ``required``: refuse a store without one when no file is given."""
    tables = store.brain
    stored = tables.network()
    if path is None:
        if stored is None:
            if not required:
                return None
            raise ConfigError(f"the store {store.safe_url} has no network yet: give --network FILE "
                              f"(the first 'supplynet run' or 'serve' with it records it in the store)")
        return parse_network(stored.content, f"<network stored in {store.safe_url}>")
    p = Path(path)
    try:
        content = p.read_text(encoding="utf-8")
    except OSError as exc:
        raise DataError(f"cannot read the network file {p}: {exc.strerror or exc}") from exc
    net = load_network(p)  # validated before anything is recorded
    if not record:
        if stored is not None and stored.sha256 != _sha(content) and not update:
            raise ConfigError(_differs(store, p, stored))
        return net
    rec, written = tables.record_network(content, net.name, replace=update)
    if rec.sha256 != _sha(content):
        raise ConfigError(_differs(store, p, rec))
    if written and stored is not None:  # an update: the log says so
        now = time.time_ns() // 1000
        store.log.append([Alert(source=NETWORK_SOURCE, seq=now, ts=_iso(now), code="network_update",
                                subject=_ident(net.name), severity="info",
                                message=f"network replaced by {_user()} with {p.name}",
                                data={"sha256": rec.sha256, "previous_sha256": stored.sha256, "file": str(p),
                                      "name": net.name, "previous_name": stored.name})])
    return net


def _sha(content: str) -> str:
    from ..store.brain import network_sha256

    return network_sha256(content)


def _differs(store: Store, p: Path, stored: Any) -> str:
    return (f"the store {store.safe_url} runs network {stored.name!r} (sha256 {stored.sha256[:12]}); "
            f"{p} is a different network: pass --network-update to replace it (recorded in the log)")


def _iso(us: int) -> str:
    from ..events import iso_utc, us_to_ts

    return iso_utc(us_to_ts(us))


def _ident(name: str) -> str:
    import re

    return re.sub(r"[^A-Za-z0-9_.:-]", "-", name)[:100] or "network"


def _user() -> str:
    try:
        return getpass.getuser()
    except Exception:  # noqa: BLE001 - no login name in a container: still record the update
        return "unknown"
