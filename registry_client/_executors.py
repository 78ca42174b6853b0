"""Sync tasks on any executor: a picklable ``registry_for``, named credential sources,
and a per-registry limit of transfers at once (cluster-wide on Dask).

A task carries no secret, so whatever opens the registries where it runs must find
the credentials there: :class:`RegistryFactory` reads docker's config (honouring
``$DOCKER_CONFIG``) or a credential source registered by name in that process.
"""

from __future__ import annotations

import atexit
import contextlib
import os
import threading
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import (
    BrokenExecutor,
    Executor,
    Future,
    ThreadPoolExecutor,
    as_completed,
)
from typing import Any

import attrs

from ._calloff import CallOff, Interrupted, current, enter
from ._journal import Journal
from ._synctask import SyncTask, TaskResult, run_task
from .auth import Authenticator
from .errors import AuthenticationError
from .progress import ProgressCallback
from .reference import ImageReference, parse_image_name
from .registry import Registry

__all__ = ["CredentialSource", "RegistryFactory", "TaskRunner", "is_dask",
           "register_credential_source", "run_tasks", "runner_for", "task_hosts"]

CredentialSource = Callable[[str], "Authenticator | None"]
"""``source(host) -> Authenticator | None``: the credentials for a registry host
(``None``: anonymous, docker-pull style)."""

_SOURCES: dict[str, CredentialSource] = {}
_OPENED: dict[tuple[Any, str, str], Registry] = {}
_LOCAL_SLOTS: dict[tuple[str, int], threading.BoundedSemaphore] = {}
_DASK_SLOTS: dict[tuple[str, int], Any] = {}
_LOCK = threading.Lock()


def register_credential_source(name: str, source: CredentialSource) -> None:
    """Make ``source`` the credential source called ``name`` in this process.

    A :class:`RegistryFactory` built with ``credentials=name`` asks it for each host.
    Register it in every process that runs tasks: before ``sync`` for threads;
    with ``ProcessPoolExecutor(initializer=register_credential_source,
    initargs=(name, source))``; on Dask, on every current and future worker, with
    ``client.register_worker_callbacks(setup=functools.partial(
    register_credential_source, name, source))``. ``source`` must then be
    picklable (a module-level function). It travels to the workers once, never
    inside a task.
    """
    with _LOCK:
        _SOURCES[name] = source
        for key in [k for k in _OPENED if k[0].credentials == name]:
            _OPENED.pop(key).close()  # (opened with the previous source's credentials)


def _close_all() -> None:
    with _LOCK:
        for registry in _OPENED.values():
            registry.close()
        _OPENED.clear()


def _forget_inherited() -> None:
    """In a forked child: drop the parent's registries, whose pooled connections (sockets)
    the parent still uses -- two processes reading one socket mix their answers."""
    global _LOCK
    _LOCK = threading.Lock()  # (a thread of the parent may have held it at the fork)
    _OPENED.clear()
    _DASK_SLOTS.clear()
    _LOCAL_SLOTS.clear()


atexit.register(_close_all)
os.register_at_fork(after_in_child=_forget_inherited)


def _frozen_hosts(hosts: Iterable[str]) -> frozenset[str]:
    return frozenset(h.lower() for h in ([hosts] if isinstance(hosts, str) else hosts))


@attrs.frozen
class RegistryFactory:
    """A picklable ``registry_for``: opens (once per process) the Registry of a reference.

    Credentials are looked up where it runs, never carried: from the credential
    source registered under ``credentials`` (:func:`register_credential_source`),
    else from docker's config (``~/.docker/config.json`` or ``$DOCKER_CONFIG``,
    with its credential helpers), else anonymous. ``plain_http`` lists the hosts
    spoken to over plain HTTP (``"*"``: all); a reference with ``http://`` is too.
    ``verify``, ``timeout`` and ``retries`` are :class:`Registry`'s options.
    """

    plain_http: frozenset[str] = attrs.field(default=frozenset(), converter=_frozen_hosts)
    credentials: str | None = None
    verify: bool | str = True
    timeout: tuple[float, float] | None = None
    retries: int = 3

    def __call__(self, ref: ImageReference) -> Registry:
        """The Registry of ``ref``'s host (the same one for every task of this process)."""
        host = ref.domain.lower()
        protocol = ref.scheme or (
            "http" if host in self.plain_http or "*" in self.plain_http else "https")
        key = (self, host, protocol)
        with _LOCK:
            found = _OPENED.get(key)
            if found is not None:
                return found
            source = None
            if self.credentials is not None:
                source = _SOURCES.get(self.credentials)
                if source is None:
                    raise AuthenticationError(
                        f"{host}: no credential source named {self.credentials!r} is "
                        "registered in this process (register_credential_source on every "
                        "worker)")
            options: dict[str, Any] = {"protocol": protocol, "verify": self.verify,
                                       "retries": self.retries}
            if self.timeout is not None:
                options["timeout"] = self.timeout
            if source is not None:
                registry = Registry(ref.domain, authenticator=source(host), **options)
            else:
                registry = Registry.from_docker_config(ref.domain, **options)
            _OPENED[key] = registry
            return registry


def is_dask(executor: Executor) -> bool:
    """True for a Dask cluster's executor (``distributed.Client.get_executor()``)."""
    return type(executor).__module__.split(".")[0] == "distributed"


