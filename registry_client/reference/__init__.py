"""Parse image references the way docker does (``golang:1.12.0`` -> ``docker.io/library/golang``).

The grammar and the normalisation follow github.com/distribution/reference
(``regexp.go``, ``normalize.go`` ``ParseNormalizedNamed``, ``reference.go`` ``Parse``) and
github.com/opencontainers/go-digest ``Parse``::

    reference        := name [ ":" tag ] [ "@" digest ]
    name             := [domain "/"] remote-name
    domain           := host [":" port-number]
    host             := domain-name | "[" IPv6address "]"
    domain-name      := domain-component ["." domain-component]*
    domain-component := /([a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])/
    remote-name      := path-component ["/" path-component]*
    path-component   := alpha-numeric [separator alpha-numeric]*
    alpha-numeric    := /[a-z0-9]+/
    separator        := /[_.]|__|[-]+/
    tag              := /[\\w][\\w.-]{0,127}/
    digest           := algorithm ":" /[0-9a-fA-F]{32,}/
                        (sha256: 64, sha384: 96, sha512: 128 lowercase hex)
    algorithm        := /[A-Za-z][A-Za-z0-9]*/ [/[-_+.]/ /[A-Za-z][A-Za-z0-9]*/]*

This module is the one owner of that grammar: every other module asks it whether a
tag, a digest or a repository name is valid (``is_valid_*``, ``check_*``), and
builds token scopes with :func:`scope`. A digest inside a document (a descriptor)
follows the wider OCI grammar (:func:`is_valid_digest`): any registered or
unregistered algorithm, of which sha256, sha384 and sha512 can be verified.
"""

from __future__ import annotations

from ._checks import (
    check_digest as check_digest,
)
from ._checks import (
    check_reference as check_reference,
)
from ._checks import (
    check_repository_name as check_repository_name,
)
from ._checks import (
    check_tag as check_tag,
)
from ._checks import (
    familiar_path as familiar_path,
)
from ._checks import (
    is_digest as is_digest,
)
from ._checks import (
    one_named as one_named,
)
from ._checks import (
    path_and_tag as path_and_tag,
)
from ._checks import (
    pinned_name as pinned_name,
)
from ._grammar import (
    CATALOG_SCOPE as CATALOG_SCOPE,
)
from ._grammar import (
    DEFAULT_DOMAIN as DEFAULT_DOMAIN,
)
from ._grammar import (
    DIGEST_RULE as DIGEST_RULE,
)
from ._grammar import (
    DOCKER_HUB_API_HOST as DOCKER_HUB_API_HOST,
)
from ._grammar import (
    DOCKER_HUB_HOSTS as DOCKER_HUB_HOSTS,
)
from ._grammar import (
    LEGACY_DEFAULT_DOMAIN as LEGACY_DEFAULT_DOMAIN,
)
from ._grammar import (
    TAG_RULE as TAG_RULE,
)
from ._grammar import (
    canonical_domain as canonical_domain,
)
from ._grammar import (
    hub_repository as hub_repository,
)
from ._grammar import (
    is_docker_hub as is_docker_hub,
)
from ._grammar import (
    is_referrers_tag as is_referrers_tag,
)
from ._grammar import (
    is_valid_digest as is_valid_digest,
)
from ._grammar import (
    is_valid_domain as is_valid_domain,
)
from ._grammar import (
    is_valid_repository_name as is_valid_repository_name,
)
from ._grammar import (
    is_valid_tag as is_valid_tag,
)
from ._grammar import (
    is_verifiable_digest as is_verifiable_digest,
)
from ._grammar import (
    reads_as_a_digest as reads_as_a_digest,
)
from ._grammar import (
    referrers_tag as referrers_tag,
)
from ._grammar import (
    require_verifiable as require_verifiable,
)
from ._grammar import (
    scope as scope,
)
from ._parse import ImageReference, parse_image_name
from ._parse import names_a_domain as names_a_domain

__all__ = ["DEFAULT_DOMAIN", "ImageReference", "parse_image_name"]
# The other names above are the rest of the package's: the checks and predicates
# every module asks (``X as X``: re-exported on purpose).
