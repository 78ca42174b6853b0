"""JWT signing for the test token server (ES256 with an ``x5c`` certificate chain).

Distribution 2.8 (``registry/auth/token``) looks for the signing key in the JWS header in
this order: ``x5c`` (certificate chain, *standard* base64 DER, verified against the
``rootcertbundle`` with ``x509.Verify``), then ``jwk``, then ``kid`` (a libtrust
fingerprint of a key in the bundle).  We send ``x5c`` = [leaf] where the leaf is signed by
a throw-away root CA whose PEM is the registry's ``rootcertbundle``.  ECDSA signatures
are the raw JWS form ``r || s`` (not DER).  ``cryptography`` is imported lazily.
"""

from __future__ import annotations

import base64
import datetime
import json
from typing import TYPE_CHECKING, Any

from ._util import b64url

if TYPE_CHECKING:
    from cryptography.hazmat.primitives.asymmetric.ec import EllipticCurvePrivateKey


class TokenSigner:
    """A throw-away root CA plus a leaf key/certificate that signs ES256 JWTs."""

    algorithm = "ES256"

    def __init__(self, common_name: str = "registry_client.testing") -> None:
        try:
            from cryptography import x509
            from cryptography.hazmat.primitives import hashes, serialization
            from cryptography.hazmat.primitives.asymmetric import ec
            from cryptography.x509.oid import NameOID
        except ImportError as exc:  # pragma: no cover - depends on the environment
            raise RuntimeError(
                "token auth needs the 'cryptography' package "
                "(pip install 'registry-client[testing]')"
            ) from exc

        now = datetime.datetime.now(datetime.timezone.utc)
        not_before = now - datetime.timedelta(days=1)
        not_after = now + datetime.timedelta(days=30)

        root_key = ec.generate_private_key(ec.SECP256R1())
        root_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, f"{common_name} root")])
        root_cert = (
            x509.CertificateBuilder()
            .subject_name(root_name)
            .issuer_name(root_name)
            .public_key(root_key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(not_before)
            .not_valid_after(not_after)
            .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
            .add_extension(
                x509.KeyUsage(
                    digital_signature=True,
                    content_commitment=False,
                    key_encipherment=False,
                    data_encipherment=False,
                    key_agreement=False,
                    key_cert_sign=True,
                    crl_sign=True,
                    encipher_only=False,
                    decipher_only=False,
                ),
                critical=True,
            )
            .add_extension(
                x509.SubjectKeyIdentifier.from_public_key(root_key.public_key()), critical=False
            )
            .sign(root_key, hashes.SHA256())
        )

        leaf_key = ec.generate_private_key(ec.SECP256R1())
        leaf_cert = (
            x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)]))
            .issuer_name(root_name)
            .public_key(leaf_key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(not_before)
            .not_valid_after(not_after)
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(
                x509.AuthorityKeyIdentifier.from_issuer_public_key(root_key.public_key()),
                critical=False,
            )
            .sign(root_key, hashes.SHA256())
        )

        self._key: EllipticCurvePrivateKey = leaf_key
        self.root_pem: bytes = root_cert.public_bytes(serialization.Encoding.PEM)
        """PEM of the root CA certificate (the registry's ``rootcertbundle``)."""
        self.x5c: list[str] = [
            base64.b64encode(leaf_cert.public_bytes(serialization.Encoding.DER)).decode("ascii")
        ]
        """The ``x5c`` header value: standard (not urlsafe) base64 DER, leaf first."""

    def sign(self, claims: dict[str, Any]) -> str:
        """Return the compact JWS of ``claims`` signed with the leaf key."""
        from cryptography.hazmat.primitives import hashes
        from cryptography.hazmat.primitives.asymmetric import ec
        from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature

        header = {"typ": "JWT", "alg": self.algorithm, "x5c": self.x5c}
        signing_input = (
            b64url(json.dumps(header, separators=(",", ":")).encode())
            + "."
            + b64url(json.dumps(claims, separators=(",", ":")).encode())
        )
        der = self._key.sign(signing_input.encode("ascii"), ec.ECDSA(hashes.SHA256()))
        r, s = decode_dss_signature(der)
        signature = r.to_bytes(32, "big") + s.to_bytes(32, "big")
        return signing_input + "." + b64url(signature)