def _slots(host: str, limit: int, dask: bool) -> Any:
    """The semaphore of ``host``: this process's, or the Dask cluster's (by name)."""
    with _LOCK:
        if not dask:
            return _LOCAL_SLOTS.setdefault((host, limit), threading.BoundedSemaphore(limit))
        found = _DASK_SLOTS.get((host, limit))
        if found is None:
            # distributed only on a Dask worker: `import registry_client.sync` stays light
            from distributed import Semaphore

            found = _DASK_SLOTS[(host, limit)] = Semaphore(  # type: ignore[no-untyped-call]
                max_leases=limit, name=semaphore_name(host, limit))
        return found


def semaphore_name(host: str, limit: int) -> str:
    """The Dask semaphore of ``host`` for runs of ``limit`` transfers at once.

    The limit is part of the name: a cluster keeps a semaphore (and its
    ``max_leases``) after the sync that made it, so a later sync with another limit
    gets its own instead of failing. Runs with the same limit share one pace.
    """
    return f"registry-client:{host}:max={limit}"


def task_hosts(task: SyncTask) -> list[str]:
    """The registry hosts ``task`` talks to, in the order their slots are taken (by name:
    no two tasks wait for each other's)."""
    return sorted({parse_image_name(r, allow_scheme=True).domain.lower()
                   for r in (task.source, task.target)})


@contextlib.contextmanager
def registry_slots(hosts: Iterable[str], limit: int | None, *, dask: bool) -> Iterator[None]:
    """Hold one of ``limit`` slots of every host (in name order: no deadlock) meanwhile."""
    if limit is None:
        yield
        return
    held: list[Any] = []
    try:
        for host in sorted({h.lower() for h in hosts}):
            slots = _slots(host, limit, dask)
            slots.acquire()
            held.append(slots)
        yield
    finally:
        for slots in reversed(held):
            slots.release()


@attrs.frozen
class TaskRunner:
    """``runner(task) -> TaskResult``: what an executor runs for each task (picklable
    when ``registry_for`` is; ``progress`` only travels to threads)."""

    registry_for: Callable[[ImageReference], Registry]
    dry_run: bool = False
    max_per_registry: int | None = None
    dask: bool = False
    progress: ProgressCallback | None = None

    def __call__(self, task: SyncTask) -> TaskResult:
        """Run ``task`` (see :func:`registry_client.sync.run_task`), within the limits."""
        with registry_slots(task_hosts(task), self.max_per_registry, dask=self.dask):
            return run_task(task, self.registry_for, dry_run=self.dry_run,
                            progress=self.progress)


def runner_for(executor: Executor, registry_for: Callable[[ImageReference], Registry], *,
               dry_run: bool, max_per_registry: int | None,
               progress: ProgressCallback | None) -> TaskRunner:
    """The runner of tasks on ``executor``: threads get ``progress``, others do not."""
    threads = isinstance(executor, ThreadPoolExecutor)
    return TaskRunner(registry_for, dry_run, max_per_registry, is_dask(executor),
                      progress if threads else None)


def run_tasks(pool: Executor, runner: TaskRunner, tasks: list[SyncTask],
              journal: Journal | None) -> dict[str, TaskResult]:
    """Each task's result by its key, each recorded in ``journal`` as it finishes.

    A Ctrl-C (or any error here) cancels the tasks not yet started and, on a thread
    pool, calls off the running ones: their blob transfers stop within a block, as the
    one-pass sync's do (the caller's ``pool.shutdown()`` would otherwise wait for every
    queued image to be copied).
    """
    parent = current()  # (a sync called off from outside: the asyncio API's cancel)
    call_off = CallOff(parent) if isinstance(pool, ThreadPoolExecutor) else None
    futures: dict[Future[TaskResult], SyncTask] = {
        (pool.submit(runner, t) if call_off is None
         else pool.submit(_called_off_by, call_off, runner, t)): t for t in tasks}
    results: dict[str, TaskResult] = {}
    try:
        for future in as_completed(futures):
            task = futures[future]
            try:
                result = future.result()
            except BrokenExecutor as exc:  # a dead worker broke the pool: it runs nothing more
                result = TaskResult(task, "failed", error=(
                    "not run, or its result lost: a worker process died (killed, out of "
                    "memory, os._exit), which breaks a process pool for every task not yet "
                    "finished; run the sync again (with a journal, the finished tasks are "
                    f"skipped) [{type(exc).__name__}: {exc}]"))
            except Exception as exc:  # the executor lost it (e.g. a Dask worker died)
                result = TaskResult(task, "failed", error=f"{type(exc).__name__}: {exc}")
            results[task.key] = result
            if journal is not None:
                journal.record(result)
            if parent is not None:
                parent.raise_if_called_off()
    except BaseException as exc:
        for future in futures:
            future.cancel()
        if call_off is not None:
            call_off.interrupted = isinstance(exc, KeyboardInterrupt | Interrupted)
            call_off.set()
        raise
    return results


def _called_off_by(call_off: CallOff, runner: TaskRunner, task: SyncTask) -> TaskResult:
    """``runner(task)`` on a pool thread whose transfers ``call_off`` stops (a task the
    pool takes once it is called off does not start)."""
    call_off.raise_if_called_off()
    enter(call_off)
    try:
        return runner(task)
    finally:
        enter(None)
