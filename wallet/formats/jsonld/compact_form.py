"""The JSON a reader sees must be exactly what a Data Integrity proof covers: compact form.

Specs: JSON-LD 1.1 API §4.1 (Compaction) and §5.1 (Expansion); vc-data-integrity §2.4 and
§4.2 (a proof covers the *RDF* of a document — its canonical N-Quads — not its JSON).

Why: Satchel reads what it shows of a credential (title, dates, issuer, status, Annex I fields)
from JSON keys, but ``eddsa-rdfc-2022`` signs the N-Quads. Many JSON spellings give the same
N-Quads: a key written as its full IRI (``…/credentials#validUntil``) hides the field from a
reader; a term aliased to ``@index`` or ``@nest`` by an inline context carries any text at all
and no RDF; a full-IRI ``type`` escapes a protected type-scoped context. So a proof may be
``valid`` only when the document is in the compact form its own ``@context`` produces:
``compact(expand(doc), doc["@context"])`` must equal ``doc``. Contexts must be bundled URLs
(inline context objects are refused outright — they are the only way a document could define
terms itself, and they are also what made compaction expensive: a property-scoped context of
thousands of terms). Only the differences JSON-LD compaction legitimately makes to real 1EdTech
credentials are forgiven, each named in :func:`_same` and guarded where it could hide anything.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from functools import cache
from typing import Any

from wallet.formats.jsonld.canon import (
    CanonicalizationBudgetExceeded,
    CanonLimits,
    canonicalize,
    compact_with_own_context,
    expand_alone,
)
from wallet.formats.jsonld.errors import InlineContext, NotCompactForm
from wallet.formats.jsonld.loader import BUNDLED_CONTEXTS, bundled_context
from wallet.formats.jsonld.rdf_terms import is_absolute_iri

__all__ = [
    "InlineContext",
    "NotCompactForm",
    "bundled_term_iris",
    "refuse_inline_contexts",
    "require_compact_form",
]


def _context_urls(value: Any) -> None:
    items = value if isinstance(value, list) else [value]
    if not items or not all(isinstance(u, str) for u in items):
        raise InlineContext("a JSON-LD @context must be bundled context URLs, not inline "
                            "definitions")


@cache
def bundled_term_iris() -> dict[str, frozenset[str]]:
    """Every term any bundled context defines (top level or scoped) → the IRIs it may mean."""
    found: dict[str, set[str]] = {}
    for url in BUNDLED_CONTEXTS:
        stack: list[Any] = [bundled_context(url)]
        while stack:
            ctx = stack.pop()
            if isinstance(ctx, list):
                stack.extend(ctx)
                continue
            if not isinstance(ctx, dict):
                continue
            if "@context" in ctx:
                stack.append(ctx["@context"])
            prefixes = {k: v for k, v in ctx.items() if isinstance(v, str)}
            for term, definition in ctx.items():
                iri = definition.get("@id") if isinstance(definition, dict) else definition
                if isinstance(definition, dict) and "@context" in definition:
                    stack.append(definition["@context"])
                if not isinstance(iri, str) or term.startswith("@"):
                    continue
                prefix, _, rest = iri.partition(":")
                if prefix in prefixes and not rest.startswith("//"):
                    iri = prefixes[prefix] + rest
                found.setdefault(term, set()).add(iri)
    return {k: frozenset(v) for k, v in found.items()}


@cache
def _bundled_iris() -> frozenset[str]:
    """Every IRI some bundled term stands for."""
    return frozenset(iri for iris in bundled_term_iris().values() for iri in iris)


def _is_term(key: str) -> bool:
    return ":" not in key and not key.startswith("@")


class _Compare:
    """Structural equality of received and compacted JSON, recording what it forgave."""

    def __init__(self) -> None:
        self.embedded: list[tuple[dict[str, Any], dict[str, Any]]] = []  # (parent, child)
        self.renamed: list[tuple[dict[str, Any], str, str]] = []  # (node, term, IRI)

    def same(self, received: Any, compacted: Any, key: str | None = None,
             parent: dict[str, Any] | None = None) -> bool:
        # One-element array vs its element: compaction writes a single value bare unless its
        # term is a @set/@list container; both expand to the same single statement, and every
        # reader in Satchel takes either form (vcdm.as_list). Either direction is that one
        # difference (1EdTech samples write "type": ["Profile"], compaction gives "Profile").
        if isinstance(received, list) and len(received) == 1 and not isinstance(compacted, list):
            return self.same(received[0], compacted, key, parent)
        if isinstance(compacted, list) and len(compacted) == 1 and not isinstance(received, list):
            return self.same(received, compacted[0], key, parent)
        if (isinstance(received, dict) and list(received) == ["id"]
                and isinstance(compacted, str)):
            # A node reference {"id": IRI} under a term coerced to "@type": "@id" compacts to
            # the bare IRI (OB 3.0 "criteria"); both expand to the same {"@id": IRI}, and only
            # a coerced term compacts a node reference to a string.
            return bool(received["id"] == compacted)
        if isinstance(received, dict) and "@context" in received and parent is not None:
            # An embedded document (an OB 3.0 endorsement, a CLR's credentials) with its own
            # bundled contexts: checked on its own, and tied to the outer N-Quads by the guard.
            self.embedded.append((parent, received))
            return isinstance(compacted, dict)
        if isinstance(received, dict) and isinstance(compacted, dict):
            return self._same_object(received, compacted)
        if isinstance(received, list) and isinstance(compacted, list):
            return len(received) == len(compacted) and all(
                self.same(r, c, key, parent) for r, c in zip(received, compacted, strict=True))
        if key in ("type", "@type") and isinstance(received, str) and isinstance(compacted, str):
            # Two terms for one type IRI (OB 3.0 defines both "GeoCoordinates" and "geo"):
            # compaction picks one; the received one expanded to that very IRI (the compacted
            # value is made from it). A full or compact IRI is never forgiven: it escapes
            # type-scoped contexts.
            return received == compacted or (_is_term(received) and _is_term(compacted))
        return type(received) is type(compacted) and received == compacted

    def _same_object(self, received: dict[str, Any], compacted: dict[str, Any]) -> bool:
        only_received = [k for k in received if k not in compacted]
        pairs: list[tuple[str, str]] = [(k, k) for k in received if k in compacted]
        for iri in (k for k in compacted if k not in received):
            # CLR 2.0's ClrSubject coerces node values with "@type": "obi:Achievement", so no
            # compaction selects its terms and writes the full IRI; the received key is a term
            # some bundled context defines as exactly that IRI. The N-Quads guard then checks
            # that renaming it to the IRI changes nothing signed.
            terms = [t for t in only_received if _is_term(t) and iri in bundled_term_iris().get(t, ())]
            if not is_absolute_iri(iri) or len(terms) != 1:
                return False
            only_received.remove(terms[0])
            pairs.append((terms[0], iri))
            self.renamed.append((received, terms[0], iri))
        if only_received or any(k in _bundled_iris() for k in received):
            # a key spelt as an IRI a bundled term stands for is never the reader's form, even
            # where compaction writes that IRI (CLR above): it hides the field from the reader
            return False
        return all(self.same(received[r], compacted[c], r, received) for r, c in pairs)


def _nested_contexts(doc: dict[str, Any]) -> Iterator[Any]:
    stack: list[Any] = list(doc.values())
    while stack:
        item = stack.pop()
        if isinstance(item, dict):
            if "@context" in item:
                yield item["@context"]
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)


def refuse_inline_contexts(doc: dict[str, Any]) -> None:
    """:class:`InlineContext` unless every ``@context`` in ``doc`` is bundled-context URLs.

    Cheap, and run before any JSON-LD processing: no term definition comes from the input.
    """
    if "@context" not in doc:
        raise InlineContext("a JSON-LD document needs a @context")
    _context_urls(doc["@context"])
    for nested in _nested_contexts(doc):
        _context_urls(nested)


#: Embedded documents (a CLR's credentials, their endorsements) are each compacted and their
#: parent canonicalized twice more; real ones nest two deep, a handful per credential. Past these
#: the document is not checked (``too_large_to_verify``), so the work stays a small multiple of
#: one canonicalization under :class:`~.canon.CanonLimits` (a document without embedded ones
#: costs one compaction, cheaper than its canonicalization; one with them, a second
#: canonicalization of the rewritten document).
MAX_EMBEDDED = 32
MAX_EMBEDDING_DEPTH = 3


def require_compact_form(doc: dict[str, Any], limits: CanonLimits,
                         nquads: str | None = None) -> None:
    """Raise :class:`NotCompactForm` unless ``doc`` is the compact form of its own expansion.

    Call after :func:`~.canon.canonicalize` accepted ``doc`` (its errors come first); pass its
    ``nquads`` to spare canonicalizing ``doc`` again.
    """
    budget = [MAX_EMBEDDED]
    _require(doc, limits, budget, MAX_EMBEDDING_DEPTH, nquads)


def _require(doc: dict[str, Any], limits: CanonLimits, budget: list[int], depth: int,
             nquads: str | None) -> None:
    refuse_inline_contexts(doc)
    compacted = compact_with_own_context(doc, limits)
    compare = _Compare()
    if not compare.same(doc, compacted):
        raise NotCompactForm("the JSON is not in the compact form of what its proof covers")
    if not compare.embedded and not compare.renamed:
        return
    budget[0] -= len(compare.embedded)
    if compare.embedded and (budget[0] < 0 or depth <= 0):
        raise CanonicalizationBudgetExceeded("too many embedded JSON-LD documents to check")
    for _parent, child in compare.embedded:
        _require(child, limits, budget, depth - 1, None)
    _guard(doc, compare, limits, nquads)


def _guard(doc: dict[str, Any], compare: _Compare, limits: CanonLimits,
           nquads: str | None) -> None:
    """The forgiven differences must not change the N-Quads: rewrite each embedded document as
    its stand-alone expansion (context-free JSON-LD) and each renamed term as its IRI, and the
    document must canonicalize exactly as received."""
    def rewrite(value: Any) -> Any:
        if isinstance(value, list):
            return [rewrite(v) for v in value]
        if not isinstance(value, dict):
            return value
        if any(child is value for _p, child in compare.embedded):
            return expand_alone(value, limits)
        names = {t: iri for node, t, iri in compare.renamed if node is value}
        return {names.get(k, k): rewrite(v) for k, v in value.items()}
    rewritten = {k: (v if k == "@context" else rewrite(v)) for k, v in doc.items()}
    # expanded JSON-LD spells each value as {"@value": …} in an array: more, deeper JSON values
    # for the same statements; the quad, blank node and work caps still bound the canonicalization
    roomier = replace(limits, max_nodes=limits.max_nodes * 4, max_depth=limits.max_depth * 3)
    if nquads is None:
        nquads = canonicalize(doc, limits).nquads
    if canonicalize(rewritten, roomier).nquads != nquads:
        raise NotCompactForm("the JSON is not in the compact form of what its proof covers")
