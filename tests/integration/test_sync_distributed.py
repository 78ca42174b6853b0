"""Sync as independent tasks against real registries (issue #18): three CLI processes
running one shard each copy every image exactly once; a Dask LocalCluster with two
worker processes mirrors what threads mirror; a journal makes a re-run send nothing
for the tasks it lists; a task already at its target costs one HEAD; pickled tasks
hold no password or token.

Manifest PUTs are counted in the target registry's own access log.
"""

from __future__ import annotations

import collections
import json
import os
import pickle
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor
from pathlib import Path

import distributed
import pytest
import requests

from registry_client import (
    BasicAuthenticator,
    Image,
    JournalError,
    Registry,
    TokenAuthenticator,
)
from registry_client._synctask import shard_of
from registry_client.sync import RegistryFactory, SyncEntry, SyncResult, plan, run_task, sync
from registry_client.testing import (
    FaultProxy,
    LocalRegistry,
    LocalRegistryFactory,
    seed_many_repositories,
    seed_tags,
)

pytestmark = pytest.mark.integration

REPOS = [f"src/r{n:02d}" for n in range(48)]
TAGS = [f"t{n:02d}" for n in range(12)]
IMAGES = len(REPOS) + len(TAGS)  # 60


@pytest.fixture(scope="module")
def src(local_registry_factory: LocalRegistryFactory) -> LocalRegistry:
    """A source registry with 60 tiny images: 48 repositories of one tag, one of 12."""
    reg = local_registry_factory("anonymous")
    seed_many_repositories(reg, REPOS)
    seed_tags(reg, "src/many", TAGS, layers=(32,), seed=5)
    return reg


@pytest.fixture
def dst(local_registry_factory: LocalRegistryFactory) -> LocalRegistry:
    """A fresh, empty target registry for each test."""
    return local_registry_factory("anonymous")


def entries(src: LocalRegistry, dst: LocalRegistry, prefix: str) -> list[SyncEntry]:
    """Every source repository (listed: every tag) to ``dst/prefix/...``."""
    return [SyncEntry(f"{src.host}/{repo}", f"{dst.host}/{prefix}/{repo}")
            for repo in [*REPOS, "src/many"]]


def expected_targets(prefix: str) -> set[str]:
    return ({f"/v2/{prefix}/{repo}/manifests/latest" for repo in REPOS}
            | {f"/v2/{prefix}/src/many/manifests/{tag}" for tag in TAGS})


def manifest_puts(reg: LocalRegistry, *, refused: bool = False) -> collections.Counter[str]:
    """How many times each manifest path was stored by a PUT, from the registry's access
    log; with ``refused``, every PUT sent. A refused PUT is no copy: shards linking the
    same layer into one repository can make Distribution refuse a manifest
    MANIFEST_BLOB_UNKNOWN for a moment, and the client then sends it again once HEADs
    find every blob (``ManifestFlows._put``)."""
    return collections.Counter(e.path for e in reg.access_log_entries()
                               if e.method == "PUT" and "/manifests/" in e.path
                               and (refused or 200 <= e.status < 300))


def summary(result: SyncResult, prefix: str) -> set[tuple[str, str | None, str]]:
    """(repository without prefix, tag, digest) of every copied image."""
    return {(i.repository.removeprefix(f"{prefix}/"), i.tag, i.digest)
            for i in result.copied if isinstance(i, Image)}


