"""Bounded RDF Dataset Canonicalization (RDFC-1.0, formerly URDNA2015) of JSON-LD documents.

Specs: RDF Dataset Canonicalization, https://www.w3.org/TR/rdf-canon/ (§4.4 the algorithm, §4.8
Hash N-Degree Quads, §6 "Security Considerations": poison graphs make the permutation step
exponential, so implementations must bound it); JSON-LD 1.1 API §8 (Deserialize JSON-LD to RDF).

Why: a credential is attacker-supplied. Before pyld sees it we cap its size and nesting depth;
after RDF conversion we cap quads and blank nodes; during canonicalization we cap calls to
Hash N-Degree Quads and the number of permutations it may try. Contexts come only from the bundled
loader (:mod:`.loader`). Properties that JSON-LD expansion would silently drop are reported (a
signature does not cover them), so callers can refuse to show unsigned data as signed. Terms that
RDF conversion would silently drop or splice into the N-Quads — an identifier, type or property
that is not an absolute IRI, a malformed language tag (:mod:`.rdf_terms`) — are refused outright
(:class:`TermNotCovered`): no N-Quads are produced, so no caller can sign or verify over them.
There is no document base IRI: pyld would otherwise resolve a relative IRI against its own
``http://example.org/base/``, a value no other processor signs and that appears nowhere in the
document.
"""

from __future__ import annotations

import math
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from cachetools import LRUCache
from pyld import jsonld
from pyld.canon import URDNA2015
from pyld.context_resolver import ContextResolver

from wallet.errors import BadInput, PayloadTooLarge
from wallet.formats.jsonld.errors import (
    CanonicalizationBudgetExceeded,
    CanonicalizationFailed,
    LanguageTagMalformed,
    NotAbsoluteIri,
    TermNotCovered,
)
from wallet.formats.jsonld.loader import UnknownContext, document_loader
from wallet.formats.jsonld.rdf_terms import first_uncovered
from wallet.formats.untrusted import parser_failed

__all__ = [
    "CanonLimits",
    "CanonicalizationBudgetExceeded",
    "CanonicalizationFailed",
    "Canonicalized",
    "LanguageTagMalformed",
    "NotAbsoluteIri",
    "TermNotCovered",
    "canonicalize",
    "check_shape",
    "compact_with_own_context",
    "expand_alone",
]


@dataclass(frozen=True, slots=True)
class CanonLimits:
    # Real credentials are far below these (1EdTech complete.json: 553 values; ELM MC: ~1,000).
    # At the caps a hostile document costs well under a second of CPU.
    max_nodes: int = 5_000  # JSON values in the input document
    #: Items in any one JSON array: pyld's expansion of one array costs quadratic time (4,000
    #: items ~4 s, under the lock every verification shares); 1,000 cost ~0.3 s.
    max_array_items: int = 1_000
    max_depth: int = 48
    max_quads: int = 5_000
    max_blank_nodes: int = 1_000
    max_n_degree_calls: int = 2_000
    max_permutations: int = 20_000
    #: How a related-blank-node group is charged against ``max_permutations``. False
    #: (verification): n! per group, and a group over 8 nodes is refused. True (signing our own
    #: presentations): the distinct arrangements n!/∏(k!) pyld's permutation step yields when a
    #: node repeats in the group (once per quad relating it — every quad of a named graph
    #: relates its nodes to the graph's name, so a credential embedded in a VP forms groups of
    #: one node repeated many times, which cost one arrangement, not n!).
    count_arrangements: bool = False


DEFAULT_LIMITS = CanonLimits()


@dataclass(frozen=True, slots=True)
class Canonicalized:
    nquads: str
    dropped_terms: tuple[str, ...]  # expanded keys JSON-LD discarded (not covered by a proof)


