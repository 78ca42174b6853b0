"""What each client runs for each workload: command lines, what to count, how to validate.

Workloads (issue #6):

a. pull an image of 4 x 64 MiB layers to disk
b. push the same image to an empty repository
c. copy it between two registries
d. ``manifests.get`` of 200 different tags of one repository
e. list 2,000 tags paged by 100 (through the paging proxy)
f. download one 1 GiB blob
g. ``import registry_client`` and a CLI ``ls`` cold start
h. ``retention.plan`` over 5,000 tags (issue #15)

Clients: registry_client (library, and CLI when ``registry_client.cli`` exists), its asyncio
flavour (``registry_client.aio.AsyncRegistry``), skopeo, python-dxf (on the anonymous
registries: it refuses token auth over plain http), oras-py (pull, push, copy; issue #15),
and the curl floor (one token fetched once, keep-alive, blobs to disk; sequential, and
xargs -P4).  Workload (a) also runs anonymously (registry_client and the sequential curl
floor on an anonymous registry), and (f) has a CPU yardstick row: hashlib's sha256 of the
same number of bytes.
"""

from __future__ import annotations

import dataclasses
import itertools
import json
import os
import shlex
from collections.abc import Callable
from pathlib import Path
from typing import Any

from ._data import OCI_INDEX, OCI_MANIFEST, LocalImage, manifest_exists
from ._servers import BenchRegistry, PagingProxy

RC = "registry_client"
RCA = "registry_client (asyncio)"
CLI = "registry_client CLI"
SKOPEO = "skopeo"
DXF = "python-dxf"
ORAS = "oras-py"
CURL = "curl (sequential)"
CURLP = "curl (xargs -P4)"
CLIENTS = (RC, RCA, CLI, SKOPEO, DXF, ORAS, CURL, CURLP)
# (a) in anonymous mode: the library and its floor on an anonymous registry
RC_ANON = "registry_client (anonymous)"
CURL_ANON = "curl (anonymous sequential)"
# (f): the CPU of hashing the blob's bytes, the other half of the CPU goal's yardstick
SHA256 = "hashlib sha256 (CPU yardstick)"
ALL_ROWS = (*CLIENTS, RC_ANON, CURL_ANON, SHA256)
FLOOR = CURL
#: the floor each row is divided by in "x curl" (default FLOOR): rows run anonymously
FLOOR_OF = {RC_ANON: CURL_ANON, DXF: CURL_ANON}
ORAS_ROWS_GAP = "oras-py is measured for pull, push and copy (a-c)"
ORAS_PUSH_NOTE = ("anonymous registry: oras-py 0.2.43 keeps one token for every scope, so "
                  "its push to the token registry re-sends the pull token from the blob "
                  "HEAD for the upload POST and fails (401)")
PARALLEL = 4
ACCEPT = f"{OCI_MANIFEST}, {OCI_INDEX}"


@dataclasses.dataclass
class Gap:
    """A client that cannot run a workload, and why (reported, never hidden)."""

    reason: str


@dataclasses.dataclass
class Invocation:
    argv: list[str]
    count_on: list[BenchRegistry]
    proxy: PagingProxy | None = None
    env: dict[str, str] | None = None
    stdout_path: Path | None = None
    cleanup: list[Path] = dataclasses.field(default_factory=list)
    validate: Callable[[Any], str | None] | None = None
    op_from_runner: bool = False


@dataclasses.dataclass(frozen=True)
class RetentionData:
    """What (h) seeded: ``tags`` spread over a few images (``manifests``, ``configs``)."""

    tags: tuple[str, ...]
    manifests: tuple[str, ...]
    configs: tuple[str, ...]
    keep: int


