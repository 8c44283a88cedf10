"""What in an expanded JSON-LD document RDF conversion would silently lose or mis-serialize.

Specs: JSON-LD 1.1 API §8.2 "Deserialize JSON-LD to RDF" (a node whose identifier is not an IRI
or blank node identifier, a property that is not an IRI, a relative IRI in a node reference or
``@type``: no triple is produced — "relative IRIs are ignored"); RFC 3987 §2.2 (an absolute IRI
is ``scheme ":" ihier-part``, scheme per RFC 3986 §3.1; space, controls and ``<>"{}|\\^```` are
not IRI characters); RDF 1.1 N-Quads §2.4 and the grammar (``IRIREF``, ``LANGTAG``), which
RDFC-1.0 serializes without escaping either.

Why: pyld's toRdf skips such statements without calling ``on_property_dropped`` (a credential
``id`` with a space removed every statement about the credential from the signed N-Quads, so its
``name``, ``type`` and ``validUntil`` could be edited under a "valid" proof). It also writes a
language tag verbatim, so a tag holding ``" .\\n<…>`` splices text into the N-Quads the proof
covers. Every IRI and language tag is checked here, after expansion, before any statement is made;
the rule for an IRI is at least as strict as pyld's (``_is_absolute_iri``), so whatever pyld
drops is caught.
"""

from __future__ import annotations

import re
from typing import Any, Literal

__all__ = ["Uncovered", "first_uncovered", "is_absolute_iri", "is_language_tag"]

#: RFC 3986 §3.1 scheme, ":", then no character RFC 3987 or N-Quads' IRIREF excludes (pyld's own
#: test only excludes whitespace; its scheme class also admits ",").
_ABSOLUTE_IRI = re.compile(r"[A-Za-z][A-Za-z0-9+.\-]*:[^\s\x00-\x20\x7f-\x9f<>\"{}|^`\\]*")
#: N-Quads LANGTAG (BCP 47's shape): what RDFC-1.0 can write after "@" without ambiguity.
_LANGUAGE_TAG = re.compile(r"[a-zA-Z]+(?:-[a-zA-Z0-9]+)*")
#: Keys of a node object that are not properties (expanded form: JSON-LD 1.1 API §5.1.2).
_NODE_KEYWORDS = frozenset({"@id", "@type", "@graph", "@included", "@reverse", "@index"})

Uncovered = Literal["relative_iri", "language_tag"]


def is_absolute_iri(value: object) -> bool:
    return isinstance(value, str) and _ABSOLUTE_IRI.fullmatch(value) is not None


def is_language_tag(value: object) -> bool:
    return isinstance(value, str) and _LANGUAGE_TAG.fullmatch(value) is not None


def _is_node_id(value: object) -> bool:
    """An absolute IRI, or a blank node identifier (pyld relabels those, whatever follows "_:")."""
    return is_absolute_iri(value) or (isinstance(value, str) and value.startswith("_:"))


def _value_uncovered(value: dict[str, Any]) -> Uncovered | None:
    datatype = value.get("@type")
    if datatype is not None and datatype != "@json" and not is_absolute_iri(datatype):
        return "relative_iri"
    if "@language" in value and not is_language_tag(value["@language"]):
        return "language_tag"
    return None  # the literal itself is escaped by the serializer; @json is not descended


def _node_uncovered(node: dict[str, Any], stack: list[Any]) -> Uncovered | None:
    if "@id" in node and not _is_node_id(node["@id"]):
        return "relative_iri"
    types = node.get("@type", [])
    types = [types] if isinstance(types, str) else types
    if not isinstance(types, list) or not all(_is_node_id(t) for t in types):
        return "relative_iri"
    for key, item in node.items():
        if key == "@reverse":
            if not isinstance(item, dict) or not all(is_absolute_iri(p) for p in item):
                return "relative_iri"
            stack.extend(item.values())
        elif key in ("@graph", "@included"):
            stack.append(item)
        elif key in _NODE_KEYWORDS:
            continue
        elif is_absolute_iri(key):  # a blank node property is dropped too (no generalized RDF)
            stack.append(item)
        else:
            return "relative_iri"
    return None


def first_uncovered(expanded: Any) -> Uncovered | None:
    """The first kind of term RDF conversion would not carry faithfully, or ``None``.

    ``expanded`` is pyld's expansion output. Iterative: depth is bounded by the caller, but a
    Python stack frame per level is not needed.
    """
    stack: list[Any] = [expanded]
    while stack:
        item = stack.pop()
        if isinstance(item, list):
            stack.extend(item)
        elif isinstance(item, str):  # pyld's toRdf reads a bare string as a node reference
            if not _is_node_id(item):
                return "relative_iri"
        elif not isinstance(item, dict):
            continue
        elif "@value" in item:
            problem = _value_uncovered(item)
            if problem is not None:
                return problem
        elif "@list" in item:
            stack.append(item["@list"])
        else:
            problem = _node_uncovered(item, stack)
            if problem is not None:
                return problem
    return None
