"""Where scan tasks run: a local process pool (default) or a Ray cluster. Both hand back
``concurrent.futures.Future`` objects, so the driver's loop is the same for either."""

from __future__ import annotations

import os
import sys
from collections.abc import Callable
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from typing import Any

from provenance.errors import UsageError

# A worker process is replaced after this many tasks, so memory that a reader library keeps (allocator arenas,
# caches) cannot grow over a long scan.
TASKS_PER_WORKER = 64


def _init_worker() -> None:
    # One scan worker per core: numeric libraries in a worker must not start a thread per core each.
    try:
        import torch

        torch.set_num_threads(1)
    except ImportError:
        pass


class LocalBackend:
    name = "local"
    shares_files = True  # workers read the registry database directly

    def __init__(self, workers: int):
        import multiprocessing

        self.workers = max(1, workers)
        # spawn: a fresh interpreter per worker (no inherited threads or locks from the driver).
        # max_tasks_per_child (a fresh worker after a bounded number of tasks, so memory cannot creep) exists
        # from Python 3.11; on 3.10 workers live for the whole pool.
        options: dict[str, Any] = {"max_tasks_per_child": TASKS_PER_WORKER} if sys.version_info >= (3, 11) else {}
        self.pool = ProcessPoolExecutor(
            self.workers, mp_context=multiprocessing.get_context("spawn"), initializer=_init_worker, **options
        )  # novermin

    def submit(self, fn: Callable, *args: Any) -> Future:
        try:
            return self.pool.submit(fn, *args)
        except BrokenProcessPool:  # a worker died earlier (e.g. out of memory): carry on with a new pool
            self.restart()
            return self.pool.submit(fn, *args)

    def restart(self) -> None:
        """A new pool after a worker died (the old one fails every task it held)."""
        self.pool.shutdown(wait=False, cancel_futures=True)
        self.__init__(self.workers)  # type: ignore[misc]  # the same pool settings, fresh processes

    def close(self) -> None:
        self.pool.shutdown(wait=True, cancel_futures=True)


class RayBackend:
    name = "ray"

    def __init__(self, workers: int, address: str | None):
        if not address:
            # A local Ray for this run talks over loopback only (Ray otherwise binds its services to the machine's
            # network address, as it would for a cluster). Read when ray is first imported.
            os.environ.setdefault("RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER", "0")
        try:
            import ray
        except ImportError:
            raise UsageError("--backend ray needs Ray: pip install 'provenance[ray]'") from None
        self.ray = ray
        self.started = not ray.is_initialized()
        if self.started:
            kwargs: dict[str, Any] = {"include_dashboard": False, "log_to_driver": False, "configure_logging": False}
            if address:
                ray.init(address=address, **kwargs)
            else:  # a local Ray for this run only, one CPU per worker
                ray.init(num_cpus=max(1, workers), **kwargs)
        self.workers = max(1, int(ray.cluster_resources().get("CPU", workers)))
        self.shares_files = not address  # a local Ray runs on this machine; a cluster's nodes may not see our files
        self._remote: dict[Callable, Any] = {}

    def submit(self, fn: Callable, *args: Any) -> Future:
        r = self._remote.get(fn)
        if r is None:
            r = self._remote[fn] = self.ray.remote(num_cpus=1, max_retries=1)(fn)
        return r.remote(*args).future()

    def close(self) -> None:
        if self.started:
            self.ray.shutdown()


def make_backend(kind: str, workers: int | None, address: str | None):
    # One fingerprint already keeps two cores busy (two tensors at a time), so the default is a worker per two cores.
    n = workers or max(1, min((os.cpu_count() or 1) // 2, 8))
    if kind == "local":
        if address:
            raise UsageError("--address is for --backend ray")
        return LocalBackend(n)
    if kind == "ray":
        return RayBackend(n, address)
    raise UsageError(f"unknown backend {kind!r} (local or ray)")