def test_three_shard_processes_copy_every_image_exactly_once(
    src: LocalRegistry, dst: LocalRegistry, tmp_path: Path,
) -> None:
    mapping = {e.source: e.target for e in entries(src, dst, "k8s")}
    (tmp_path / "mirror.json").write_text(json.dumps(mapping))
    base = [sys.executable, "-m", "registry_client", "--json", "sync",
            str(tmp_path / "mirror.json"), "--plain-http"]
    env = {k: v for k, v in os.environ.items() if k != "JOB_COMPLETION_INDEX"}
    runs = [[*base, "--shard", "0/3"], [*base, "--shard", "1/3"],
            [*base, "--shard", "2/3", "--journal", str(tmp_path / "j2.jsonl")]]
    procs = [subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                              text=True) for cmd in runs]
    outputs = []
    for proc in procs:
        out, err = proc.communicate(timeout=120)
        assert proc.returncode == 0, err
        outputs.append(json.loads(out))
    puts = manifest_puts(dst)
    assert set(puts) == expected_targets("k8s")
    assert all(n == 1 for n in puts.values()), [p for p, n in puts.items() if n > 1]
    copied = [c["reference"] for doc in outputs for c in doc["copied"]]
    assert len(copied) == len(set(copied)) == IMAGES
    assert all(doc["copied"] for doc in outputs)  # each shard had work
    assert all(doc["failed"] == [] and doc["present"] == [] for doc in outputs)
    # the shard of each image is what the library computes for it
    tasks = plan(entries(src, dst, "k8s"), RegistryFactory(plain_http=["*"]))
    for i, doc in enumerate(outputs):
        mine = {t.target for t in tasks if t.shard(3) == i}
        assert {c["reference"].split("@")[0] for c in doc["copied"]} == mine
    # shard 1 again as a Kubernetes Indexed Job's pod runs it (its index from the
    # environment): the same images, each already there (one HEAD), nothing PUT
    dst.clear_access_log()
    pod = subprocess.run([*base, "--shards", "3"], env={**env, "JOB_COMPLETION_INDEX": "1"},
                         capture_output=True, text=True, timeout=120, check=False)
    assert pod.returncode == 0, pod.stderr
    doc = json.loads(pod.stdout)
    assert doc["copied"] == [] and sorted(doc["present"]) == sorted(
        c["reference"] for c in outputs[1]["copied"])
    assert manifest_puts(dst, refused=True) == {}
    assert dst.request_count() == dst.request_count("HEAD", "/manifests/") == len(doc["present"])
    # a re-run of shard 2 with its journal: nothing sent to the target
    dst.clear_access_log()
    again = subprocess.run(runs[2], env=env, capture_output=True, text=True, timeout=120,
                           check=False)
    assert again.returncode == 0, again.stderr
    doc = json.loads(again.stdout)
    assert doc["copied"] == [] and len(doc["journaled"]) == len(outputs[2]["copied"])
    assert dst.request_count() == 0
    # shard 0 with shard 2's journal: another plan, refused before any copy (exit 1)
    wrong = subprocess.run([*base, "--shard", "0/3", "--journal", str(tmp_path / "j2.jsonl")],
                           env=env, capture_output=True, text=True, timeout=120, check=False)
    assert wrong.returncode == 1 and "another plan" in wrong.stderr
    assert dst.request_count() == 0


def test_bad_shard_flags_are_usage_errors(tmp_path: Path) -> None:
    (tmp_path / "m.json").write_text("{}")
    env = {k: v for k, v in os.environ.items() if k != "JOB_COMPLETION_INDEX"}
    for flags in (["--shard", "3/3"], ["--shard", "x"], ["--shards", "3"],
                  ["--shard", "0/2", "--shards", "3"]):
        out = subprocess.run([sys.executable, "-m", "registry_client", "sync",
                              str(tmp_path / "m.json"), *flags], env=env,
                             capture_output=True, text=True, timeout=60, check=False)
        assert out.returncode == 2, (flags, out.stderr)
        assert "shard" in out.stderr


@pytest.fixture(scope="module")
def dask_client() -> Iterator[object]:
    """A real dask.distributed LocalCluster: two worker processes, one thread each."""
    cluster = distributed.LocalCluster(
        n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None,
        host="127.0.0.1", silence_logs=40, death_timeout=60)
    client = distributed.Client(cluster, timeout=60)
    try:
        yield client
    finally:
        client.close(timeout=30)
        cluster.close(timeout=30)


