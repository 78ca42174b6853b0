"""Parse docker-style image references exactly as docker does (no network).

    python examples/parse_references.py golang:1.12.0 localhost:5000/app@sha256:...
"""

import sys

from registry_client import InvalidReferenceError, parse_image_name

for text in sys.argv[1:] or ["golang:1.12.0", "ghcr.io/org/app:v1", "Invalid/Name"]:
    try:
        ref = parse_image_name(text)
    except InvalidReferenceError as exc:
        print(f"{text!r}: {exc}")
        continue
    domain, path, tag, digest = ref
    print(f"{text!r}: domain={domain} path={path} tag={tag} digest={digest} "
          f"familiar={ref.familiar_name}")
