"""Stacks and the learner's portfolio (``GET /v1/portfolio``), and the credentials inside a CLR.

Specs: Council Recommendation 2022/C 243/02 Annex I ("integration/stackability options") and its
principle that micro-credentials can be combined into larger credentials; ELM v3 ``isPartOf`` /
``hasPart`` on specifications; CLR 2.0 ``ClrSubject.verifiableCredential``
(https://www.imsglobal.org/spec/clr/v2p0/); VC-JWT (VCDM 1.1 §6.3.1).

Why these rules (documented API behaviour):

- ``total_ects`` sums the ECTS of the distinct credentials (a credential held twice, e.g. on its own
  and inside a CLR, has one ``document_id`` and counts once). A credential that is a *part* of a
  stack whose *whole* is also in the portfolio does not add to the total: the whole already counts
  that learning.
- ``by_eqf_level`` maps the EQF level (as a string, ``"1"``..``"8"``) to the list of credential ids
  at that level, in input order; counts are the list lengths. Credentials without a level are left
  out.
- ``stacks``: one entry per larger qualification referenced (``id`` is its identifier, or
  ``statement:<text>`` for a free-text stackability statement), with ``title``, ``credential_ids``
  (parts and whole), ``whole_id`` (the credential that *is* the larger qualification, if held) and
  ``total_ects`` (the ECTS of the distinct parts held).

Inside a CLR, each contained credential is a ``part`` of the CLR, and the CLR ``association``
entries between achievements (``isParentOf``, ``isChildOf``, ``isPartOf``) make the credential of
a child achievement a ``part`` of its parent achievement (a credential for a parent is its
``whole``).
Contained CLR credentials are parsed, not verified: their own proofs are the verifier's business.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, TypedDict

from wallet.errors import BadInput
from wallet.formats.model import CredentialFormat
from wallet.microcred.elm import primary_claim
from wallet.microcred.mapping import map_elements, unwrap
from wallet.microcred.model import Elements, ElementsRecord
from wallet.microcred.ob3 import decode_jwt_payload
from wallet.microcred.values import MAX_ITEMS, Node, pick_lang, scalar_number

__all__ = [
    "ContainedCredential",
    "Portfolio",
    "PortfolioEntry",
    "PortfolioItem",
    "PortfolioRecord",
    "Stack",
    "StackRef",
    "build_portfolio",
    "map_clr_contained",
    "portfolio_items",
    "stack_keys",
]

@dataclass(frozen=True, slots=True)
class StackRef:
    """Membership of a credential in a larger qualification (``key``)."""

    key: str
    title: str | None
    role: Literal["part", "whole"]


class PortfolioRecord(TypedDict):
    """A :class:`PortfolioItem` as stored with its credential at import."""

    credential_id: str
    elements: ElementsRecord
    stacks: list[list[str | None]]  # [key, title, role] per StackRef
    document_id: str | None


@dataclass(frozen=True, slots=True)
class PortfolioItem:
    credential_id: str
    elements: Elements
    stacks: tuple[StackRef, ...] = ()
    document_id: str | None = None  # the VC ``id``: the same credential held twice counts once

    def to_record(self) -> PortfolioRecord:
        """JSON to store at import, so the portfolio never maps a credential twice."""
        return {"credential_id": self.credential_id, "elements": self.elements.to_record(),
                "stacks": [[r.key, r.title, r.role] for r in self.stacks],
                "document_id": self.document_id}

    @classmethod
    def from_record(cls, record: PortfolioRecord) -> PortfolioItem:
        return cls(credential_id=str(record["credential_id"]),
                   elements=Elements.from_record(record["elements"]),
                   stacks=tuple(_stack_ref(row) for row in record["stacks"]),
                   document_id=record.get("document_id"))


def _stack_ref(row: list[str | None]) -> StackRef:
    """A stored ``[key, title, role]``; a record that is not one raises ``ValueError``."""
    key, title, role = row
    if role not in ("part", "whole"):
        raise ValueError("a stored stack role is neither part nor whole")
    return StackRef(str(key), title, "part" if role == "part" else "whole")


@dataclass(frozen=True, slots=True)
class ContainedCredential:
    index: int
    source: str  # JSON path of the entry in the CLR
    document: dict[str, Any]
    format: CredentialFormat  # ldp_vc (embedded JSON) or jwt_vc_json (compact JWT, not verified)
    elements: Elements


@dataclass(frozen=True, slots=True)
class PortfolioEntry:
    """One credential in the portfolio."""

    id: str
    title: object  # the title element's value as mapped
    ects: int | float | None
    eqf: object  # the EQF level, as the credential states it


@dataclass(slots=True)
class Stack:
    """A larger qualification: the credentials that are parts of it (and the whole, if held)."""

    id: str
    title: str | None
    credential_ids: list[str]
    whole_id: str | None = None
    total_ects: int | float = 0  # of the parts, each credential counted once


@dataclass(frozen=True, slots=True)
class Portfolio:
    credentials: list[PortfolioEntry]
    total_ects: int | float
    by_eqf_level: dict[str, list[str]]
    stacks: list[Stack] = field(default_factory=list)


def _vc(document: Mapping[str, Any]) -> Node:
    if "credentialSubject" not in document and isinstance(document.get("vc"), Mapping):
        return Node(document["vc"], "vc")
    return Node(document, "")


def _self_key(doc: Node) -> str | None:
    claim = primary_claim(doc)
    if claim is not None:
        spec = claim.at("specifiedBy")
        for n in (spec, claim):
            if n is not None and n.ident():
                return n.ident()
    return doc.ident()


def stack_keys(document: Mapping[str, Any], elements: Elements) -> list[StackRef]:
    """The larger qualifications this credential belongs to, or is (``role="whole"``)."""
    if not isinstance(document, Mapping):
        return []
    doc = _vc(document)
    st = elements["stackability"].value
    out: list[StackRef] = []
    if not isinstance(st, dict):
        return out
    for r in st.get("is_part_of", [])[:MAX_ITEMS]:
        key = r.get("id") or (f"title:{r['title'].strip().lower()}" if r.get("title") else None)
        if key:
            out.append(StackRef(key=key, title=r.get("title"), role="part"))
    if st.get("has_part"):
        key = doc.ident() if elements.family == "clr2" else _self_key(doc)
        if key:
            out.append(StackRef(key=key, title=elements["title"].value, role="whole"))
    statement = st.get("statement")
    if isinstance(statement, str) and statement.strip().lower() not in ("", "yes", "no", "true",
                                                                       "false"):
        out.append(StackRef(key=f"statement:{' '.join(statement.lower().split())}",
                            title=statement, role="part"))
    return list(dict.fromkeys(out))


def map_clr_contained(document: Mapping[str, Any], *,
                      languages: Sequence[str] = ("en",)) -> list[ContainedCredential]:
    """Each credential in a CLR 2.0 ``credentialSubject.verifiableCredential``, mapped."""
    if not isinstance(document, Mapping):
        return []
    doc = _vc(document)
    vcs = doc.at("credentialSubject", "verifiableCredential")
    out: list[ContainedCredential] = []
    fmt: CredentialFormat
    for item in vcs.items() if vcs is not None else []:
        i = int(item.path.rsplit("[", 1)[1][:-1]) if item.path.endswith("]") else 0
        if isinstance(item.value, Mapping):
            inner, fmt = dict(item.value), "ldp_vc"
        elif isinstance(item.value, str):
            payload = decode_jwt_payload(item.value)
            if payload is None:
                continue
            inner, fmt = payload, "jwt_vc_json"
        else:
            continue
        out.append(ContainedCredential(index=i, source=item.path, document=inner, format=fmt,
                                       elements=map_elements(inner, format=fmt,
                                                             languages=languages)))
    return out


def _doc_id(document: Mapping[str, Any], format: str) -> str | None:
    try:
        doc, _ = unwrap(document, format)
    except BadInput:
        return None
    return doc.ident() if isinstance(doc.value, Mapping) else None


#: CLR 2.0 association types that make the *source* achievement part of the *target* one, and
#: the one that makes the *target* part of the *source*.
_CHILD_OF = frozenset({"isChildOf", "isPartOf"})
_PARENT_OF = frozenset({"isParentOf"})


def _clr_hierarchy(doc: Node, languages: Sequence[str]) -> tuple[dict[str, list[str]],
                                                                 dict[str, str | None]]:
    """Parents of each achievement id (from ``association``) and achievement titles."""
    parents: dict[str, list[str]] = {}
    titles: dict[str, str | None] = {}
    cs = doc.at("credentialSubject")
    if cs is None:
        return parents, titles
    for a in cs.all("achievement"):
        for o in a.objects():
            ident = o.ident()
            if ident:
                n = o.get("name")
                titles[ident] = pick_lang(n.value, languages) if n is not None else None
    for key in ("association", "associations"):
        for assoc in cs.all(key):
            for o in assoc.objects():
                kind, src, dst = (o.get("associationType"), o.get("sourceId"), o.get("targetId"))
                if kind is None or src is None or dst is None:
                    continue
                s, d = src.string(), dst.string()
                if not s or not d:
                    continue
                if kind.value in _PARENT_OF:
                    parents.setdefault(d, []).append(s)
                elif kind.value in _CHILD_OF:
                    parents.setdefault(s, []).append(d)
    return parents, titles


def _association_refs(inner: Mapping[str, Any], parents: dict[str, list[str]],
                      titles: dict[str, str | None]) -> list[StackRef]:
    doc = _vc(inner)
    ach = doc.at("credentialSubject", "achievement")
    ach_id = ach.ident() if ach is not None else None
    if not ach_id:
        return []
    refs = [StackRef(key=p, title=titles.get(p), role="part") for p in parents.get(ach_id, [])]
    if any(ach_id in ps for ps in parents.values()):
        refs.append(StackRef(key=ach_id, title=titles.get(ach_id), role="whole"))
    return refs


def portfolio_items(credential_id: str, document: Mapping[str, Any], *, format: str,
                    languages: Sequence[str] = ("en",),
                    elements: Elements | None = None) -> list[PortfolioItem]:
    """The item for one held credential, plus one per credential inside it if it is a CLR.

    Contained credentials get the id ``"<credential_id>#<index>"`` and a ``part`` link to the CLR.
    ``elements``: ``map_elements(document, format=format, languages=languages)`` when the caller
    has it already (intake maps once for the record, its search text and its items).
    """
    if elements is None:
        elements = map_elements(document, format=format, languages=languages)
    own = PortfolioItem(credential_id=credential_id, elements=elements,
                        stacks=tuple(stack_keys(document, elements)),
                        document_id=_doc_id(document, format))
    items = [own]
    if elements.family == "clr2":
        clr_key = own.document_id or credential_id
        parents, titles = _clr_hierarchy(_vc(document), languages)
        for c in map_clr_contained(document, languages=languages):
            link = StackRef(key=clr_key, title=elements["title"].value, role="part")
            refs = (link, *stack_keys(c.document, c.elements),
                    *_association_refs(c.document, parents, titles))
            items.append(PortfolioItem(
                credential_id=f"{credential_id}#{c.index}", elements=c.elements,
                stacks=tuple(dict.fromkeys(refs)), document_id=_doc_id(c.document, c.format)))
    return items


def _num(x: float) -> int | float:
    r = round(x, 6)
    return int(r) if r == int(r) else r


def _ects(e: Elements) -> int | float | None:
    w = e["workload"].value
    v = w.get("ects") if isinstance(w, dict) else None
    return scalar_number(v)


def build_portfolio(items: Sequence[PortfolioItem]) -> Portfolio:
    credentials: list[PortfolioEntry] = []
    by_eqf: dict[int, list[str]] = {}
    stacks: dict[str, Stack] = {}
    stack_uids: dict[str, set[str]] = {}
    wholes: set[str] = set()
    for it in items:
        for s in it.stacks:
            if s.role == "whole":
                wholes.add(s.key)
    counted: set[str] = set()
    total = 0.0
    for it in items:
        e = it.elements
        ects = _ects(e)
        lvl = e["level"].value.get("eqf") if isinstance(e["level"].value, dict) else None
        credentials.append(PortfolioEntry(it.credential_id, e["title"].value, ects, lvl))
        if isinstance(lvl, int):
            by_eqf.setdefault(lvl, []).append(it.credential_id)
        uid = it.document_id or f"credential:{it.credential_id}"
        covered = any(s.role == "part" and s.key in wholes for s in it.stacks)
        if ects is not None and uid not in counted and not covered:
            total += ects
        counted.add(uid)
        for s in it.stacks:
            st = stacks.setdefault(s.key, Stack(s.key, None, []))
            uids = stack_uids.setdefault(s.key, set())
            if s.role == "whole":
                st.whole_id = it.credential_id
                st.title = s.title or st.title
            else:
                st.title = st.title or s.title
                if ects is not None and uid not in uids:
                    st.total_ects = _num(st.total_ects + ects)
                uids.add(uid)
            if it.credential_id not in st.credential_ids:
                st.credential_ids.append(it.credential_id)
    return Portfolio(credentials=credentials, total_ects=_num(total),
                     by_eqf_level={str(k): v for k, v in sorted(by_eqf.items())},
                     stacks=list(stacks.values()))