@dataclasses.dataclass
class Env:
    """Everything the command builders need."""

    root: Path
    python: str
    token: BenchRegistry
    anon: BenchRegistry
    anon2: BenchRegistry
    proxy_token: PagingProxy | None
    proxy_anon: PagingProxy | None
    image: LocalImage
    big: LocalImage | None
    retention: RetentionData | None
    tags: list[str]
    manifest_tags: list[str]
    page_size: int
    creds: tuple[str, str]
    skopeo_prefix: list[str]
    base_env: dict[str, str]
    peers_path: Path | None
    oras_path: Path | None
    cli: list[str] | None
    gaps: dict[str, str]
    _n: itertools.count = dataclasses.field(default_factory=itertools.count)

    IMAGE_REPO = "bench/image"
    BIG_REPO = "bench/big"
    TAGS_REPO = "bench/tags"
    RETENTION_REPO = "bench/retention"

    def unique(self, prefix: str) -> str:
        return f"{prefix}-{next(self._n)}"

    def scratch(self, name: str) -> Path:
        (self.root / "scratch").mkdir(exist_ok=True)
        return self.root / "scratch" / self.unique(name)

    def script(self, name: str, text: str) -> Path:
        path = self.root / "scripts" / f"{self.unique(name)}.sh"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("set -eu\n" + text)
        return path

    def runner(self, client: str, spec: dict[str, Any]) -> tuple[list[str], dict[str, str]]:
        env = dict(self.base_env)
        if client == DXF:
            assert self.peers_path is not None
            env["PYTHONPATH"] = str(self.peers_path)
        if client == ORAS:
            assert self.oras_path is not None
            env["PYTHONPATH"] = str(self.oras_path)
        runner = {RC: "registry_client", RC_ANON: "registry_client",
                  RCA: "registry_client_async", ORAS: "oras", SHA256: "sha256"}.get(client, "dxf")
        spec = {"client": runner, **spec}
        return [self.python, "-m", "benchmarks._runner", json.dumps(spec)], env

    def token_url(self, repo: str, actions: str) -> str:
        ts = self.token.reg.token_server
        assert ts is not None
        return f"{ts.realm}?service={ts.service}&scope=repository:{repo}:{actions}"


# -- validation helpers ---------------------------------------------------------------------

def _files_by_name(root: Path) -> dict[str, int]:
    found: dict[str, int] = {}
    for dirpath, _, files in os.walk(root):
        for f in files:
            found[f.rsplit(":", 1)[-1]] = os.path.getsize(os.path.join(dirpath, f))
    return found


def _check_blobs(out: Path, image: LocalImage) -> Callable[[Any], str | None]:
    def check(_: Any) -> str | None:
        found = _files_by_name(out)
        for b in image.blobs:
            if found.get(b.hex) != b.size:
                return f"blob {b.digest[:19]} missing or wrong size in {out}"
        return None
    return check


def _check_file(path: Path, size: int) -> Callable[[Any], str | None]:
    def check(_: Any) -> str | None:
        if not path.is_file() or path.stat().st_size != size:
            got = path.stat().st_size if path.is_file() else None
            return f"{path.name}: expected {size} bytes, found {got}"
        return None
    return check


def _check_manifest(reg: BenchRegistry, repo: str, tag: str) -> Callable[[Any], str | None]:
    def check(_: Any) -> str | None:
        return None if manifest_exists(reg.reg, repo, tag) else f"{repo}:{tag} not in {reg.name}"
    return check


def _check_count(out: Path, n: int) -> Callable[[Any], str | None]:
    def check(_: Any) -> str | None:
        got = sum(1 for p in out.iterdir() if p.is_file()) if out.is_dir() else 0
        return None if got == n else f"expected {n} files in {out}, found {got}"
    return check


# -- curl helpers ---------------------------------------------------------------------------

_TOKEN_SED = r"""sed -n 's/.*"token": *"\([^"]*\)".*/\1/p'"""


def _curl_token(env: Env, repo: str, actions: str, creds: bool) -> str:
    user = f"-u {shlex.quote(':'.join(env.creds))} " if creds else ""
    return (f"TOKEN=$(curl -sSf {user}{shlex.quote(env.token_url(repo, actions))} "
            f"| {_TOKEN_SED})\n"
            'AUTH="Authorization: Bearer $TOKEN"\n')


def _curl_config(path: Path, pairs: list[tuple[str, str]]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(f'url = "{u}"\noutput = "{o}"\n' for u, o in pairs))
    return path