def check_shape(value: Any, limits: CanonLimits = DEFAULT_LIMITS) -> None:
    """Iteratively bound the JSON value: node count, array length and depth (no recursion)."""
    stack: list[tuple[Any, int]] = [(value, 0)]
    seen = 0
    while stack:
        item, depth = stack.pop()
        seen += 1
        if seen > limits.max_nodes:
            raise PayloadTooLarge("JSON-LD document has too many values")
        if depth > limits.max_depth:
            raise PayloadTooLarge("JSON-LD document is nested too deeply")
        if isinstance(item, dict):
            stack.extend((v, depth + 1) for v in item.values())
        elif isinstance(item, list):
            if len(item) > limits.max_array_items:
                raise PayloadTooLarge("a JSON-LD array has too many items")
            stack.extend((v, depth + 1) for v in item)


def _arrangements(nodes: list[Any]) -> int:
    """Distinct orderings of ``nodes``: n! / ∏ (count of each node)!."""
    total = math.factorial(len(nodes))
    counts: dict[Any, int] = {}
    for n in nodes:
        counts[n] = counts.get(n, 0) + 1
    for c in counts.values():
        total //= math.factorial(c)
    return total


class _BoundedRdfc(URDNA2015):  # type: ignore[misc]  # pyld ships no type hints
    """pyld's URDNA2015 with a work budget on the exponential step."""

    def __init__(self, limits: CanonLimits) -> None:
        super().__init__()
        self._limits = limits
        self._calls = 0
        self._perms = 0

    def hash_n_degree_quads(self, id_: Any, issuer: Any) -> Any:
        self._calls += 1
        if self._calls > self._limits.max_n_degree_calls:
            raise CanonicalizationBudgetExceeded("canonicalization work budget exceeded")
        return super().hash_n_degree_quads(id_, issuer)

    def create_hash_to_related(self, id_: Any, issuer: Any) -> Any:
        result = super().create_hash_to_related(id_, issuer)
        for nodes in result.values():
            if self._limits.count_arrangements:
                self._perms += _arrangements(nodes)
            else:
                if len(nodes) > 8:
                    raise CanonicalizationBudgetExceeded("canonicalization work budget exceeded")
                self._perms += math.factorial(len(nodes))
        if self._perms > self._limits.max_permutations:
            raise CanonicalizationBudgetExceeded("canonicalization work budget exceeded")
        return result


class _CheckedProcessor(jsonld.JsonLdProcessor):  # type: ignore[misc]  # no type hints
    """pyld's processor, refusing an expansion whose terms toRdf would drop or splice."""

    checked = False

    def expand(self, input_: Any, options: Any) -> Any:
        expanded = super().expand(input_, options)
        problem = first_uncovered(expanded)
        if problem == "relative_iri":
            raise NotAbsoluteIri("the document uses an identifier, type or property that is not "
                                 "an absolute IRI")
        if problem == "language_tag":
            raise LanguageTagMalformed("the document has a malformed language tag")
        self.checked = True
        return expanded


# Resolved contexts are cached per URL; only our bundled loader ever fills this cache. The lock
# lets callers run canonicalization in a worker thread (it is CPU-bound) without racing on it.
_CONTEXT_CACHE: Any = LRUCache(maxsize=64)
_LOCK = threading.Lock()


def _cause(exc: BaseException) -> BaseException | None:
    seen = 0
    cur: BaseException | None = exc
    while cur is not None and seen < 20:
        if isinstance(cur, UnknownContext | CanonicalizationFailed):
            return cur
        cur = cur.__cause__ or cur.__context__
        seen += 1
    return None


def canonicalize(doc: dict[str, Any], limits: CanonLimits = DEFAULT_LIMITS) -> Canonicalized:
    """RDFC-1.0 canonical N-Quads of a JSON-LD document, with bundled contexts only."""
    if not isinstance(doc, dict):
        raise BadInput("JSON-LD document must be an object")
    check_shape(doc, limits)
    dropped: list[str] = []
    def on_dropped(prop: Any) -> None:
        dropped.append(str(prop))
    options: dict[str, Any] = {
        "base": None,  # no document base: a relative IRI stays relative (and is refused)
        "documentLoader": document_loader,
        "contextResolver": ContextResolver(_CONTEXT_CACHE, document_loader),
        "processingMode": "json-ld-1.1",
        "extractAllScripts": False,
    }
    with _LOCK:
        try:
            nquads = _run(doc, options, on_dropped, limits)
        except TermNotCovered as exc:
            exc.dropped_terms = tuple(sorted(set(dropped)))
            raise
    if not isinstance(nquads, str):
        raise CanonicalizationFailed("canonicalization produced no N-Quads")
    return Canonicalized(nquads, tuple(sorted(set(dropped))))