def test_a_dask_cluster_mirrors_what_threads_mirror(
    src: LocalRegistry, dst: LocalRegistry, dask_client: object,
) -> None:
    factory = RegistryFactory(plain_http=[src.host, dst.host])
    with Registry(src.host, protocol="http") as a, Registry(dst.host, protocol="http") as b:
        by_domain = {src.host: a, dst.host: b}
        threads = sync(entries(src, dst, "threads"), lambda r: by_domain[r.domain])
        with ThreadPoolExecutor(4) as threads_of_mine:
            pool = sync(entries(src, dst, "pool"), lambda r: by_domain[r.domain],
                        executor=threads_of_mine)
    executor = dask_client.get_executor()  # type: ignore[attr-defined]
    dask = sync(entries(src, dst, "dask"), factory, executor=executor, max_per_registry=2)
    assert threads.ok and pool.ok and dask.ok, (threads.failed, pool.failed, dask.failed)
    assert len(threads.copied) == IMAGES
    assert summary(dask, "dask") == summary(threads, "threads") == summary(pool, "pool")
    assert dask.vanished == threads.vanished == () and dask.present == ()
    puts = manifest_puts(dst)
    for prefix in ("threads", "pool", "dask"):
        assert {p for p in puts if p.startswith(f"/v2/{prefix}/")} == expected_targets(prefix)
    assert set(puts.values()) == {1}
    # the workers ran the tasks (not this process): each worker opened its registries
    opened = dask_client.run(  # type: ignore[attr-defined]
        lambda: sorted({k[1] for k in sys.modules["registry_client._executors"]._OPENED}))
    assert len(opened) == 2 and all(hosts == sorted([src.host, dst.host])
                                    for hosts in opened.values())
    # every task held a slot of each of its two hosts: the scheduler's named semaphores
    semaphores = dask_client.run_on_scheduler(  # type: ignore[attr-defined]
        lambda dask_scheduler: (dict(dask_scheduler.extensions["semaphores"].max_leases),
                                dict(dask_scheduler.extensions["semaphores"]
                                     .metrics["acquire_total"])))
    names = {f"registry-client:{host}:max=2" for host in (src.host, dst.host)}
    assert {k: v for k, v in semaphores[0].items() if k in names} == dict.fromkeys(names, 2)
    assert {k: v for k, v in semaphores[1].items() if k in names} == dict.fromkeys(names,
                                                                                   IMAGES)
    # a second run on Dask finds every image there: one HEAD each, nothing PUT
    dst.clear_access_log()
    again = sync(entries(src, dst, "dask"), factory, executor=executor, max_per_registry=2)
    assert again.copied == () and len(again.present) == IMAGES
    assert dst.request_count() == IMAGES == dst.request_count("HEAD", "/manifests/")


def test_two_syncs_with_different_limits_share_one_dask_cluster(
    src: LocalRegistry, dst: LocalRegistry, dask_client: object,
) -> None:
    """A long-running cluster keeps a named semaphore: a later sync with another
    max_per_registry gets its own, not "Inconsistent max leases" on every task."""
    factory = RegistryFactory(plain_http=["*"])
    executor = dask_client.get_executor()  # type: ignore[attr-defined]
    runs = {limit: sync(entries(src, dst, f"limit{limit}")[:4], factory, executor=executor,
                        max_per_registry=limit) for limit in (3, 1)}
    for limit, result in runs.items():
        assert result.ok and len(result.copied) == 4, (limit, result.failed)
    leases = dask_client.run_on_scheduler(  # type: ignore[attr-defined]
        lambda dask_scheduler: dict(dask_scheduler.extensions["semaphores"].max_leases))
    for limit in (3, 1):
        assert leases[f"registry-client:{dst.host}:max={limit}"] == limit


def test_a_process_pool_mirrors_with_a_picklable_registry_for(
    src: LocalRegistry, dst: LocalRegistry,
) -> None:
    with ProcessPoolExecutor(2) as pool:
        result = sync(entries(src, dst, "procs")[:6], RegistryFactory(plain_http=["*"]),
                      executor=pool)
    assert result.ok and len(result.copied) == 6
    assert set(manifest_puts(dst).values()) == {1}


