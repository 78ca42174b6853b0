"""Referrers and artifacts through Registry with a requests-mock adapter: stub, call, assert.

The registry stubbed here *has* the referrers API (200 + OCI index, ``OCI-Filters-Applied``,
``OCI-Subject`` on PUT), which the real Distribution 2.8 of the integration tests lacks;
the fallback cases check the 404 -> referrers-tag-schema switch and what is remembered.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import requests_mock

from registry_client import Descriptor, Registry
from registry_client.errors import NotFoundError, RegistryResponseError
from registry_client.services._referrers import referrers_tag

BASE = "https://registry.example"
OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_INDEX = "application/vnd.oci.image.index.v1+json"
EMPTY = "application/vnd.oci.empty.v1+json"
EMPTY_DIGEST = "sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a"
SBOM = "application/spdx+json"
SIG = "application/vnd.example.signature"
SUBJECT = "sha256:" + "5" * 64
FALLBACK_TAG = "sha256-" + "5" * 64
REFERRERS_URL = f"{BASE}/v2/app/referrers/{SUBJECT}"


def sha256(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def entry(n: int, artifact_type: str | None, **annotations: str) -> dict[str, Any]:
    doc: dict[str, Any] = {"mediaType": OCI_MANIFEST, "digest": "sha256:" + str(n) * 64,
                           "size": 500 + n}
    if artifact_type is not None:
        doc["artifactType"] = artifact_type
    if annotations:
        doc["annotations"] = annotations
    return doc


def index(*entries: dict[str, Any]) -> bytes:
    return json.dumps(
        {"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": list(entries)}
    ).encode()


@pytest.fixture
def env(mocked_registry: Callable[..., tuple[Registry, requests_mock.Adapter]]
        ) -> tuple[Registry, requests_mock.Adapter]:
    return mocked_registry(retries=1)


def stub_referrers(adapter: requests_mock.Adapter, body: bytes, **headers: str) -> None:
    adapter.register_uri(
        "GET", re.compile(re.escape(REFERRERS_URL) + r"(\?.*)?$"), content=body,
        headers={"Content-Type": OCI_INDEX, **headers},
    )


def stub_no_api(adapter: requests_mock.Adapter) -> None:
    """Distribution 2.8: the route does not exist -> plain-text 404."""
    adapter.register_uri(
        "GET", re.compile(re.escape(REFERRERS_URL)), status_code=404,
        text="404 page not found\n", headers={"Content-Type": "text/plain; charset=utf-8"},
    )


def stub_fallback(adapter: requests_mock.Adapter, body: bytes | None) -> None:
    url = f"{BASE}/v2/app/manifests/{FALLBACK_TAG}"
    if body is None:
        adapter.register_uri("GET", url, status_code=404, json={"errors": [
            {"code": "MANIFEST_UNKNOWN", "message": "manifest unknown"}]})
    else:
        adapter.register_uri("GET", url, content=body, headers={"Content-Type": OCI_INDEX})


def calls(adapter: requests_mock.Adapter, method: str, fragment: str) -> list[Any]:
    return [r for r in adapter.request_history if r.method == method and fragment in r.url]


# -- listing through the API --------------------------------------------------------------
def test_referrers_from_the_api(env: tuple[Registry, requests_mock.Adapter]) -> None:
    reg, adapter = env
    stub_referrers(adapter, index(entry(1, SBOM, a="1"), entry(2, SIG)))
    found = reg.repository("app").manifests.referrers(SUBJECT)
    assert [(d.digest, d.artifact_type, d.size) for d in found] == [
        ("sha256:" + "1" * 64, SBOM, 501), ("sha256:" + "2" * 64, SIG, 502),
    ]
    assert found[0].annotations == {"a": "1"}
    [req] = adapter.request_history
    assert req.url == REFERRERS_URL
    assert OCI_INDEX in req.headers["Accept"]
    assert reg.requester.capabilities["referrers_api"] is True


def test_empty_index_means_no_referrers(env: tuple[Registry, requests_mock.Adapter]) -> None:
    reg, adapter = env
    stub_referrers(adapter, index())
    assert reg.repository("app").manifests.referrers(SUBJECT) == []
    assert not calls(adapter, "GET", "/manifests/")


def test_filter_applied_by_the_registry(env: tuple[Registry, requests_mock.Adapter]) -> None:
    reg, adapter = env
    stub_referrers(adapter, index(entry(1, SBOM)), **{"OCI-Filters-Applied": "artifactType"})
    found = reg.repository("app").manifests.referrers(SUBJECT, SBOM)
    assert [d.artifact_type for d in found] == [SBOM]
    [req] = adapter.request_history
    assert req.qs == {"artifacttype": [SBOM]}


def test_filter_not_applied_is_done_client_side(
    env: tuple[Registry, requests_mock.Adapter],
) -> None:
    reg, adapter = env
    stub_referrers(adapter, index(entry(1, SBOM), entry(2, SIG), entry(3, SBOM)))
    found = reg.repository("app").manifests.referrers(SUBJECT, SBOM)
    assert [d.digest[-1] for d in found] == ["1", "3"]


def test_referrers_pages_are_followed(env: tuple[Registry, requests_mock.Adapter]) -> None:
    reg, adapter = env
    adapter.register_uri("GET", REFERRERS_URL, content=index(entry(1, SBOM)), headers={
        "Content-Type": OCI_INDEX, "Link": f'<{REFERRERS_URL}?next=2>; rel="next"'})
    adapter.register_uri("GET", f"{REFERRERS_URL}?next=2", content=index(entry(2, SIG)),
                         headers={"Content-Type": OCI_INDEX})
    found = reg.repository("app").manifests.referrers(SUBJECT)
    assert [d.digest[-1] for d in found] == ["1", "2"]


def test_unknown_repository_is_not_mistaken_for_a_missing_api(
    env: tuple[Registry, requests_mock.Adapter],
) -> None:
    reg, adapter = env
    adapter.register_uri("GET", REFERRERS_URL, status_code=404, json={"errors": [
        {"code": "NAME_UNKNOWN", "message": "repository name not known to registry"}]})
    with pytest.raises(NotFoundError):
        reg.repository("app").manifests.referrers(SUBJECT)
    assert "referrers_api" not in reg.requester.capabilities
    assert not calls(adapter, "GET", "/manifests/")


@pytest.mark.parametrize("body", [b'{"schemaVersion": 2, "config": {}}', b"[]",
                                  b"<html>maintenance</html>", b'{"manifests":[{"digest":5}]}'])
def test_an_answer_that_is_no_index_is_an_error_naming_the_referrers_call(
    env: tuple[Registry, requests_mock.Adapter], body: bytes,
) -> None:
    """(it said "manifest is not valid JSON", naming no registry, repository or call)"""
    reg, adapter = env
    stub_referrers(adapter, body)
    with pytest.raises(RegistryResponseError,
                       match=f"referrers of {SUBJECT} in registry.example/app: "):
        reg.repository("app").manifests.referrers(SUBJECT)


# -- the referrers tag schema fallback ------------------------------------------------------
def test_404_falls_back_to_the_tag_once_per_registry(
    env: tuple[Registry, requests_mock.Adapter],
) -> None:
    reg, adapter = env
    stub_no_api(adapter)
    stub_fallback(adapter, index(entry(1, SBOM, k="v")))
    repo = reg.repository("app")
    first = repo.manifests.referrers(SUBJECT)
    assert [(d.artifact_type, d.annotations) for d in first] == [(SBOM, {"k": "v"})]
    assert reg.requester.capabilities["referrers_api"] is False
    # same registry, another repository object: no second 404 round trip
    again = reg.repository("app").manifests.referrers(SUBJECT, SIG)
    assert again == []
    assert len(calls(adapter, "GET", "/referrers/")) == 1
    assert len(calls(adapter, "GET", f"/manifests/{FALLBACK_TAG}")) == 2


@pytest.mark.parametrize("answer", [
    {"status_code": 406, "json": {"errors": [{"code": "UNSUPPORTED",
                                              "message": "Not Acceptable"}]}},  # Artifactory
    {"status_code": 400, "text": "bad request"},
    {"status_code": 405, "text": "method not allowed"},
    {"status_code": 200, "text": "<html>a catch-all page</html>",
     "headers": {"Content-Type": "text/html"}},
], ids=["406", "400", "405", "200-not-an-index"])
def test_other_answers_of_a_registry_without_the_api_fall_back_to_the_tag(
    env: tuple[Registry, requests_mock.Adapter], answer: dict[str, Any],
) -> None:
    """The spec has a registry without the referrers API answer 404; JFrog Artifactory
    answers 406, others 400 or 405, or a 200 that is no OCI index (crane falls back on
    404, 400, 406 and such a 200). They failed every referrers call -- and a whole
    ``copy(referrers=True)`` -- instead of reading the referrers tag schema."""
    reg, adapter = env
    adapter.register_uri("GET", re.compile(re.escape(REFERRERS_URL)), **answer)
    stub_fallback(adapter, index(entry(1, SBOM, k="v")))
    first = reg.repository("app").manifests.referrers(SUBJECT)
    assert [(d.artifact_type, d.annotations) for d in first] == [(SBOM, {"k": "v"})]
    assert reg.requester.capabilities["referrers_api"] is False
    assert reg.repository("app").manifests.referrers(SUBJECT, SIG) == []
    assert len(calls(adapter, "GET", "/referrers/")) == 1


def test_a_400_to_a_filter_is_asked_again_without_it(
    env: tuple[Registry, requests_mock.Adapter],
) -> None:
    """A registry with the API may refuse an ``artifactType`` filter with 400: that says
    nothing about the API. It switched the API off for the whole Registry (every later
    call read an empty list from the missing tag); the first page is asked again
    without the filter, which tells the two apart (one request more, only then)."""
    reg, adapter = env
    refused = {"errors": [{"code": "UNSUPPORTED", "message": "invalid artifactType"}]}
    adapter.register_uri("GET", REFERRERS_URL, content=index(entry(1, SBOM), entry(2, SIG)),
                         headers={"Content-Type": OCI_INDEX})
    adapter.register_uri("GET", re.compile(re.escape(REFERRERS_URL) + r"\?artifactType="),
                         status_code=400, json=refused)
    repo = reg.repository("app")
    assert [d.artifact_type for d in repo.manifests.referrers(SUBJECT, SIG)] == [SIG]
    assert reg.requester.capabilities["referrers_api"] is True
    assert len(calls(adapter, "GET", "/referrers/")) == 2
    # the same call again, the API known: the same answer (it raised from then on), and
    # the refused filter remembered: asked without it at once (it cost a 400 each time)
    assert [d.artifact_type for d in repo.manifests.referrers(SUBJECT, SIG)] == [SIG]
    assert len(calls(adapter, "GET", "/referrers/")) == 3
    assert "artifactType" not in calls(adapter, "GET", "/referrers/")[-1].url
    adapter.register_uri("GET", REFERRERS_URL, status_code=406, text="no")
    with pytest.raises(RegistryResponseError):
        repo.manifests.referrers(SUBJECT, SIG)
    assert reg.requester.capabilities["referrers_api"] is True
    # a 400 to the call asked without the filter is not asked again without it
    adapter.register_uri("GET", REFERRERS_URL, status_code=400, text="no")
    n = len(calls(adapter, "GET", "/referrers/"))
    with pytest.raises(RegistryResponseError):
        repo.manifests.referrers(SUBJECT, SIG)
    assert len(calls(adapter, "GET", "/referrers/")) == n + 1
    assert calls(adapter, "GET", f"/manifests/{FALLBACK_TAG}") == []


def test_a_400_to_every_request_falls_back_filtered_or_not(
    env: tuple[Registry, requests_mock.Adapter],
) -> None:
    """A registry without the API that answers 400: a filtered call is asked again
    without the filter, and the second 400 means no API."""
    reg, adapter = env
    adapter.register_uri("GET", re.compile(re.escape(REFERRERS_URL)), status_code=400,
                         text="bad request")
    stub_fallback(adapter, index(entry(1, SBOM), entry(2, SIG)))
    found = reg.repository("app").manifests.referrers(SUBJECT, SIG)
    assert [d.artifact_type for d in found] == [SIG]
    assert reg.requester.capabilities["referrers_api"] is False
    assert len(calls(adapter, "GET", "/referrers/")) == 2


@pytest.mark.parametrize("unknown_first", [False, True])
def test_a_404_for_a_subject_the_registry_does_not_hold_keeps_the_api(
    env: tuple[Registry, requests_mock.Adapter], unknown_first: bool,
) -> None:
    """Quay answers 404 MANIFEST_UNKNOWN for the referrers of a subject it does not
    hold: the API was switched off for the Registry (asked before or after an index was
    seen), and the referrers of every other subject read as none from then on. Such a
    404 is about the subject (Distribution without the API answers a bare "404 page not
    found"): that call reads the tag schema, nothing is remembered of it."""
    reg, adapter = env
    other = "sha256:" + "c" * 64
    adapter.register_uri("GET", REFERRERS_URL, content=index(entry(1, SBOM)),
                         headers={"Content-Type": OCI_INDEX})
    adapter.register_uri("GET", f"{BASE}/v2/app/referrers/{other}", status_code=404,
                         json={"errors": [{"code": "MANIFEST_UNKNOWN", "message": "unknown"}]})
    adapter.register_uri("GET", f"{BASE}/v2/app/manifests/sha256-{'c' * 64}", status_code=404,
                         json={"errors": [{"code": "MANIFEST_UNKNOWN", "message": "unknown"}]})
    repo = reg.repository("app")
    if unknown_first:
        assert repo.manifests.referrers(other) == []
        assert "referrers_api" not in reg.requester.capabilities
    assert len(repo.manifests.referrers(SUBJECT)) == 1
    assert repo.manifests.referrers(other) == []
    assert reg.requester.capabilities["referrers_api"] is True
    assert len(repo.manifests.referrers(SUBJECT)) == 1


def test_no_fallback_tag_means_no_referrers(env: tuple[Registry, requests_mock.Adapter]) -> None:
    reg, adapter = env
    stub_no_api(adapter)
    stub_fallback(adapter, None)
    assert reg.repository("app").manifests.referrers(SUBJECT) == []


NOT_AN_INDEX = pytest.mark.parametrize(("body", "media"), [
    (json.dumps({"schemaVersion": 2, "mediaType": OCI_MANIFEST, "config": {
        "mediaType": EMPTY, "digest": EMPTY_DIGEST, "size": 2}, "layers": []}).encode(),
     OCI_MANIFEST),
    (b'{"schemaVersion": 2, "mediaType": "' + OCI_INDEX.encode() + b'", "manifests": 7}',
     OCI_INDEX),
], ids=["an-image", "a-broken-index"])
"""What a referrers tag schema tag may hold instead of its OCI index."""


@NOT_AN_INDEX
def test_fallback_tag_holding_no_valid_index_means_no_referrers(
    env: tuple[Registry, requests_mock.Adapter], caplog: pytest.LogCaptureFixture,
    body: bytes, media: str,
) -> None:
    """dist-spec: without the API, a tag schema tag that is no valid index means the
    client SHOULD assume no referrers (oras-go reads it as an empty list); logged."""
    reg, adapter = env
    stub_no_api(adapter)
    adapter.register_uri("GET", f"{BASE}/v2/app/manifests/{FALLBACK_TAG}", content=body,
                         headers={"Content-Type": media})
    assert reg.repository("app").manifests.referrers(SUBJECT) == []
    assert FALLBACK_TAG in caplog.text


def test_fallback_entry_without_artifact_type_is_completed(
    env: tuple[Registry, requests_mock.Adapter],
) -> None:
    """go-containerregistry writes fallback entries without artifactType: read the manifest."""
    reg, adapter = env
    stub_no_api(adapter)
    artifact = json.dumps({
        "schemaVersion": 2, "mediaType": OCI_MANIFEST, "artifactType": SIG,
        "config": {"mediaType": EMPTY, "digest": EMPTY_DIGEST, "size": 2}, "layers": [],
        "annotations": {"signer": "me"},
    }).encode()
    digest = sha256(artifact)
    stub_fallback(adapter, index({"mediaType": OCI_MANIFEST, "digest": digest,
                                  "size": len(artifact)}))
    adapter.register_uri("GET", f"{BASE}/v2/app/manifests/{digest}", content=artifact,
                         headers={"Content-Type": OCI_MANIFEST})
    [found] = reg.repository("app").manifests.referrers(SUBJECT, SIG)
    assert (found.artifact_type, found.annotations) == (SIG, {"signer": "me"})


def test_fallback_entry_of_an_index_without_artifact_type_is_completed(
    env: tuple[Registry, requests_mock.Adapter],
) -> None:
    """An index may be a referrer too (its own subject and artifactType): the spec takes
    the entry's artifactType from the index, as from a manifest."""
    reg, adapter = env
    stub_no_api(adapter)
    artifact = json.dumps({
        "schemaVersion": 2, "mediaType": OCI_INDEX, "artifactType": SBOM, "manifests": [],
        "subject": {"mediaType": OCI_MANIFEST, "digest": SUBJECT, "size": 1234},
        "annotations": {"made-by": "buildx"},
    }).encode()
    digest = sha256(artifact)
    stub_fallback(adapter, index({"mediaType": OCI_INDEX, "digest": digest,
                                  "size": len(artifact)}))
    adapter.register_uri("GET", f"{BASE}/v2/app/manifests/{digest}", content=artifact,
                         headers={"Content-Type": OCI_INDEX})
    [found] = reg.repository("app").manifests.referrers(SUBJECT, SBOM)
    assert (found.artifact_type, found.annotations) == (SBOM, {"made-by": "buildx"})


def test_referrers_tag_schema_names() -> None:
    assert referrers_tag(SUBJECT) == FALLBACK_TAG
    long = "sha512:" + "ab" * 64
    assert referrers_tag(long) == "sha512-" + "ab" * 32


# -- attach ---------------------------------------------------------------------------------
_ATTACHED = (b"{}", b"sig", b"raw", b"x", b"same", b'{"spdxVersion": "SPDX-2.3"}')
"""The blobs the attach tests push (the registry stub has them, with their sizes)."""


def stub_push(adapter: requests_mock.Adapter, *, oci_subject: bool) -> None:
    adapter.register_uri(
        "HEAD", f"{BASE}/v2/app/manifests/1.0",
        headers={"Docker-Content-Digest": SUBJECT, "Content-Length": "1234",
                 "Content-Type": OCI_MANIFEST},
    )
    # every blob is already there: HEAD answers 200 with its size, nothing is uploaded
    sizes = {sha256(blob): len(blob) for blob in _ATTACHED}

    def head(request: Any, context: Any) -> bytes:
        context.headers["Content-Length"] = str(sizes.get(request.path.rsplit("/", 1)[1], 2))
        return b""

    adapter.register_uri("HEAD", re.compile(r".*/v2/app/blobs/sha256:[0-9a-f]{64}$"),
                         content=head)

    def put(request: Any, context: Any) -> str:
        context.status_code = 201
        context.headers["Docker-Content-Digest"] = sha256(request.body)
        if oci_subject:
            context.headers["OCI-Subject"] = SUBJECT
        return ""

    adapter.register_uri("PUT", re.compile(r".*/v2/app/manifests/.*"), text=put)


def pushed(adapter: requests_mock.Adapter, reference: str) -> dict[str, Any]:
    [req] = calls(adapter, "PUT", f"/manifests/{reference}")
    doc: dict[str, Any] = json.loads(req.body)
    return doc


def test_attach_on_a_registry_with_the_api(
    env: tuple[Registry, requests_mock.Adapter], tmp_path: Path,
) -> None:
    reg, adapter = env
    stub_push(adapter, oci_subject=True)
    sbom = tmp_path / "sbom.spdx.json"
    sbom.write_bytes(b'{"spdxVersion": "SPDX-2.3"}')
    desc = reg.repository("app").images.attach(
        "1.0", SBOM, [sbom, (b"sig", SIG), b"raw"], {"org.example/k": "v"},
    )
    doc = pushed(adapter, desc.digest)
    assert doc["artifactType"] == SBOM
    assert doc["config"] == {"mediaType": EMPTY, "digest": EMPTY_DIGEST, "size": 2}
    assert doc["subject"] == {"mediaType": OCI_MANIFEST, "digest": SUBJECT, "size": 1234}
    assert doc["annotations"] == {"org.example/k": "v"}
    assert [layer["mediaType"] for layer in doc["layers"]] == [
        "application/octet-stream", SIG, "application/octet-stream",
    ]
    assert doc["layers"][0]["annotations"] == {"org.opencontainers.image.title": "sbom.spdx.json"}
    assert doc["layers"][0]["digest"] == sha256(sbom.read_bytes())
    assert "annotations" not in doc["layers"][1]
    assert desc == Descriptor(media_type=OCI_MANIFEST, digest=desc.digest, size=desc.size,
                              artifact_type=SBOM, annotations={"org.example/k": "v"})
    # OCI-Subject came back: the registry indexes the subject, no fallback tag is touched
    assert not calls(adapter, "GET", FALLBACK_TAG)
    assert not calls(adapter, "PUT", FALLBACK_TAG)
    assert reg.requester.capabilities["referrers_api"] is True


def test_attach_without_oci_subject_writes_the_fallback_index(
    env: tuple[Registry, requests_mock.Adapter],
) -> None:
    reg, adapter = env
    stub_push(adapter, oci_subject=False)
    stub_fallback(adapter, None)
    desc = reg.repository("app").images.attach("1.0", SIG, [], {"who": "ci"})
    artifact = pushed(adapter, desc.digest)
    assert artifact["layers"] == [{"mediaType": EMPTY, "digest": EMPTY_DIGEST, "size": 2}]
    fallback = pushed(adapter, FALLBACK_TAG)
    assert fallback["mediaType"] == OCI_INDEX
    assert fallback["manifests"] == [{
        "mediaType": OCI_MANIFEST, "digest": desc.digest, "size": desc.size,
        "artifactType": SIG, "annotations": {"who": "ci"},
    }]
    [put] = calls(adapter, "PUT", FALLBACK_TAG)
    assert put.headers["Content-Type"] == OCI_INDEX


def test_attach_appends_to_an_existing_fallback_index(
    env: tuple[Registry, requests_mock.Adapter],
) -> None:
    reg, adapter = env
    stub_push(adapter, oci_subject=False)
    stub_fallback(adapter, index(entry(1, SBOM, keep="me")))
    desc = reg.repository("app").images.attach("1.0", SIG, [b"x"])
    fallback = pushed(adapter, FALLBACK_TAG)
    assert [m["digest"] for m in fallback["manifests"]] == ["sha256:" + "1" * 64, desc.digest]
    assert fallback["manifests"][0]["annotations"] == {"keep": "me"}
    assert fallback["manifests"][1]["artifactType"] == SIG


def test_attach_does_not_list_an_artifact_twice(
    env: tuple[Registry, requests_mock.Adapter],
) -> None:
    reg, adapter = env
    stub_push(adapter, oci_subject=False)
    stub_fallback(adapter, None)
    desc = reg.repository("app").images.attach("1.0", SIG, [b"same"])
    adapter.register_uri(
        "GET", f"{BASE}/v2/app/manifests/{FALLBACK_TAG}", headers={"Content-Type": OCI_INDEX},
        content=index({"mediaType": OCI_MANIFEST, "digest": desc.digest, "size": desc.size,
                       "artifactType": SIG}),
    )
    again = reg.repository("app").images.attach("1.0", SIG, [b"same"])
    assert again.digest == desc.digest
    assert len(calls(adapter, "PUT", FALLBACK_TAG)) == 1


def _many(n: int) -> list[dict[str, Any]]:
    return [{"mediaType": OCI_MANIFEST, "digest": f"sha256:{i:064x}", "size": 500,
             "artifactType": SIG} for i in range(n)]


def test_referrers_past_a_thousand_are_listed_and_kept(
    env: tuple[Registry, requests_mock.Adapter],
) -> None:
    """The 1,000-entry cap of an image index (a pull fetches its children) was applied
    to referrers, which are only listed: a referrers tag index of 1,001 read as none,
    and the next attach put an index of one entry over it -- 1,001 artifacts lost from
    the list. The API's pages are listed whole too."""
    reg, adapter = env
    stub_push(adapter, oci_subject=False)
    stub_no_api(adapter)
    stub_fallback(adapter, index(*_many(1001)))
    repo = reg.repository("app")
    assert len(repo.manifests.referrers(SUBJECT)) == 1001
    desc = repo.images.attach("1.0", SIG, [b"x"])
    fallback = pushed(adapter, FALLBACK_TAG)
    assert [m["digest"] for m in fallback["manifests"]] == [
        *(e["digest"] for e in _many(1001)), desc.digest]


def test_a_referrers_api_page_past_a_thousand_is_listed(
    env: tuple[Registry, requests_mock.Adapter],
) -> None:
    reg, adapter = env
    stub_referrers(adapter, index(*_many(1500)))
    assert len(reg.repository("app").manifests.referrers(SUBJECT)) == 1500


@NOT_AN_INDEX
def test_attach_leaves_a_fallback_tag_holding_no_index_and_says_so(
    env: tuple[Registry, requests_mock.Adapter], body: bytes, media: str,
) -> None:
    """dist-spec, "Pushing Manifests with Subject": a tag schema tag that holds something
    other than the expected image index -- the client SHOULD report a failure and skip
    the remaining steps. attach put a new index over it (an image someone tagged so was
    lost from its tag)."""
    reg, adapter = env
    stub_push(adapter, oci_subject=False)
    stub_no_api(adapter)
    adapter.register_uri("GET", f"{BASE}/v2/app/manifests/{FALLBACK_TAG}", content=body,
                         headers={"Content-Type": media})
    with pytest.raises(RegistryResponseError, match=FALLBACK_TAG) as refused:
        reg.repository("app").images.attach("1.0", SIG, [b"x"])
    assert "left as it is" in str(refused.value)
    assert not calls(adapter, "PUT", FALLBACK_TAG)
    artifact = [r for r in calls(adapter, "PUT", "/manifests/sha256:")]
    assert len(artifact) == 1  # the artifact itself was put


def test_entries_completed_from_their_manifests_are_at_most_a_thousand(
    env: tuple[Registry, requests_mock.Adapter], caplog: pytest.LogCaptureFixture,
) -> None:
    """Entries without artifactType (go-containerregistry writes them so) are completed
    from their manifests, one GET each: with no cap on a referrers index's entries, a
    hostile one of 20,000 such entries cost 20,000 requests. The first 1,000 are
    completed; the rest are listed as the index has them, and that is logged."""
    reg, adapter = env
    stub_no_api(adapter)
    bare = []
    for i in range(1003):
        artifact = json.dumps({
            "schemaVersion": 2, "mediaType": OCI_MANIFEST, "artifactType": SIG,
            "config": {"mediaType": EMPTY, "digest": EMPTY_DIGEST, "size": 2},
            "layers": [], "annotations": {"n": str(i)}}).encode()
        bare.append({"mediaType": OCI_MANIFEST, "digest": sha256(artifact),
                     "size": len(artifact)})
        adapter.register_uri("GET", f"{BASE}/v2/app/manifests/{sha256(artifact)}",
                             content=artifact, headers={"Content-Type": OCI_MANIFEST})
    stub_fallback(adapter, index(*bare))
    found = reg.repository("app").manifests.referrers(SUBJECT)
    assert len(found) == 1003
    assert [d.artifact_type for d in found[999:]] == [SIG, None, None, None]
    assert len(calls(adapter, "GET", "/manifests/sha256:")) == 1000
    assert "not completed" in caplog.text and "listed as the index has them" in caplog.text
    caplog.clear()  # with a filter, those are left out: the warning says so, not "listed"
    assert len(reg.repository("app").manifests.referrers(SUBJECT, artifact_type=SIG)) == 1000
    assert "left out of those of type" in caplog.text
