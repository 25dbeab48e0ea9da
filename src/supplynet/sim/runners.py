"""Run replications locally or on a Dask cluster, with identical results for the same seed.

Replications are split into chunks ``[first, first + count)``; each chunk is a :class:`Simulation`
keyed by the global replication index, so how the work is split never changes the numbers. Locally the
chunks run one after another (the kernel itself uses every core); on Dask each chunk is a task run
by the single-threaded kernel, and the chunks are joined in order.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from supplynet.errors import SimulationError
from supplynet.sim.engine import SimResult, Simulation
from supplynet.sim.network import SimNetwork
from supplynet.sim.scenario import ScenarioLike

__all__ = ["EXECUTORS", "run_chunk", "run_replications"]

EXECUTORS = ("local", "dask")


def run_chunk(net: SimNetwork, scenario: ScenarioLike | None, horizon: int, seed: int, first: int, count: int,
              parallel: bool = True) -> SimResult:
    """Replications ``first .. first+count-1`` (a Dask task; also used locally)."""
    sim = Simulation(net, horizon=horizon, replications=count, seed=seed, scenario=scenario,
                     first_replication=first, parallel=parallel)
    return sim.run().result()


def _chunks(replications: int, chunk: int) -> list[tuple[int, int]]:
    return [(a, min(chunk, replications - a)) for a in range(0, replications, chunk)]


def run_replications(net: SimNetwork, *, replications: int, horizon: int, seed: int = 0, scenario: ScenarioLike | None = None,
                     executor: str = "local", scheduler: str | Any | None = None, chunk_size: int | None = None,
                     progress: Callable[[int], None] | None = None) -> SimResult:
    """Simulate ``replications`` of ``net`` under ``scenario``; ``progress(n)`` is told of finished ones.

    ``executor="dask"`` needs ``scheduler``: an address (``tcp://host:8786``) or a
    ``distributed.Client``; without it a local cluster is started for the call.
    """
    if executor not in EXECUTORS:
        raise SimulationError(f'"executor" must be one of {EXECUTORS}, got {executor!r}')
    if int(replications) < 1:
        raise SimulationError(f'"replications" must be >= 1, got {replications!r}')
    if executor == "local":
        chunk = int(chunk_size or max(1, min(replications, 250)))
        parts = []
        for first, count in _chunks(int(replications), chunk):
            parts.append(run_chunk(net, scenario, horizon, seed, first, count))
            if progress:
                progress(count)
        return SimResult.concat(parts)
    return _run_dask(net, replications=int(replications), horizon=horizon, seed=seed, scenario=scenario,
                     scheduler=scheduler, chunk_size=chunk_size, progress=progress)


def _run_dask(net: SimNetwork, *, replications: int, horizon: int, seed: int, scenario: ScenarioLike | None,
              scheduler: str | Any | None, chunk_size: int | None,
              progress: Callable[[int], None] | None) -> SimResult:
    try:
        from distributed import Client, LocalCluster, as_completed
    except ImportError as exc:  # pragma: no cover - dask is a dependency
        raise SimulationError("the dask executor needs dask.distributed installed") from exc
    own = None
    if scheduler is None:
        own = Client(LocalCluster(n_workers=2, threads_per_worker=1, processes=False, dashboard_address=None))
        client = own
    elif isinstance(scheduler, str):
        try:
            client = own = Client(scheduler, timeout="10s")
        except OSError as exc:
            raise SimulationError(f"cannot reach the Dask scheduler at {scheduler!r}: {exc}") from exc
    else:
        client = scheduler
    try:
        n_workers = max(1, sum(w.get("nthreads", 1) for w in client.scheduler_info()["workers"].values()))
        chunk = int(chunk_size or max(1, -(-replications // (2 * n_workers))))
        net_f = client.scatter(net, broadcast=True)
        futures = [client.submit(run_chunk, net_f, scenario, horizon, seed, a, c, False, pure=False)
                   for a, c in _chunks(replications, chunk)]
        if progress:
            for fut in as_completed(futures):
                progress(int(fut.result().acc.shape[0]))
        parts = client.gather(futures)
        return SimResult.concat(parts)
    finally:
        if own is not None:
            cluster = getattr(own, "cluster", None)
            own.close()
            if cluster is not None:
                cluster.close()