def test_a_rerun_with_the_journal_sends_nothing_for_journaled_tasks(
    src: LocalRegistry, dst: LocalRegistry, tmp_path: Path,
) -> None:
    journal = tmp_path / "journal.jsonl"
    factory = RegistryFactory(plain_http=["*"])
    some = entries(src, dst, "j")[:10] + entries(src, dst, "j")[-1:]  # 22 images
    first = sync(some, factory, journal=journal)
    assert first.ok and len(first.copied) == 22 and first.journaled == ()
    lines = journal.read_text().splitlines()
    assert len(lines) == 1 + 22 and json.loads(lines[0])["shard"] == "all"
    # what planning alone sends to the source (tag lists, one HEAD per image)
    src.clear_access_log()
    plan(some, factory)
    planning = sorted(src.access_log())
    assert planning and not any("/blobs/" in r or r.startswith("GET /v2/src/r00/manifests")
                                for r in planning)
    src.clear_access_log()
    dst.clear_access_log()
    second = sync(some, factory, journal=journal)
    assert second.copied == () and second.present == () and len(second.journaled) == 22
    assert dst.request_count() == 0
    assert sorted(src.access_log()) == planning  # the plan's reads, no task's
    assert len(journal.read_text().splitlines()) == 1 + 22  # nothing appended
    # a journal of another plan (here: another shard) is refused, nothing sent
    with pytest.raises(JournalError, match="another plan"):
        sync(some, factory, journal=journal, shard=(0, 2))
    assert dst.request_count() == 0


def test_a_tag_pattern_copies_only_the_matching_tags_in_both_kinds_of_sync(
    src: LocalRegistry, dst: LocalRegistry, tmp_path: Path,
) -> None:
    factory = RegistryFactory(plain_http=["*"])
    for prefix, options in (("onepass", {}), ("tasks", {"journal": tmp_path / "j.jsonl"})):
        entry = SyncEntry(f"{src.host}/src/many", f"{dst.host}/{prefix}/many",
                          tags=r"^t0[0-2]$")
        result = sync([entry], factory, **options)  # type: ignore[arg-type]
        assert result.ok and len(result.copied) == 3, result.failed
        assert {p for p in manifest_puts(dst) if p.startswith(f"/v2/{prefix}/")} == {
            f"/v2/{prefix}/many/manifests/t0{n}" for n in range(3)}


def test_an_image_two_entries_name_is_copied_once_in_both_kinds_of_sync(
    src: LocalRegistry, dst: LocalRegistry, tmp_path: Path,
) -> None:
    """A skopeo sync file names a repository's tags in a list and by a regex too; the
    tags both find are one image to one target, copied (and reported) once."""
    factory = RegistryFactory(plain_http=["*"])
    for prefix, options in (("onepass", {}), ("tasks", {"journal": tmp_path / "j.jsonl"})):
        target = f"{dst.host}/{prefix}/many"
        both = [SyncEntry(f"{src.host}/src/many", target, tags=r"^t0[0-2]$"),
                SyncEntry(f"{src.host}/src/many:t01", target),
                SyncEntry(f"{src.host}/src/many:t01", f"{target}:renamed")]
        result = sync(both, factory, **options)  # type: ignore[arg-type]
        assert result.ok, result.failed
        assert sorted(i.tag or "" for i in result.copied if isinstance(i, Image)) == [
            "renamed", "t00", "t01", "t02"]
        puts = {p: n for p, n in manifest_puts(dst).items() if p.startswith(f"/v2/{prefix}/")}
        assert puts == {f"/v2/{prefix}/many/manifests/{tag}": 1
                        for tag in ("t00", "t01", "t02", "renamed")}


