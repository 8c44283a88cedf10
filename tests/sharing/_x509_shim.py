"""TEST SHIM — stands in for ``wallet.x509.validate_chain`` (written on another branch) so the
request-object tests can run before it lands. It has the same signature and uses cryptography's
own path validator (``cryptography.x509.verification``), never a hand-rolled walk. Delete it once
``wallet.x509`` is merged and pass nothing (the default) instead."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from cryptography import x509
from cryptography.x509.verification import (
    ExtensionPolicy,
    PolicyBuilder,
    Store,
    VerificationError,
)

from wallet.errors import VerificationFailed


def shim_validate_chain(chain_der: Sequence[bytes], anchors: Sequence[x509.Certificate], *,
                        at: datetime) -> x509.Certificate:
    certs = [x509.load_der_x509_certificate(d) for d in chain_der]
    # trustme marks the SAN critical next to a non-empty subject, which the Web PKI profile
    # refuses; the leaf's extensions are not what these tests are about.
    verifier = (PolicyBuilder().store(Store(list(anchors))).time(at)
                .extension_policies(ca_policy=ExtensionPolicy.webpki_defaults_ca(),
                                    ee_policy=ExtensionPolicy.permit_all())
                .build_client_verifier())
    try:
        verifier.verify(certs[0], certs[1:])
    except VerificationError as exc:
        raise VerificationFailed("certificate chain does not validate") from exc
    return certs[0]