_UPLOAD_FN = """
upload() {  # upload FILE_OR_- DIGEST BASE REPO [AUTH header args...]
  src=$1; dgst=$2; base=$3; repo=$4; shift 4
  loc=$(curl -sSf -X POST "$@" -D - -o /dev/null "$base/v2/$repo/blobs/uploads/" \\
        | tr -d '\\r' | sed -n 's/^[Ll]ocation: *//p')
  case "$loc" in /*) loc="$base$loc";; esac
  case "$loc" in *\\?*) sep='&';; *) sep='?';; esac
  curl -sSf -X PUT "$@" -H 'Content-Type: application/octet-stream' -H 'Expect:' \\
       -T "$src" -o /dev/null "$loc${sep}digest=$dgst"
}
"""


# -- (a) pull -------------------------------------------------------------------------------

def pull(env: Env, client: str) -> Invocation | Gap:
    img = env.image
    out = env.scratch(f"pull-{_slug(client)}")
    t = env.anon if client in (RC_ANON, CURL_ANON) else env.token
    if client in (RC, RCA, RC_ANON, ORAS):
        if client == ORAS and env.oras_path is None:
            return Gap(env.gaps[ORAS])
        argv, e = env.runner(client, {"workload": "pull", "host": t.host, "repo": env.IMAGE_REPO,
                                      "tag": img.tag, "out": str(out)})
        return Invocation(argv, [t], env=e, cleanup=[out], validate=_check_blobs(out, img),
                          op_from_runner=True)
    if client == CLI:
        if env.cli is None:
            return Gap(env.gaps[CLI])
        ref = f"{t.host}/{env.IMAGE_REPO}:{img.tag}"
        return Invocation([*env.cli, "pull", ref, str(out), "--plain-http"], [t],
                          env=env.base_env, cleanup=[out], validate=_check_blobs(out, img))
    if client == SKOPEO:
        return Invocation(
            [*env.skopeo_prefix, "copy", "-q", "--insecure-policy", "--src-tls-verify=false",
             f"docker://{t.host}/{env.IMAGE_REPO}:{img.tag}", f"oci:{out}:{img.tag}"],
            [t], env=env.base_env, cleanup=[out], validate=_check_blobs(out, img))
    if client == DXF:
        if env.peers_path is None:
            return Gap(env.gaps[DXF])
        a = env.anon
        argv, e = env.runner(DXF, {"workload": "pull", "host": a.host, "repo": env.IMAGE_REPO,
                                   "tag": img.tag, "out": str(out)})
        return Invocation(argv, [a], env=e, cleanup=[out], validate=_check_blobs(out, img),
                          op_from_runner=True)
    base = t.url
    man_url = f"{base}/v2/{env.IMAGE_REPO}/manifests/{img.tag}"
    urls = [f"{base}/v2/{env.IMAGE_REPO}/blobs/{b.digest}" for b in img.blobs]
    if client == CURL_ANON:
        text = 'AUTH="X-No-Auth: 1"\n'  # the same command line, without a token
    else:
        text = _curl_token(env, env.IMAGE_REPO, "pull", False)
    text = f"mkdir -p {out}\n" + text
    if client in (CURL, CURL_ANON):
        cfg = _curl_config(out.with_suffix(".cfg"),
                           [(man_url, str(out / "manifest.json"))]
                           + [(u, str(out / b.hex)) for u, b in zip(urls, img.blobs, strict=True)])
        text += f'curl -sSf -H "$AUTH" -H {shlex.quote("Accept: " + ACCEPT)} -K {cfg}\n'
    else:
        text += (f'curl -sSf -H "$AUTH" -H {shlex.quote("Accept: " + ACCEPT)} '
                 f"-o {out}/manifest.json {shlex.quote(man_url)}\n"
                 f"printf '%s\\n' {' '.join(urls)} | "
                 f'xargs -P {PARALLEL} -n 1 curl -sSf -H "$AUTH" --output-dir {out} -O\n')
    return Invocation(["sh", str(env.script("pull", text))], [t], env=env.base_env,
                      cleanup=[out, out.with_suffix(".cfg")], validate=_check_blobs(out, img))


# -- (b) push -------------------------------------------------------------------------------

