"""``map_elements``: any held learning credential → the Annex I elements; and ``search_text``.

Specs: Council Recommendation 2022/C 243/02 Annex I; ELM v3/EDC (VCDM 1.1 and 2.0); Open Badges 3.0;
CLR 2.0; SD-JWT VC learning credentials (EUDI); W3C VC-JWT (VCDM 1.1 §6.3.1: the VC sits in the
``vc`` claim). See the family modules for the property-level mapping.

Why "detect from the document": the wire ``format`` says how a credential is encoded, not what
vocabulary it uses (an SD-JWT VC may carry an OB 3.0 ``credentialSubject``; an ``ldp_vc`` may be
ELM or OB). So the family is decided by the document's own types, context and property names.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from itertools import islice
from typing import Any

from wallet.formats.traits import ANNEX_I_FORMATS
from wallet.microcred.common import is_vc2
from wallet.microcred.elm import is_elm, map_elm
from wallet.microcred.errors import NotACredentialObject, UnknownCredentialFormat
from wallet.microcred.model import Element, Elements
from wallet.microcred.ob3 import is_clr, is_ob3, map_clr, map_ob3
from wallet.microcred.sdjwt import looks_like_sdjwt_lc, map_sdjwt
from wallet.microcred.values import MAX_STR, Node, iter_strings

__all__ = [
    "FORMATS",
    "detect_family",
    "map_elements",
    "search_text",
    "unwrap",
]

#: The formats with an Annex I mapping (their ``annex_i`` trait).
FORMATS = ANNEX_I_FORMATS

#: Upper bound of the text handed to the search index, in characters.
MAX_SEARCH_TEXT = 64 * 1024


def unwrap(document: Any, format: str) -> tuple[Node, Node | None]:
    """The VC document as a :class:`Node` (``vc.`` paths in a JWT payload), and the payload."""
    if not isinstance(document, Mapping):
        raise NotACredentialObject("the credential document must be a JSON object")
    if format not in FORMATS:
        raise UnknownCredentialFormat("unknown credential format")
    root = Node(document, "")
    if format == "jwt_vc_json":
        vc = root.get("vc")
        if vc is not None and isinstance(vc.value, Mapping):
            return vc, root
    return root, None


def detect_family(doc: Node, format: str) -> str:
    if is_clr(doc):
        return "clr2"
    if is_elm(doc):
        return "elm-2.0" if is_vc2(doc) else "elm-1.1"
    if is_ob3(doc):
        return "ob3"
    if looks_like_sdjwt_lc(doc):
        return "sd-jwt-lc"
    if doc.get("credentialSubject") is not None:
        return "vc"  # some other W3C VC: read the generic VC properties only
    return "unknown"


def map_elements(document: Mapping[str, Any], *, format: str,
                 languages: Sequence[str] = ("en",)) -> Elements:
    """Map one credential (as JSON) to the 16 Annex I elements.

    ``document``: the VC document (JAdES-wrapped EDC: the parsed inner payload; VC-JWT: the ``vc``
    claim or the whole payload), or the disclosed claims of an SD-JWT VC. Raises only
    :class:`~wallet.microcred.errors.NotACredentialObject` (a ``BadInput``) for a non-object and
    ``BadInput`` for an unknown ``format``.
    """
    doc, outer = unwrap(document, format)
    if isinstance(languages, str):
        languages = (languages,)
    langs = tuple(x for x in languages if isinstance(x, str))[:16] or ("en",)
    family = detect_family(doc, format)
    found: dict[str, Element]
    try:
        if family.startswith("elm"):
            found = map_elm(doc, langs)
        elif family == "clr2":
            found = map_clr(doc, langs, outer)
        elif family in ("ob3", "vc"):
            found = map_ob3(doc, langs, outer)
        elif family == "sd-jwt-lc":
            found = map_sdjwt(doc, langs)
        else:
            found = map_sdjwt(doc, langs)  # generic: dates/titles under their JWT names, if any
    except RecursionError:  # pragma: no cover - depth is capped; this is a last line of defence
        found = {}
    return Elements.build(found, family)


def search_text(elements: Elements, document: Mapping[str, Any] | None = None) -> str:
    """What ``GET /v1/credentials?q=`` matches: title, outcomes, ESCO skill labels and URIs.

    Also the awarding body, assessment/participation labels and the further information, then
    (when the document is given) every ``title``/``name``/``prefLabel`` string inside it, so a
    search for a skill or course named anywhere in the credential finds it. Lower-cased, bounded.
    """
    parts: list[str] = []

    def add(s: Any) -> None:
        if isinstance(s, str) and s:
            parts.append(s[:MAX_STR])

    add(elements["title"].value)
    for lo in elements["learning_outcomes"].value or []:
        add(lo.get("title"))
        add(lo.get("id"))
        for sk in lo.get("skills", []):
            add(sk.get("label"))
            add(sk.get("uri"))
    for ab in elements["awarding_body"].value or []:
        add(ab.get("name"))
    for key in ("assessment_type", "participation_form", "supervision"):
        v = elements[key].value
        if isinstance(v, dict):
            add(v.get("label"))
    for fi in elements["further_information"].value or []:
        add(fi.get("text"))
    if isinstance(document, Mapping):
        parts.extend(_labels(document))
    uniq = list(dict.fromkeys(parts))
    return "\n".join(uniq).lower()[:MAX_SEARCH_TEXT]


_LABEL_KEYS = frozenset({"title", "name", "prefLabel", "targetName", "achievement_title",
                         "learning_outcomes", "relatedESCOSkill", "targetUrl"})


def _labels(document: Mapping[str, Any]) -> list[str]:
    """Strings under label-like keys anywhere in the document (depth/count capped)."""
    out: list[str] = []
    stack: list[tuple[Any, int]] = [(document, 0)]
    budget = 20000
    while stack and budget > 0 and len(out) < 2000:
        v, d = stack.pop()
        budget -= 1
        if isinstance(v, Mapping) and d < 24:
            for k, x in islice(v.items(), 256):
                if k in _LABEL_KEYS:
                    out.extend(iter_strings(x, 64, 6))
                    if k == "relatedESCOSkill":
                        continue
                if isinstance(x, Mapping | list):
                    stack.append((x, d + 1))
        elif isinstance(v, list) and d < 24:
            stack.extend((x, d + 1) for x in v[:256] if isinstance(x, Mapping | list))
    return [s for s in out if not s.startswith("data:")]
