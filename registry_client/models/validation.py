"""What ``images.validate`` found: :class:`ValidationReport` and its :class:`Problem` entries."""

from __future__ import annotations

import attrs

__all__ = ["Problem", "ValidationReport"]


@attrs.frozen
class Problem:
    """One thing wrong with an image.

    ``manifest`` is the digest of the image manifest it was found under, ``digest``
    the blob (or manifest) that is wrong (None when the manifest itself is), and
    ``message`` says what is wrong, in words.
    """

    manifest: str
    digest: str | None
    message: str

    def __str__(self) -> str:
        where = f"{self.digest} (in {self.manifest})" if self.digest else self.manifest
        return f"{where}: {self.message}"


@attrs.frozen
class ValidationReport:
    """The result of validating an image: ``ok`` when nothing is wrong, else ``problems``.

    ``reference`` is what was validated, ``digest`` its manifest digest (an index's
    when it is one), ``manifests`` the image manifests checked and ``blobs`` the
    number of blobs read (configs and layers).
    """

    reference: str
    digest: str
    manifests: tuple[str, ...] = ()
    blobs: int = 0
    problems: tuple[Problem, ...] = ()

    @property
    def ok(self) -> bool:
        """True when no problem was found."""
        return not self.problems

    def to_dict(self) -> dict[str, object]:
        """The report as a JSON-ready dict."""
        return {
            "reference": self.reference, "digest": self.digest, "ok": self.ok,
            "manifests": list(self.manifests), "blobs": self.blobs,
            "problems": [{"manifest": p.manifest, "digest": p.digest, "message": p.message}
                         for p in self.problems],
        }