def push(env: Env, client: str) -> Invocation | Gap:
    img = env.image
    t = env.token
    repo = f"push/{env.unique(_slug(client))}"
    if client in (RC, RCA):
        argv, e = env.runner(client, {"workload": "push", "host": t.host, "repo": repo,
                                  "tag": img.tag, "layout": str(img.layout),
                                  "creds": list(env.creds)})
        return Invocation(argv, [t], env=e, validate=_check_manifest(t, repo, img.tag),
                          op_from_runner=True)
    if client == CLI:
        if env.cli is None:
            return Gap(env.gaps[CLI])
        return Invocation([*env.cli, "push", str(img.layout), f"{t.host}/{repo}:{img.tag}",
                           "--plain-http", "--username", env.creds[0],
                           "--password", env.creds[1]],
                          [t], env=env.base_env, validate=_check_manifest(t, repo, img.tag))
    if client == SKOPEO:
        return Invocation(
            [*env.skopeo_prefix, "copy", "-q", "--insecure-policy", "--dest-tls-verify=false",
             "--dest-creds", ":".join(env.creds), f"oci:{img.layout}:{img.tag}",
             f"docker://{t.host}/{repo}:{img.tag}"],
            [t], env=env.base_env, validate=_check_manifest(t, repo, img.tag))
    if client in (DXF, ORAS):  # both on the anonymous registry (DXF's note, ORAS_PUSH_NOTE)
        if (env.peers_path if client == DXF else env.oras_path) is None:
            return Gap(env.gaps[client])
        a = env.anon
        argv, e = env.runner(client, {"workload": "push", "host": a.host, "repo": repo,
                                      "tag": img.tag, "layout": str(img.layout)})
        return Invocation(argv, [a], env=e, validate=_check_manifest(a, repo, img.tag),
                          op_from_runner=True)
    text = _UPLOAD_FN + _curl_token(env, repo, "pull,push", True)
    if client == CURL:
        for b in img.blobs:
            text += f'upload {b.path} {b.digest} {t.url} {repo} -H "$AUTH"\n'
    else:
        pairs = " ".join(f"{b.path} {b.digest}" for b in img.blobs)
        text += ("export AUTH\n"
                 f"printf '%s %s\\n' {pairs} | xargs -P {PARALLEL} -n 2 sh -c "
                 + shlex.quote(_UPLOAD_FN + f'upload "$1" "$2" {t.url} {repo} -H "$AUTH"')
                 + " _\n")
    text += (f'curl -sSf -X PUT -H "$AUTH" -H "Content-Type: {OCI_MANIFEST}" '
             f"--data-binary @{img.manifest_path} -o /dev/null "
             f"{t.url}/v2/{repo}/manifests/{img.tag}\n")
    return Invocation(["sh", str(env.script("push", text))], [t], env=env.base_env,
                      validate=_check_manifest(t, repo, img.tag))


# -- (c) copy -------------------------------------------------------------------------------

