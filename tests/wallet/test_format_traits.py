"""The one table of credential-format traits (wallet.formats.traits) and what is derived from it.

A new member of ``CredentialFormat`` without a row, or with a row that leaves it with no way to
be presented, fails here: CONTRIBUTING.md "Adding a credential format" starts at that row.
"""

from __future__ import annotations

import dataclasses
import json
from typing import get_args

import pytest

from wallet.formats.model import PDF_FORMAT, CredentialFormat, StoredFormat
from wallet.formats.traits import (
    ANNEX_I_FORMATS,
    PRESENTABLE_FORMATS,
    SD_JWT_FORMATS,
    STORED_FORMATS,
    TRAITS,
    VP_FORMATS_SUPPORTED,
    W3C_FORMATS,
    WIRE_FORMATS,
    Family,
    FormatTraits,
    Presentation,
    traits_of,
)


def test_every_stored_format_has_exactly_one_row() -> None:
    assert set(TRAITS) == set(get_args(StoredFormat)) == set(STORED_FORMATS)
    assert set(WIRE_FORMATS) == set(get_args(CredentialFormat)) == set(STORED_FORMATS) - {"pdf"}
    assert PDF_FORMAT == "pdf" and PDF_FORMAT in TRAITS
    for fmt, row in TRAITS.items():
        assert isinstance(row, FormatTraits), fmt
        assert row.family in get_args(Family), fmt
        assert row.openid4vp is None or row.openid4vp in get_args(Presentation), fmt
    # no field has a default: a new row cannot leave one out and still construct
    assert all(f.default is dataclasses.MISSING for f in dataclasses.fields(FormatTraits))


@pytest.mark.parametrize("fmt", get_args(CredentialFormat))
def test_every_wire_format_can_be_presented_and_shared(fmt: CredentialFormat) -> None:
    row = TRAITS[fmt]
    assert row.openid4vp is not None, f"{fmt}: no OpenID4VP presentation (openid4vp=None)"
    assert row.family != "document", f"{fmt}: a wire format is presented, not served as a file"
    assert row.share_link in ("selective", "whole")
    # a presentation builder exists for what the row names
    assert (row.openid4vp == "sd_jwt") == row.selective
    if not row.selective:  # goes out whole, inside a VP: the VP must know how to embed it
        assert row.embedded is not None, f"{fmt}: a whole credential needs its VP embedding"
    # announced to verifiers (vp_formats_supported), unless a legacy spelling of an announced one
    if row.legacy_typ:
        assert row.vp_formats_supported is None
        assert any(o.family == row.family and o.vp_formats_supported is not None
                   for o in TRAITS.values()), f"{fmt}: legacy of nothing announced"
    else:
        assert row.vp_formats_supported is not None, f"{fmt}: not in vp_formats_supported"
    assert row.annex_i, f"{fmt}: no Annex I mapping (wallet.microcred)"


def test_the_pdf_row_is_a_document_shared_by_link_only() -> None:
    row = TRAITS[PDF_FORMAT]
    assert (row.family, row.share_link, row.openid4vp, row.selective) == (
        "document", "document", None, False)
    assert PDF_FORMAT not in PRESENTABLE_FORMATS | ANNEX_I_FORMATS | set(VP_FORMATS_SUPPORTED)


def test_the_derived_sets_are_those_the_consumers_spelt_out_before() -> None:
    """The literals each consumer held before the table (review finding 1), so deriving them
    changed nothing a verifier receives."""
    assert SD_JWT_FORMATS == {"dc+sd-jwt", "vc+sd-jwt"}
    assert W3C_FORMATS == {"jwt_vc_json", "ldp_vc"}
    assert PRESENTABLE_FORMATS == {"dc+sd-jwt", "vc+sd-jwt", "jwt_vc_json", "ldp_vc"}
    assert ANNEX_I_FORMATS == {"dc+sd-jwt", "vc+sd-jwt", "jwt_vc_json", "ldp_vc"}
    assert WIRE_FORMATS == ("dc+sd-jwt", "vc+sd-jwt", "jwt_vc_json", "ldp_vc")
    assert [f for f, t in TRAITS.items() if t.legacy_typ] == ["vc+sd-jwt"]
    assert [f for f, t in TRAITS.items() if t.embedded == "compact"] == ["jwt_vc_json"]


def test_the_wallet_metadata_announces_what_it_did_before() -> None:
    from sharing.present import DEFAULT_WALLET_METADATA
    before = {
        "dc+sd-jwt": {"sd-jwt_alg_values": ["ES256", "ES384", "EdDSA"],
                      "kb-jwt_alg_values": ["ES256", "EdDSA"]},
        "jwt_vc_json": {"alg_values": ["ES256", "EdDSA"]},
        "ldp_vc": {"proof_type_values": ["DataIntegrityProof"],
                   "cryptosuite_values": ["eddsa-rdfc-2022"]},
    }
    sent = json.loads(json.dumps(DEFAULT_WALLET_METADATA))  # sent as JSON: it must serialise
    assert sent["vp_formats_supported"] == before
    assert list(sent["vp_formats_supported"]) == list(before)  # and in the same order


def test_the_consumers_read_the_table() -> None:
    from holder_api.web.views import credentials as web_credentials
    from sharing.dcql import SD_JWT_FORMATS as DCQL_SD_JWT
    from sharing.dcql import W3C_FORMATS as DCQL_W3C
    from sharing.oid4vp.request import PRESENTABLE_FORMATS as REQUESTABLE
    from wallet.microcred import FORMATS as MAPPED
    assert DCQL_SD_JWT is SD_JWT_FORMATS and DCQL_W3C is W3C_FORMATS
    assert REQUESTABLE is PRESENTABLE_FORMATS and MAPPED is ANNEX_I_FORMATS
    assert web_credentials._FORMATS == WIRE_FORMATS  # the list page's format filter


def test_traits_of_an_unknown_spelling_is_none() -> None:
    assert traits_of("ldp_vc") is TRAITS["ldp_vc"]
    for other in ("jwt_vc", "LDP_VC", "", None, 3, ["ldp_vc"]):
        assert traits_of(other) is None
