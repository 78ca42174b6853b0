"""Mirror a sync file's images on a Dask cluster, a few transfers per registry at once.

    python examples/dask_mirror.py mirror.yaml                    # a LocalCluster here
    python examples/dask_mirror.py mirror.yaml --scheduler tcp://scheduler:8786
    python examples/dask_mirror.py mirror.yaml --plain-http --workers 2 --journal j.jsonl

The plan (one task per image, no secrets in it) is made here; each Dask worker opens
the registries itself and finds credentials there: docker's config ($DOCKER_CONFIG),
or a credential source registered on every worker (see docs/distributed-sync.md).
"""

import argparse

from distributed import Client, LocalCluster

from registry_client.sync import RegistryFactory, load_sync_file, sync


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("file", help="the sync file (JSON or YAML: source -> target)")
    parser.add_argument("--scheduler", help="a running cluster's scheduler address")
    parser.add_argument("--workers", type=int, default=2, help="LocalCluster worker processes")
    parser.add_argument("--plain-http", action="store_true", help="every registry over HTTP")
    parser.add_argument("--max-per-registry", type=int, default=4,
                        help="transfers per registry at once, across the cluster")
    parser.add_argument("--journal", help="record finished images here; a re-run skips them")
    args = parser.parse_args()

    cluster = None
    if args.scheduler is None:
        cluster = LocalCluster(n_workers=args.workers, threads_per_worker=1,
                               dashboard_address=None, host="127.0.0.1")
    client = Client(args.scheduler or cluster, timeout=60)
    try:
        registry_for = RegistryFactory(plain_http=["*"] if args.plain_http else [])
        result = sync(load_sync_file(args.file), registry_for,
                      executor=client.get_executor(), journal=args.journal,
                      max_per_registry=args.max_per_registry)
    finally:
        client.close()
        if cluster is not None:
            cluster.close()
    for image in result.copied:
        print(f"copied  {image.domain}/{image.repository}:{image.tag}@{image.digest}")
    for reference in result.present:
        print(f"present {reference}")
    for reference in result.journaled:
        print(f"done    {reference}")
    for name, error in result.failed:
        print(f"FAILED  {name}: {error}")
    print(f"{len(result.copied)} copied, {len(result.present)} already there, "
          f"{len(result.journaled)} journaled, {len(result.failed)} failed")
    return 0 if result.ok else 1


if __name__ == "__main__":  # (Dask's worker processes import this file too)
    raise SystemExit(main())