def copy(env: Env, client: str) -> Invocation | Gap:
    img = env.image
    t, a = env.token, env.anon
    dst_repo = f"copy/{env.unique(_slug(client))}"
    if client in (RC, RCA):
        argv, e = env.runner(client, {"workload": "copy", "host": t.host, "repo": env.IMAGE_REPO,
                                  "tag": img.tag, "dst_host": a.host, "dst_repo": dst_repo})
        return Invocation(argv, [t, a], env=e, validate=_check_manifest(a, dst_repo, img.tag),
                          op_from_runner=True)
    if client == CLI:
        if env.cli is None:
            return Gap(env.gaps[CLI])
        return Invocation([*env.cli, "copy", f"{t.host}/{env.IMAGE_REPO}:{img.tag}",
                           f"{a.host}/{dst_repo}:{img.tag}", "--plain-http"],
                          [t, a], env=env.base_env,
                          validate=_check_manifest(a, dst_repo, img.tag))
    if client == SKOPEO:
        return Invocation(
            [*env.skopeo_prefix, "copy", "-q", "--insecure-policy", "--src-tls-verify=false",
             "--dest-tls-verify=false", f"docker://{t.host}/{env.IMAGE_REPO}:{img.tag}",
             f"docker://{a.host}/{dst_repo}:{img.tag}"],
            [t, a], env=env.base_env, validate=_check_manifest(a, dst_repo, img.tag))
    if client == ORAS:
        if env.oras_path is None:
            return Gap(env.gaps[ORAS])
        tmp = env.scratch("oras-copy")
        argv, e = env.runner(ORAS, {"workload": "copy", "host": t.host, "repo": env.IMAGE_REPO,
                                    "tag": img.tag, "dst_host": a.host, "dst_repo": dst_repo,
                                    "tmp": str(tmp)})
        return Invocation(argv, [t, a], env=e, cleanup=[tmp],
                          validate=_check_manifest(a, dst_repo, img.tag), op_from_runner=True)
    if client == DXF:
        if env.peers_path is None:
            return Gap(env.gaps[DXF])
        a2 = env.anon2
        argv, e = env.runner(DXF, {"workload": "copy", "host": a.host, "repo": env.IMAGE_REPO,
                                   "tag": img.tag, "dst_host": a2.host, "dst_repo": dst_repo})
        return Invocation(argv, [a, a2], env=e, validate=_check_manifest(a2, dst_repo, img.tag),
                          op_from_runner=True)
    src = f"{t.url}/v2/{env.IMAGE_REPO}"
    man = env.scratch("copy-manifest")
    text = _UPLOAD_FN + _curl_token(env, env.IMAGE_REPO, "pull", False)
    move = 'curl -sSf -H "$AUTH" "{src}/blobs/$1" | upload - "$1" {dst} {repo}'
    if client == CURL:
        for b in img.blobs:
            text += move.format(src=src, dst=a.url, repo=dst_repo).replace("$1", b.digest) + "\n"
    else:
        digests = " ".join(b.digest for b in img.blobs)
        text += ("export AUTH\n"
                 f"printf '%s\\n' {digests} | xargs -P {PARALLEL} -n 1 sh -c "
                 + shlex.quote(_UPLOAD_FN + move.format(src=src, dst=a.url, repo=dst_repo))
                 + " _\n")
    text += (f'curl -sSf -H "$AUTH" -H {shlex.quote("Accept: " + ACCEPT)} -o {man} '
             f"{src}/manifests/{img.tag}\n"
             f'curl -sSf -X PUT -H "Content-Type: {OCI_MANIFEST}" --data-binary @{man} '
             f"-o /dev/null {a.url}/v2/{dst_repo}/manifests/{img.tag}\n")
    return Invocation(["sh", str(env.script("copy", text))], [t, a], env=env.base_env,
                      cleanup=[man], validate=_check_manifest(a, dst_repo, img.tag))


# -- (d) manifests.get of N tags ----------------------------------------------------------

def manifests(env: Env, client: str) -> Invocation | Gap:
    t = env.token
    tags = env.manifest_tags
    if client == ORAS:
        return Gap(ORAS_ROWS_GAP)
    if client in (RC, RCA):
        argv, e = env.runner(client, {"workload": "manifests", "host": t.host,
                                  "repo": env.TAGS_REPO, "tags": tags})
        return Invocation(argv, [t], env=e, op_from_runner=True)
    if client == CLI:
        if env.cli is None:
            return Gap(env.gaps[CLI])
        return Gap("one CLI process per manifest is not a fair way to read 200 manifests "
                   "(the library row is the registry_client result)")
    if client == SKOPEO:
        refs = " ".join(f"docker://{t.host}/{env.TAGS_REPO}:{tag}" for tag in tags)
        skopeo = " ".join(shlex.quote(x) for x in env.skopeo_prefix)
        text = (f"for ref in {refs}; do\n"
                f"  {skopeo} inspect --raw --tls-verify=false \"$ref\" > /dev/null\n"
                "done\n")
        return Invocation(["sh", str(env.script("skopeo-manifests", text))], [t],
                          env=env.base_env)
    if client == DXF:
        if env.peers_path is None:
            return Gap(env.gaps[DXF])
        a = env.anon
        argv, e = env.runner(DXF, {"workload": "manifests", "host": a.host,
                                   "repo": env.TAGS_REPO, "tags": tags})
        return Invocation(argv, [a], env=e, op_from_runner=True)
    out = env.scratch("manifests")
    urls = [(f"{t.url}/v2/{env.TAGS_REPO}/manifests/{tag}", str(out / tag)) for tag in tags]
    text = f"mkdir -p {out}\n" + _curl_token(env, env.TAGS_REPO, "pull", False)
    accept = shlex.quote("Accept: " + ACCEPT)
    if client == CURL:
        cfg = _curl_config(out.with_suffix(".cfg"), urls)
        text += f'curl -sSf -H "$AUTH" -H {accept} -K {cfg}\n'
        cleanup = [out, cfg]
    else:
        cfgs = [_curl_config(out.with_suffix(f".cfg{i}"), urls[i::PARALLEL])
                for i in range(PARALLEL)]
        text += (f"printf '%s\\n' {' '.join(map(str, cfgs))} | "
                 f'xargs -P {PARALLEL} -n 1 curl -sSf -H "$AUTH" -H {accept} -K\n')
        cleanup = [out, *cfgs]
    return Invocation(["sh", str(env.script("manifests", text))], [t], env=env.base_env,
                      cleanup=cleanup, validate=_check_count(out, len(tags)))


