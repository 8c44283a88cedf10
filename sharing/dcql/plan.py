"""A DCQL credential query compiled once, then applied to every candidate (OpenID4VP 1.0 §6.3,
§6.4.1, §7.1).

https://openid.net/specs/openid-4-verifiable-presentations-1_0.html#name-selecting-claims-and-creden

Why compile: a query is matched against the whole vault (10,000 credentials in the bench), so
everything that depends only on the query is worked out once: each ``claims`` entry becomes its
path (object keys only, the common case, walked inline without intermediate lists) and a value
constraint of hashable type-tagged scalars; each ``claim_sets`` entry becomes the ordered list of
distinct claims it selects. Per candidate only the walk remains, and a candidate that does not
match allocates nothing.

Semantics are those of :func:`sharing.dcql.path.select_claims` and §6.3/§6.4.1: every claim of
the chosen set must select something (with ``values``: only the elements equal to one of them,
same JSON type, ``true`` is not ``1``); ``claim_sets`` are tried in order and the first
satisfiable one wins; a claim asked for twice (same concrete path) is listed once, under the
first claim that asked for it.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sharing.dcql.option import CredentialOption, SelectedClaim
from sharing.dcql.path import compile_path
from sharing.dcql.query import ClaimsQuery, ClaimValue, CredentialQuery
from wallet.formats.model import ClaimPath

__all__ = ["QueryPlan", "Values"]

_MISSING: Any = object()
#: JSON type tags: a number equals a number whatever its Python type, never a string or boolean
_TAGS: dict[type, int] = {str: 0, int: 1, float: 1, bool: 2}


def _tag(value: Any) -> int | None:
    tag = _TAGS.get(type(value))
    if tag is None:  # subclasses of the JSON scalar types; anything else matches nothing
        for typ in (bool, str, int, float):
            if isinstance(value, typ):
                return _TAGS[typ]
    return tag


class Values:
    """A ``values`` constraint (§6.3) as a frozenset of ``(JSON type tag, value)`` pairs."""

    __slots__ = ("allowed",)

    def __init__(self, values: tuple[ClaimValue, ...]) -> None:
        self.allowed = frozenset((_tag(v), v) for v in values)

    def admits(self, value: Any) -> bool:
        tag = _tag(value)
        try:
            return tag is not None and (tag, value) in self.allowed
        except TypeError:  # an unhashable value of a scalar subclass: not a JSON scalar
            return False


class _Claim:
    """One ``claims`` entry: a keys-only path walked inline, or a compiled general walker."""

    __slots__ = ("cl", "keys", "values", "walk")

    def __init__(self, cl: ClaimsQuery) -> None:
        self.cl = cl
        self.keys = cl.path if all(type(c) is str for c in cl.path) else None
        self.walk = compile_path(cl.path)
        self.values = Values(cl.values) if cl.values is not None else None

    def select(self, root: Any) -> list[SelectedClaim] | None:
        """The general walk (wildcards, indices): every selected element that passes
        ``values``, or None."""
        found = self.walk(root)
        if found is None:
            return None
        cl, values = self.cl, self.values
        out = [SelectedClaim(p, v, cl.id, cl.path) for p, v in found
               if values is None or values.admits(v)]
        return out or None


class _ClaimSet:
    """The claims one option selects, in order: all of ``claims`` or one ``claim_sets`` entry.

    ``flat`` (every path keys only) maps each distinct path to the constraints on it, and
    ``shape`` lists the ``(path, claim id)`` of each value read, in order; otherwise the general
    walk is used and its results de-duplicated by concrete path.
    """

    __slots__ = ("claims", "flat", "ids", "shape")

    def __init__(self, claims: list[_Claim], ids: tuple[str, ...] | None) -> None:
        self.claims, self.ids = claims, ids
        self.flat: tuple[tuple[ClaimPath, tuple[Values, ...]], ...] | None = None
        self.shape: tuple[tuple[ClaimPath, str | None], ...] = ()
        if all(c.keys is not None for c in claims):
            order: dict[ClaimPath, tuple[str | None, list[Values]]] = {}
            for c in claims:
                _, constraints = order.setdefault(c.cl.path, (c.cl.id, []))
                if c.values is not None:
                    constraints.append(c.values)
            self.flat = tuple((p, tuple(vs)) for p, (_, vs) in order.items())
            self.shape = tuple((p, cid) for p, (cid, _) in order.items())

    def read(self, root: Any) -> tuple[Any, ...] | None:
        """The values at ``flat``'s paths in ``root`` (a keys-only walk), or None."""
        assert self.flat is not None
        out = []
        for path, constraints in self.flat:
            element = root
            for key in path:
                if type(element) is not dict and not isinstance(element, Mapping):
                    return None
                element = element.get(key, _MISSING)
                if element is _MISSING:
                    return None
            for values in constraints:
                if not values.admits(element):
                    return None
            out.append(element)
        return tuple(out)

    def select(self, root: Any) -> tuple[SelectedClaim, ...] | None:
        """The general walk: every claim must select something; a concrete path once."""
        unique: dict[ClaimPath, SelectedClaim] = {}
        for c in self.claims:
            got = c.select(root)
            if got is None:
                return None
            for sc in got:
                unique.setdefault(sc.path, sc)
        return tuple(unique.values())


class QueryPlan:
    """A credential query's ``claims`` and ``claim_sets``, compiled once per match."""

    __slots__ = ("sets",)

    def __init__(self, cq: CredentialQuery) -> None:
        if cq.claims is None:
            self.sets: tuple[_ClaimSet, ...] | None = None
            return
        claims = [_Claim(cl) for cl in cq.claims]
        if cq.claim_sets is None:
            self.sets = (_ClaimSet(claims, None),)
        else:
            by_id = {c.cl.id: c for c in claims}
            self.sets = tuple(_ClaimSet([by_id[i] for i in ids], ids) for ids in cq.claim_sets)

    def option(self, credential_id: str, root: Any, sd: frozenset[ClaimPath] | None
               ) -> CredentialOption | None:
        """The option for one credential (claims ``root``; ``sd`` its disclosable paths, None
        for a format without selective disclosure), or None when no claim set is satisfied."""
        if self.sets is None:  # no claims requested
            return CredentialOption._lazy(credential_id, None, None, (), None, sd)
        for cs in self.sets:  # in order: the first satisfiable set wins
            if cs.flat is not None:
                values = cs.read(root)
                if values is not None:
                    return CredentialOption._lazy(credential_id, cs.shape, values, None, cs.ids,
                                                  sd)
            else:
                claims = cs.select(root)
                if claims is not None:
                    return CredentialOption._lazy(credential_id, None, None, claims, cs.ids, sd)
        return None
