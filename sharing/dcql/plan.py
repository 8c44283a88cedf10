"""A DCQL credential query compiled once, then applied to every candidate (OpenID4VP 1.0 §6.3,
§6.4.1, §7.1).

https://openid.net/specs/openid-4-verifiable-presentations-1_0.html#name-selecting-claims-and-creden

Why compile: a query is matched against the whole vault (10,000 credentials in the bench), so
everything that depends only on the query is worked out once: each ``claims`` entry becomes its
leading object keys (walked inline, no intermediate lists), the rest of its path, its value
constraint as a frozenset of type-tagged scalars, and the prefixes its disclosures need; each
``claim_sets`` entry becomes the ordered list of claims it asks for. Per candidate only the walk
remains; a candidate that does not match allocates nothing, one that does records only the values
it read, and the :class:`~sharing.dcql.option.CredentialOption` builds its claims and disclosures
from them on first use (:meth:`ClaimSet.expand`, :meth:`ClaimSet.disclosures`).

Semantics are §7.1.1 and §6.3/§6.4.1, the same as :func:`sharing.dcql.path.select_claims`: a
string selects a key of every selected object, ``null`` every element and an integer one element
of every selected array, a wrong type or an empty selection fails the claim; every claim of the
chosen set must select something (with ``values``: only the elements equal to one of them, same
JSON type, ``true`` is not ``1``); ``claim_sets`` are tried in order and the first satisfiable one
wins; a claim selected twice (same concrete path) is listed once, under the first claim asking.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from typing import Any

from sharing.dcql.option import CredentialOption, SelectedClaim
from sharing.dcql.query import ClaimsQuery, ClaimValue, CredentialQuery
from wallet.formats.model import ClaimPath

__all__ = ["ClaimSet", "QueryPlan"]

_MISSING: Any = object()
_EMPTY: frozenset[ClaimPath] = frozenset()
_new_claim = tuple.__new__  # SelectedClaim without its Python-level __new__
#: JSON type tags: a number equals a number whatever its Python type, never a string or boolean
_TAGS: dict[type, int] = {str: 0, int: 1, float: 1, bool: 2}


def _tag(value: Any) -> int | None:
    for typ in (bool, str, int, float):  # subclasses of the JSON scalar types
        if isinstance(value, typ):
            return _TAGS[typ]
    return None


def _admits(allowed: frozenset[tuple[int | None, ClaimValue]], value: Any) -> bool:
    """``value`` is one of ``allowed`` (a compiled ``values`` constraint, §6.3)."""
    tag = _TAGS.get(type(value))
    if tag is not None:
        return (tag, value) in allowed
    tag = _tag(value)
    try:
        return tag is not None and (tag, value) in allowed
    except TypeError:  # an unhashable subclass of a scalar type: not a JSON scalar
        return False


def _allowed(values: tuple[ClaimValue, ...]) -> frozenset[tuple[int | None, ClaimValue]]:
    """A ``values`` constraint (§6.3) as a frozenset of ``(JSON type tag, value)`` pairs."""
    return frozenset((_tag(v), v) for v in values)


def _is_arr(value: Any) -> bool:
    return type(value) is list or (isinstance(value, Sequence)
                                   and not isinstance(value, str | bytes))


class _Claim:
    """One ``claims`` entry: leading object keys, the rest of the path, ``values``."""

    __slots__ = ("allowed", "head", "id", "path", "rest", "wildcards")

    def __init__(self, cl: ClaimsQuery) -> None:
        self.path, self.id = cl.path, cl.id
        n = next((i for i, c in enumerate(cl.path) if type(c) is not str), len(cl.path))
        self.head, self.rest = cl.path[:n], cl.path[n:]
        self.wildcards = sum(1 for c in self.rest if c is None)
        self.allowed = _allowed(cl.values) if cl.values is not None else None

    def walk_rest(self, element: Any, out: list[Any]) -> bool:
        """§7.1.1 from the end of ``head``: appends to ``out`` how many elements were selected
        (and admitted by ``values``) then, for each, its array indices at the wildcards and its
        value; False when nothing is selected. (Flat scalars, no nested containers: the GC can
        untrack what the option keeps.)"""
        selected: list[tuple[tuple[int, ...], Any]] = [((), element)]
        last = len(self.rest) - 1
        for step, comp in enumerate(self.rest):
            allowed = self.allowed if step == last else None  # ``values`` filter the final ones
            nxt: list[tuple[tuple[int, ...], Any]] = []
            if isinstance(comp, str):
                for idx, el in selected:
                    if type(el) is not dict and not isinstance(el, Mapping):
                        return False
                    v = el.get(comp, _MISSING)
                    if v is not _MISSING and (allowed is None or _admits(allowed, v)):
                        nxt.append((idx, v))
            elif comp is None:
                for idx, el in selected:
                    if not _is_arr(el):
                        return False
                    nxt.extend(((*idx, i), v) for i, v in enumerate(el)
                               if allowed is None or _admits(allowed, v))
            elif type(comp) is int and comp >= 0:
                for idx, el in selected:
                    if not _is_arr(el):
                        return False
                    if comp < len(el) and (allowed is None or _admits(allowed, el[comp])):
                        nxt.append((idx, el[comp]))
            else:  # not a path component (the parser admits none such)
                return False
            if not nxt:
                return False
            selected = nxt
        out.append(len(selected))
        for idx, v in selected:
            out.extend(idx)
            out.append(v)
        return True

    def concrete(self, indices: tuple[int, ...]) -> ClaimPath:
        """This claim's path with its wildcards replaced by ``indices``."""
        it = iter(indices)
        return tuple(next(it) if c is None else c for c in self.path)


