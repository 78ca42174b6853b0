"""The asyncio API (``pip install 'registry-client[async]'``): read every tag's manifest
at once, pull an image with progress, push it back under another name, plan and run a copy.

    python examples/async_tour.py http://127.0.0.1:5000 demo/app 1.0 /tmp/layout demo/app-async
"""

import asyncio
import sys
from urllib.parse import urlsplit

from registry_client import BlobAdvanced, ProgressEvent
from registry_client.aio import AsyncRegistry


async def main(url: str, repository: str, tag: str, directory: str, target: str) -> None:
    parts = urlsplit(url if "://" in url else f"https://{url}")
    async with AsyncRegistry(parts.netloc, protocol=parts.scheme or "https") as reg:
        repo = reg.repository(repository)
        tags = [t async for t in repo.tags.iter()]
        manifests = await asyncio.gather(*(repo.manifests.get(t) for t in tags))
        print(f"read {len(manifests)} manifests at once: {', '.join(sorted(tags))}")

        moved = 0

        def progress(event: ProgressEvent) -> None:
            nonlocal moved
            if isinstance(event, BlobAdvanced):
                moved += event.advanced

        pulled = await repo.images.pull(tag, directory, progress=progress)
        print(f"pulled {pulled.digest} into {directory} ({moved} blob bytes)")
        pushed = await reg.repository(target).images.push(directory, tag)
        print(f"pushed {pushed.repository}:{pushed.tag} {pushed.digest}")
        print("same digest:", pulled.digest == pushed.digest)

        mirror = reg.repository(target + "-mirror")
        plan = await repo.images.copy(tag, mirror, dry_run=True)
        print(f"copy plan: {plan.count('mount')} blob(s) to mount, "
              f"{plan.bytes_to_transfer} bytes to transfer")
        copied = await repo.images.copy(tag, mirror)
        print(f"copied to {copied.repository}:{copied.tag} {copied.digest}")


if __name__ == "__main__":
    asyncio.run(main(*sys.argv[1:6]))