def test_two_sources_for_one_target_tag_copy_the_first_by_name_and_fail_the_other(
    src: LocalRegistry, dst: LocalRegistry, tmp_path: Path,
) -> None:
    """Two repositories mapped to one target, each with a tag of the same name: only one
    image can be there. Copying both said "copied" twice, and every re-run put the other
    one back; the first in name order is copied and the other is a failure naming both,
    the same in every shard."""
    factory = RegistryFactory(plain_http=["*"])
    for prefix, options in (("onepass", {}), ("tasks", {"journal": tmp_path / "j.jsonl"})):
        target = f"{dst.host}/{prefix}/app"
        both = [SyncEntry(f"{src.host}/src/r01:latest", f"{target}:t01"),  # (first in file)
                SyncEntry(f"{src.host}/src/many:t01", target),
                SyncEntry(f"{src.host}/src/many:t02", target)]
        result = sync(both, factory, **options)  # type: ignore[arg-type]
        assert sorted(i.tag or "" for i in result.copied if isinstance(i, Image)) == [
            "t01", "t02"], options
        [(name, message)] = result.failed
        assert name == f"{src.host}/src/r01:latest"
        assert f"{target}:t01" in message and f"{src.host}/src/many:t01" in message
        puts = {p: n for p, n in manifest_puts(dst).items() if p.startswith(f"/v2/{prefix}/")}
        assert puts == {f"/v2/{prefix}/app/manifests/t01": 1,
                        f"/v2/{prefix}/app/manifests/t02": 1}
    shards = [plan(both, factory, shard=(i, 2)) for i in range(2)]
    assert sum(len(p) for p in shards) == 2
    assert [name for p in shards for name, _ in p.failed] == [  # by the shard it falls to
        f"{src.host}/src/r01:latest"]


def test_a_shard_retried_after_a_partial_plan_resumes_its_journal(
    src: LocalRegistry, dst: LocalRegistry, tmp_path: Path,
) -> None:
    """An Indexed Job's pod with a fixed journal name: its first try could not list one
    repository (503), its retry takes the same journal, skips what is done and copies
    the rest; no image is PUT twice."""
    factory = RegistryFactory(plain_http=["*"], retries=0)
    with FaultProxy(src, timeout=10) as proxy:
        some = [SyncEntry(f"{proxy.host}/{repo}", f"{dst.host}/retry/{repo}")
                for repo in [*REPOS[:10], "src/many"]]
        for index in range(2):
            journal = tmp_path / f"shard-{index}.jsonl"
            proxy.add_rule("GET", "/v2/src/many/tags/list", action="status", status=503,
                           times=None)
            first = sync(some, factory, journal=journal, shard=(index, 2))
            assert [name for name, _ in first.failed] == [f"{proxy.host}/src/many"]
            proxy.clear_rules()
            again = sync(some, factory, journal=journal, shard=(index, 2))
            assert again.ok, again.failed
            assert len(again.journaled) == len(first.copied)
            assert len(again.copied) == len([t for t in TAGS if shard_of(
                f"{proxy.host}/src/many:{t}", 2) == index])
    puts = manifest_puts(dst)
    assert set(puts.values()) == {1}
    assert {p for p in puts if p.startswith("/v2/retry/")} == {
        *(f"/v2/retry/{repo}/manifests/latest" for repo in REPOS[:10]),
        *(f"/v2/retry/src/many/manifests/{tag}" for tag in TAGS)}


def test_a_task_already_at_its_target_costs_one_head(
    src: LocalRegistry, dst: LocalRegistry,
) -> None:
    factory = RegistryFactory(plain_http=["*"])
    [task] = plan([SyncEntry(f"{src.host}/src/many:t03", f"{dst.host}/once/many")], factory)
    assert run_task(task, factory).outcome == "copied"
    src.clear_access_log()
    dst.clear_access_log()
    result = run_task(task, factory)
    assert result.outcome == "present" and result.image is None
    assert dst.access_log() == ["HEAD /v2/once/many/manifests/t03"]
    assert src.access_log() == []