def _prefixes(path: ClaimPath) -> list[ClaimPath]:
    return [path[:k] for k in range(1, len(path) + 1)]


def _inside(out: set[ClaimPath], sd: frozenset[ClaimPath], path: ClaimPath, value: Any) -> None:
    """When ``value`` is an object or array, every disclosure inside it (its value includes
    them)."""
    t = type(value)
    if t is dict or t is list or (t not in _TAGS and isinstance(value, dict | list)):
        n = len(path)
        out.update(d for d in sd if len(d) > n and d[:n] == path)


class ClaimSet:
    """The claims one option asks for, in order: all of ``claims`` or one ``claim_sets`` entry.

    :meth:`read` walks a candidate into a flat tuple: per keys-only claim its value; per other
    claim the number of elements selected, then per element its wildcard indices and value.
    """

    __slots__ = ("claims", "dedupe", "ids", "prefixes")

    def __init__(self, claims: list[_Claim], ids: tuple[str, ...] | None) -> None:
        self.claims, self.ids = tuple(claims), ids
        paths = [c.path for c in claims]
        # distinct keys-only paths select distinct claims; wildcards may select one twice
        self.dedupe = len(set(paths)) != len(paths) or any(c.rest for c in claims)
        #: the disclosures keys-only claims may need: each one's own path and those above it
        self.prefixes = frozenset(p for c in claims if not c.rest for p in _prefixes(c.path))

    def read(self, root: Any) -> tuple[Any, ...] | None:
        """What ``root`` holds for every claim of the set, or None when one selects nothing."""
        out: list[Any] = []
        for c in self.claims:
            element = root
            for key in c.head:
                if type(element) is not dict and not isinstance(element, Mapping):
                    return None
                element = element.get(key, _MISSING)
                if element is _MISSING:
                    return None
            if c.rest:
                if not c.walk_rest(element, out):
                    return None
            elif c.allowed is not None and not _admits(c.allowed, element):
                return None
            else:
                out.append(element)
        return tuple(out)

    def _selected(self, found: tuple[Any, ...]) -> Iterator[tuple[_Claim, ClaimPath, Any]]:
        """Decode :meth:`read`: ``(claim, concrete path, value)`` per selected element."""
        pos = 0
        for c in self.claims:
            if not c.rest:
                yield c, c.path, found[pos]
                pos += 1
                continue
            k = c.wildcards
            count, pos = found[pos], pos + 1
            for _ in range(count):
                yield c, c.concrete(found[pos:pos + k]), found[pos + k]
                pos += k + 1

    def expand(self, found: tuple[Any, ...]) -> tuple[SelectedClaim, ...]:
        """The selected claims, each concrete path once (the first claim asking)."""
        if not self.dedupe:  # keys-only, distinct: one value per claim, in order
            return tuple(_new_claim(SelectedClaim, (c.path, v, c.id, c.path))
                         for c, v in zip(self.claims, found, strict=True))
        unique: dict[ClaimPath, SelectedClaim] = {}
        for c, p, v in self._selected(found):
            if p not in unique:
                unique[p] = _new_claim(SelectedClaim, (p, v, c.id, c.path))
        return tuple(unique.values())

    def disclosures(self, sd: frozenset[ClaimPath], found: tuple[Any, ...]
                    ) -> frozenset[ClaimPath]:
        """The SD-JWT disclosures (among ``sd``) that revealing the selected claims needs: every
        one above a claim and its own (recursive disclosures need their parents), and every one
        inside an object or array claim."""
        if not sd:
            return _EMPTY
        above = sd.intersection(self.prefixes)  # the keys-only claims' own and parents
        if not self.dedupe:  # keys-only claims: more only for an object or array value
            for v in found:
                if type(v) is dict or type(v) is list or type(v) not in _TAGS:
                    break
            else:
                return above
        out = set(above)
        for c, p, v in self._selected(found):
            if c.rest:
                out.update(q for q in _prefixes(p) if q in sd)
            _inside(out, sd, p, v)
        return frozenset(out)


class QueryPlan:
    """A credential query's ``claims`` and ``claim_sets``, compiled once per match."""

    __slots__ = ("sets",)

    def __init__(self, cq: CredentialQuery) -> None:
        if cq.claims is None:
            self.sets: tuple[ClaimSet, ...] | None = None
            return
        claims = [_Claim(cl) for cl in cq.claims]
        if cq.claim_sets is None:
            self.sets = (ClaimSet(claims, None),)
        else:
            by_id = {c.id: c for c in claims}
            self.sets = tuple(ClaimSet([by_id[i] for i in ids], ids) for ids in cq.claim_sets)

    def option(self, credential_id: str, root: Any, sd: frozenset[ClaimPath] | None
               ) -> CredentialOption | None:
        """The option for one credential (claims ``root``; ``sd`` its disclosable paths, None
        for a format without selective disclosure), or None when no claim set is satisfied."""
        if self.sets is None:  # no claims requested
            return CredentialOption._lazy(credential_id, None, (), None, sd)
        for cs in self.sets:  # in order: the first satisfiable set wins
            found = cs.read(root)
            if found is not None:
                return CredentialOption._lazy(credential_id, cs, found, cs.ids, sd)
        return None