def _run(doc: dict[str, Any], options: dict[str, Any], on_dropped: Callable[[Any], None],
         limits: CanonLimits) -> Any:
    return _translated(lambda: _to_nquads(doc, options, on_dropped, limits))


def _to_nquads(doc: dict[str, Any], options: dict[str, Any],
               on_dropped: Callable[[Any], None], limits: CanonLimits) -> Any:
    processor = _CheckedProcessor(on_property_dropped=on_dropped)
    dataset = processor.to_rdf(doc, options)
    if not processor.checked:  # fail closed should pyld stop expanding through expand()
        raise CanonicalizationFailed("the expanded document was not checked")
    quads = sum(len(v) for v in dataset.values())
    if quads > limits.max_quads:
        raise CanonicalizationBudgetExceeded("document has too many RDF statements")
    blanks = {
        c["value"]
        for triples in dataset.values()
        for t in triples
        for c in (t["subject"], t["object"])
        if c.get("type") == "blank node"
    }
    if len(blanks) > limits.max_blank_nodes:
        raise CanonicalizationBudgetExceeded("document has too many blank nodes")
    return _BoundedRdfc(limits).main(dataset, {"format": "application/n-quads"})


def _options() -> dict[str, Any]:
    return {
        "base": None,  # as in canonicalize: no IRI is made relative to an invented base
        "documentLoader": document_loader,
        "contextResolver": ContextResolver(_CONTEXT_CACHE, document_loader),
        "processingMode": "json-ld-1.1",
        "extractAllScripts": False,
        "compactArrays": True,
    }


def _translated(call: Callable[[], Any]) -> Any:
    """``call()``, with what pyld raises on bad input turned into our typed errors."""
    try:
        return call()
    except (UnknownContext, CanonicalizationFailed, PayloadTooLarge):
        raise
    except RecursionError as exc:
        raise CanonicalizationFailed("JSON-LD document is nested too deeply") from exc
    except Exception as exc:  # hostile input: see wallet.formats.untrusted
        inner = _cause(exc)  # one of ours, raised inside pyld (a loader's refusal, a budget)
        if inner is not None:
            raise inner from exc
        parser_failed(exc, "JSON-LD document")  # pyld: JsonLdError, TypeError, KeyError ...
        raise CanonicalizationFailed("document is not valid JSON-LD") from exc


def _pyld(call: Callable[[], Any]) -> Any:
    with _LOCK:
        return _translated(call)


def expand_alone(doc: dict[str, Any], limits: CanonLimits = DEFAULT_LIMITS) -> dict[str, Any]:
    """The one node ``doc`` expands to on its own (expanded JSON-LD means the same anywhere)."""
    check_shape(doc, limits)
    expanded = _pyld(lambda: jsonld.JsonLdProcessor().expand(doc, _options()))
    if not isinstance(expanded, list) or len(expanded) != 1 or not isinstance(expanded[0], dict):
        raise CanonicalizationFailed("an embedded JSON-LD document is not one node")
    node: dict[str, Any] = expanded[0]
    return node


def compact_with_own_context(doc: dict[str, Any], limits: CanonLimits = DEFAULT_LIMITS) -> Any:
    """``doc`` expanded, then compacted with its own ``@context`` (JSON-LD 1.1 API §6.1, §4.1).

    Bounded like :func:`canonicalize`: the shape caps first, bundled contexts only (the caller
    refuses inline context objects, so no term definitions come from the input itself).
    """
    if not isinstance(doc, dict) or "@context" not in doc:
        raise BadInput("JSON-LD document must be an object with a @context")
    check_shape(doc, limits)
    return _pyld(lambda: jsonld.JsonLdProcessor().compact(doc, doc["@context"], _options()))