@pytest.fixture
def secured(basic_registry: LocalRegistry, token_registry: LocalRegistry) -> list[str]:
    """An image on each of the Basic-auth and the token registry."""
    seed_tags(basic_registry, "secret/app", ["1.0"], seed=41)
    seed_tags(token_registry, "secret/app", ["1.0"], seed=42)
    return [basic_registry.host, token_registry.host]


def test_pickled_tasks_hold_no_password_or_token(
    basic_registry: LocalRegistry, token_registry: LocalRegistry, dst: LocalRegistry,
    secured: list[str],
) -> None:
    sent: list[str] = []  # every Authorization header value sent (Basic and Bearer)

    def record(resp: requests.Response, *args: object, **kwargs: object) -> None:
        value = resp.request.headers.get("Authorization")
        if value:
            sent.append(value.split(" ", 1)[1])

    session = requests.Session()
    session.hooks["response"].append(record)
    assert basic_registry.admin is not None and token_registry.admin is not None
    auth = {basic_registry.host: BasicAuthenticator(*basic_registry.admin),
            token_registry.host: TokenAuthenticator(*token_registry.admin), dst.host: None}
    opened = {host: Registry(host, protocol="http", authenticator=a, session=session)
              for host, a in auth.items()}
    mirror = [SyncEntry(f"{host}/secret/app", f"{dst.host}/from/{n}")
              for n, host in enumerate(secured)]
    try:
        tasks = plan(mirror, lambda r: opened[r.domain])
        results = [run_task(t, lambda r: opened[r.domain]) for t in tasks]
    finally:
        for reg in opened.values():
            reg.close()
    assert [r.outcome for r in results] == ["copied", "copied"]
    assert any(v.count(".") == 2 for v in sent)  # a JWT of the token server was sent
    assert len(set(sent)) >= 2  # and Basic credentials
    # what goes to the workers: the tasks, a factory naming its credential source
    factory = RegistryFactory(plain_http=["*"], credentials="vault")
    blob = pickle.dumps((tasks, list(tasks), results, factory))
    secrets = [p for reg in (basic_registry, token_registry) for p in reg.users.values()]
    for secret in [*secrets, *sent]:
        assert secret.encode() not in blob
    assert b"vault" in blob and tasks[0].source.encode() in blob


def test_a_ctrl_c_stops_the_blobs_of_the_images_being_copied(
    local_registry_factory: LocalRegistryFactory, dst: LocalRegistry,
) -> None:
    """sync() copies images side by side, each a transfer of its blobs: a Ctrl-C
    reaches the blobs in flight, and the call raises at once -- not when the images
    being copied are complete (8 MiB each at 2 MiB/s: 4 s more). Nothing is tagged."""
    assert threading.current_thread() is threading.main_thread()  # where SIGINT goes
    big = local_registry_factory("anonymous")
    for n, name in enumerate(("a", "b")):
        seed_tags(big, f"big/{name}", ["v1"], layers=(8 << 20,), seed=40 + n)
    signalled: list[float] = []
    with FaultProxy(big, timeout=10) as proxy:
        proxy.add_rule("GET", "/blobs/sha256:", action="throttle", rate=2 << 20, times=None)
        some = [SyncEntry(f"{proxy.host}/big/{name}:v1", f"{dst.host}/stop/{name}")
                for name in ("a", "b")]

        def interrupt_once_both_stream() -> None:
            deadline = time.monotonic() + 10
            while proxy.count("GET", "/blobs/") < 4 and time.monotonic() < deadline:
                time.sleep(0.01)  # both images: their config and their layer
            time.sleep(0.3)
            signalled.append(time.monotonic())
            signal.pthread_kill(threading.main_thread().ident or 0, signal.SIGINT)

        threading.Thread(target=interrupt_once_both_stream, daemon=True).start()
        with pytest.raises(KeyboardInterrupt):
            sync(some, RegistryFactory(plain_http=["*"]), max_workers=2)
        stopped = time.monotonic()
    assert signalled and stopped - signalled[0] < 1.5
    assert not manifest_puts(dst, refused=True)