# -- (e) list tags through the paging proxy -------------------------------------------------

def tags(env: Env, client: str) -> Invocation | Gap:
    t = env.token
    proxy = env.proxy_token
    assert proxy is not None
    n = len(env.tags)
    if client == ORAS:
        return Gap(ORAS_ROWS_GAP)
    if client in (RC, RCA):
        argv, e = env.runner(client, {"workload": "tags", "host": proxy.host,
                                      "repo": env.TAGS_REPO, "page_size": env.page_size,
                                      "expect": n})
        return Invocation(argv, [t], proxy=proxy, env=e, op_from_runner=True)
    if client == CLI:
        if env.cli is None:
            return Gap(env.gaps[CLI])
        return Invocation([*env.cli, "ls", f"{proxy.host}/{env.TAGS_REPO}", "--plain-http"],
                          [t], proxy=proxy, env=env.base_env,
                          validate=lambda r: _lines_check(r, n))
    if client == SKOPEO:
        return Invocation([*env.skopeo_prefix, "list-tags", "--tls-verify=false",
                           f"docker://{proxy.host}/{env.TAGS_REPO}"],
                          [t], proxy=proxy, env=env.base_env,
                          validate=lambda r: _skopeo_tags_check(r, n))
    if client == DXF:
        if env.peers_path is None or env.proxy_anon is None:
            return Gap(env.gaps[DXF])
        argv, e = env.runner(DXF, {"workload": "tags", "host": env.proxy_anon.host,
                                   "repo": env.TAGS_REPO, "page_size": env.page_size,
                                   "expect": n})
        return Invocation(argv, [env.anon], proxy=env.proxy_anon, env=e, op_from_runner=True)
    if client == CURLP:
        return Gap("pages are sequential by nature (each comes from the previous Link)")
    out = env.scratch("tags")
    pages = [env.tags[i:i + env.page_size] for i in range(0, n, env.page_size)]
    urls = []
    for i in range(len(pages)):
        q = f"?n={env.page_size}" + (f"&last={pages[i - 1][-1]}" if i else "")
        urls.append((f"http://{proxy.host}/v2/{env.TAGS_REPO}/tags/list{q}", str(out / f"p{i}")))
    cfg = _curl_config(out.with_suffix(".cfg"), urls)
    text = (f"mkdir -p {out}\n" + _curl_token(env, env.TAGS_REPO, "pull", False)
            + f'curl -sSf -H "$AUTH" -K {cfg}\n')
    return Invocation(["sh", str(env.script("tags", text))], [t], proxy=proxy, env=env.base_env,
                      cleanup=[out, cfg], validate=_check_count(out, len(pages)))


def _lines_check(r: Any, n: int) -> str | None:
    got = len([x for x in r.stdout.splitlines() if x.strip()])
    return None if got == n else f"expected {n} tags on stdout, got {got} lines"


def _skopeo_tags_check(r: Any, n: int) -> str | None:
    try:
        got = len(json.loads(r.stdout)["Tags"])
    except (ValueError, KeyError, TypeError):
        return "unreadable skopeo list-tags output"
    return None if got == n else f"expected {n} tags, got {got}"


# -- (f) one big blob -----------------------------------------------------------------------

