"""What each stored credential format can do: one row per format, read by every consumer.

The presenting, sharing, matching and mapping code branches on these traits instead of spelling
out sets of format names, so a new format is one row here (plus its checker and, if it is
presented some new way, that builder): CONTRIBUTING.md "Adding a credential format".
``tests/wallet/test_format_traits.py`` fails when a member of :data:`StoredFormat` has no row,
or a wire format has no way to be presented.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any, Literal, assert_never, cast, get_args

from wallet.formats.jsonld.data_integrity import CRYPTOSUITE
from wallet.formats.model import PDF_FORMAT, CredentialFormat, StoredFormat

__all__ = [
    "ANNEX_I_FORMATS",
    "PRESENTABLE_FORMATS",
    "SD_JWT_FORMATS",
    "STORED_FORMATS",
    "TRAITS",
    "VP_FORMATS_SUPPORTED",
    "W3C_FORMATS",
    "WIRE_FORMATS",
    "Checker",
    "Family",
    "FormatTraits",
    "Presentation",
    "traits_of",
    "wire_format",
]

#: ``sd_jwt``: claims are Disclosures the learner may withhold (DCQL ``meta.vct_values``);
#: ``w3c``: a W3C VC, presented and shared whole (DCQL ``meta.type_values``; status entries in
#: its claims); ``document``: a file shared by link as it came, never in a presentation.
Family = Literal["sd_jwt", "w3c", "document"]
#: How an OpenID4VP answer carries it: an SD-JWT with a KB-JWT, a JWT VP (VCDM 1.1 §6.3.1),
#: a Data Integrity VP.
Presentation = Literal["sd_jwt", "jwt_vp", "ldp_vp"]
#: Which checker verifies its proof: wallet.formats.sd_jwt_vc, wallet.formats.vc_jwt,
#: wallet.formats.jsonld (Data Integrity or JAdES), wallet.pdf_intake (pyHanko). Every dispatch
#: on it ends in ``assert_never``: a new checker is a branch mypy asks for in each.
Checker = Literal["sd_jwt_vc", "vc_jwt", "jsonld", "pdf"]


@dataclass(frozen=True, slots=True)
class FormatTraits:
    """One format's row. Every field is required: a new format states each of them."""

    family: Family
    #: which checker verifies it (wallet.intake, sharing.whole_credentials dispatch on it)
    checker: Checker
    #: how OpenID4VP presents it; None: it cannot be presented (a share link still can)
    openid4vp: Presentation | None
    #: how a VP embeds it whole: the issued compact string, or the JSON object of its text
    embedded: Literal["compact", "json"] | None
    #: its ``vp_formats_supported`` entry in the wallet metadata (OpenID4VP 1.0 §10, Appendix
    #: B); None: not announced (a legacy spelling presented when asked for, or not presentable)
    vp_formats_supported: Mapping[str, Any] | None
    #: has an Annex I mapping (wallet.microcred)
    annex_i: bool
    #: a legacy spelling of another format (``vc+sd-jwt``: the ``typ`` of earlier SD-JWT VC drafts)
    legacy_typ: bool

    @property
    def selective(self) -> bool:
        """The learner may withhold claims of it (share links, presentations, printouts)."""
        return self.family == "sd_jwt"

    @property
    def share_link(self) -> Literal["selective", "whole", "document"]:
        """What a share link to it carries: chosen claims, the whole credential, the file."""
        if self.family == "sd_jwt":
            return "selective"
        if self.family == "w3c":
            return "whole"
        if self.family == "document":
            return "document"
        assert_never(self.family)  # a new family decides here what its links carry


#: One row per :data:`StoredFormat`, in the order lists show them.
TRAITS: Mapping[StoredFormat, FormatTraits] = MappingProxyType({
    "dc+sd-jwt": FormatTraits(
        family="sd_jwt", checker="sd_jwt_vc", openid4vp="sd_jwt", embedded=None,
        vp_formats_supported={"sd-jwt_alg_values": ["ES256", "ES384", "EdDSA"],
                              "kb-jwt_alg_values": ["ES256", "EdDSA"]},
        annex_i=True, legacy_typ=False),
    "vc+sd-jwt": FormatTraits(
        family="sd_jwt", checker="sd_jwt_vc", openid4vp="sd_jwt", embedded=None, vp_formats_supported=None,
        annex_i=True, legacy_typ=True),
    "jwt_vc_json": FormatTraits(
        family="w3c", checker="vc_jwt", openid4vp="jwt_vp", embedded="compact",
        vp_formats_supported={"alg_values": ["ES256", "EdDSA"]},
        annex_i=True, legacy_typ=False),
    # OpenID4VP 1.0 B.1.3.2.3: the proof type and the cryptosuites of our VP proofs
    "ldp_vc": FormatTraits(
        family="w3c", checker="jsonld", openid4vp="ldp_vp", embedded="json",
        vp_formats_supported={"proof_type_values": ["DataIntegrityProof"],
                              "cryptosuite_values": [CRYPTOSUITE]},
        annex_i=True, legacy_typ=False),
    PDF_FORMAT: FormatTraits(
        family="document", checker="pdf", openid4vp=None, embedded=None, vp_formats_supported=None,
        annex_i=False, legacy_typ=False),
})

#: Every stored spelling, and the wire names among them (OpenID4VCI/VP), in declaration order.
STORED_FORMATS: tuple[StoredFormat, ...] = get_args(StoredFormat)
WIRE_FORMATS: tuple[CredentialFormat, ...] = get_args(CredentialFormat)
SD_JWT_FORMATS = frozenset(f for f, t in TRAITS.items() if t.family == "sd_jwt")
W3C_FORMATS = frozenset(f for f, t in TRAITS.items() if t.family == "w3c")
PRESENTABLE_FORMATS = frozenset(f for f, t in TRAITS.items() if t.openid4vp is not None)
ANNEX_I_FORMATS = frozenset(f for f, t in TRAITS.items() if t.annex_i)
#: The wallet metadata's ``vp_formats_supported`` (sharing.present.DEFAULT_WALLET_METADATA).
#: Plain JSON (dicts and lists): it is sent as is.
VP_FORMATS_SUPPORTED: Mapping[str, Mapping[str, Any]] = {
    f: t.vp_formats_supported for f, t in TRAITS.items() if t.vp_formats_supported is not None}


def wire_format(name: object) -> CredentialFormat | None:
    """``name`` as the wire format (OpenID4VCI/VP) it spells, or None: a spelling with no row
    here (``mso_mdoc``, a newer format), or ``pdf``, which no protocol carries."""
    return next((f for f in WIRE_FORMATS if f == name), None)


def traits_of(fmt: object) -> FormatTraits | None:
    """The row of a format read from a record or a request, or None for a spelling Satchel
    does not store (a newer version's record, a verifier's query)."""
    # looked up by any string: a spelling outside StoredFormat simply finds no row
    return cast(Mapping[str, FormatTraits], TRAITS).get(fmt) if isinstance(fmt, str) else None