def blob(env: Env, client: str) -> Invocation | Gap:
    big = env.big
    assert big is not None
    layer = big.layers[0]
    t = env.token
    out = env.scratch(f"blob-{_slug(client)}")
    if client == ORAS:
        return Gap(ORAS_ROWS_GAP)
    if client == SHA256:
        argv, e = env.runner(SHA256, {"bytes": layer.size})
        return Invocation(argv, [], env=e, op_from_runner=True)
    if client in (RC, RCA):
        argv, e = env.runner(client, {"workload": "blob", "host": t.host, "repo": env.BIG_REPO,
                                      "digest": layer.digest, "out": str(out)})
        return Invocation(argv, [t], env=e, cleanup=[out], validate=_check_file(out, layer.size),
                          op_from_runner=True)
    if client == CLI:
        if env.cli is None:
            return Gap(env.gaps[CLI])
        return Invocation([*env.cli, "blob", f"{t.host}/{env.BIG_REPO}@{layer.digest}",
                           "--plain-http"], [t], env=env.base_env, stdout_path=out,
                          cleanup=[out], validate=_check_file(out, layer.size))
    if client == SKOPEO:
        # skopeo has no single-blob download: copy the one-layer image (manifest + config too)
        return Invocation(
            [*env.skopeo_prefix, "copy", "-q", "--insecure-policy", "--src-tls-verify=false",
             f"docker://{t.host}/{env.BIG_REPO}:{big.tag}", f"oci:{out}:{big.tag}"],
            [t], env=env.base_env, cleanup=[out], validate=_check_blobs(out, big))
    if client == DXF:
        if env.peers_path is None:
            return Gap(env.gaps[DXF])
        a = env.anon
        argv, e = env.runner(DXF, {"workload": "blob", "host": a.host, "repo": env.BIG_REPO,
                                   "digest": layer.digest, "out": str(out)})
        return Invocation(argv, [a], env=e, cleanup=[out], validate=_check_file(out, layer.size),
                          op_from_runner=True)
    if client == CURLP:
        return Gap("a single blob: nothing to run in parallel")
    text = (_curl_token(env, env.BIG_REPO, "pull", False)
            + f'curl -sSf -H "$AUTH" -o {out} {t.url}/v2/{env.BIG_REPO}/blobs/{layer.digest}\n')
    return Invocation(["sh", str(env.script("blob", text))], [t], env=env.base_env,
                      cleanup=[out], validate=_check_file(out, layer.size))


# -- (g) import and cold start --------------------------------------------------------------

G_BARE = "python -c pass"
G_REQUESTS = "import requests"
G_RC = "import registry_client"
G_RC_REGISTRY = "from registry_client import Registry"
G_CLI = "registry_client CLI ls"
G_SKOPEO = "skopeo list-tags"
G_CURL = "curl (token + tags/list)"
G_LS_OP = "registry_client ls, in-process after import"
G_ROWS = (G_BARE, G_REQUESTS, G_RC, G_RC_REGISTRY, G_CLI, G_LS_OP, G_SKOPEO, G_CURL)

_IMPORT = ("import time; t = time.perf_counter(); {stmt}; "
           "print('{{\"op_s\": %r}}' % (time.perf_counter() - t))")


def cold(env: Env, row: str) -> Invocation | Gap:
    t = env.token
    repo = env.IMAGE_REPO
    if row == G_BARE:
        return Invocation([env.python, "-c", "pass"], [], env=env.base_env)
    if row in (G_REQUESTS, G_RC, G_RC_REGISTRY):
        # registry_client loads its names lazily (PEP 562): "import registry_client" is
        # the bare package, "from registry_client import Registry" everything a client
        # needs (requests, attrs models, services); both are reported.
        return Invocation([env.python, "-c", _IMPORT.format(stmt=row)], [], env=env.base_env,
                          op_from_runner=True)
    if row == G_CLI:
        if env.cli is None:
            return Gap(env.gaps[CLI])
        return Invocation([*env.cli, "ls", f"{t.host}/{repo}", "--plain-http"], [t],
                          env=env.base_env, validate=lambda r: _lines_check(r, 1))
    if row == G_LS_OP:
        # "the library's own ls time": in a fresh process, after `from registry_client
        # import Registry` (all imports done), the time of what the CLI's ls then does:
        # open the registry, list the tags (challenge + token + tags/list), print, close
        argv, e = env.runner(RC, {"workload": "ls", "host": t.host, "repo": repo})
        return Invocation(argv, [t], env=e, op_from_runner=True,
                          validate=lambda r: _lines_check(r, 2))  # the tag + the JSON line
    if row == G_SKOPEO:
        return Invocation([*env.skopeo_prefix, "list-tags", "--tls-verify=false",
                           f"docker://{t.host}/{repo}"], [t], env=env.base_env,
                          validate=lambda r: _skopeo_tags_check(r, 1))
    text = (_curl_token(env, repo, "pull", False)
            + f'curl -sSf -H "$AUTH" {t.url}/v2/{repo}/tags/list\n')
    return Invocation(["sh", str(env.script("ls", text))], [t], env=env.base_env)


# -- (h) retention.plan over many tags ------------------------------------------------------

H_ROWS = (RC, RCA, CURLP)


def retention(env: Env, client: str) -> Invocation | Gap:
    data = env.retention
    assert data is not None
    t = env.token
    repo = env.RETENTION_REPO
    if client in (RC, RCA):
        argv, e = env.runner(client, {"workload": "retention", "host": t.host, "repo": repo,
                                      "keep": data.keep, "expect": len(data.tags)})
        return Invocation(argv, [t], env=e, op_from_runner=True)
    if client != CURLP:
        return Gap("measured: registry_client, its asyncio flavour and the curl -P4 floor")
    # The floor does what the plan does, knowing every URL in advance: the tag list, one
    # HEAD per tag, one GET per distinct manifest and per distinct config; 4 curl
    # processes at a time, keep-alive inside each.
    out = env.scratch("retention")
    base = f"{t.url}/v2/{repo}"
    heads = [(f"{base}/manifests/{tag}", "/dev/null") for tag in data.tags]
    gets = ([(f"{base}/manifests/{d}", "/dev/null") for d in data.manifests]
            + [(f"{base}/blobs/{d}", "/dev/null") for d in data.configs])
    hcfgs = [_curl_config(out / f"head{i}.cfg", heads[i::PARALLEL]) for i in range(PARALLEL)]
    gcfgs = [_curl_config(out / f"get{i}.cfg", gets[i::PARALLEL]) for i in range(PARALLEL)]
    accept = shlex.quote("Accept: " + ACCEPT)
    text = (_curl_token(env, repo, "pull", False)
            + f'curl -sSf -H "$AUTH" -o /dev/null {base}/tags/list\n'
            + f"printf '%s\\n' {' '.join(map(str, hcfgs))} | "
            f'xargs -P {PARALLEL} -n 1 curl -sSf -I -H "$AUTH" -H {accept} -K\n'
            + f"printf '%s\\n' {' '.join(map(str, gcfgs))} | "
            f'xargs -P {PARALLEL} -n 1 curl -sSf -H "$AUTH" -H {accept} -K\n')
    return Invocation(["sh", str(env.script("retention", text))], [t], env=env.base_env,
                      cleanup=[out])


def _slug(client: str) -> str:
    return "".join(c if c.isalnum() else "-" for c in client.lower()).strip("-")


@dataclasses.dataclass(frozen=True)
class Workload:
    key: str
    name: str
    title: str
    build: Callable[[Env, str], Invocation | Gap]
    rows: tuple[str, ...] = CLIENTS


WORKLOADS: dict[str, Workload] = {
    w.key: w for w in (
        Workload("a", "pull", "pull an image of {layers} to disk (token and anonymous)", pull,
                 (*CLIENTS, RC_ANON, CURL_ANON)),
        Workload("b", "push", "push the same image to an empty repository", push),
        Workload("c", "copy", "copy it between two registries", copy),
        Workload("d", "manifests", "manifests.get of {n_manifests} different tags", manifests),
        Workload("e", "tags", "list {n_tags} tags paged by {page} (paging proxy)", tags),
        Workload("f", "blob", "download one {big} blob", blob, (*CLIENTS, SHA256)),
        Workload("g", "cold", "import registry_client, and an `ls` cold start", cold, G_ROWS),
        Workload("h", "retention", "retention.plan(keep={keep}) over {n_retention} tags of "
                 "{n_images} images", retention, H_ROWS),
    )
}
