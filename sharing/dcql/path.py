"""Claims path pointers applied to JSON-based credentials (OpenID4VP 1.0 §7.1).

https://openid.net/specs/openid-4-verifiable-presentations-1_0.html#name-claims-path-pointer

Processing follows §7.1.1 literally, because a lenient walk would select claims the verifier did
not ask for: a string selects a key in every selected object, ``null`` every element of every
selected array, an integer one index; selecting into a value of the wrong type aborts with an
error; an empty selection is an error. The result keeps, for every selected value, its *concrete*
path (wildcards replaced by indices), since that is what selective disclosure works on.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

from wallet.formats.model import ClaimPath

__all__ = ["compile_path", "path_overlaps", "select_claims"]


def _is_obj(value: Any) -> bool:
    return type(value) is dict or isinstance(value, Mapping)


def _is_arr(value: Any) -> bool:
    return type(value) is list or (isinstance(value, Sequence)
                                   and not isinstance(value, str | bytes))


def select_claims(root: Any, path: ClaimPath) -> list[tuple[ClaimPath, Any]] | None:
    """The ``(concrete path, value)`` pairs ``path`` selects in ``root``; ``None`` on error.

    ``None`` covers both the §7.1.1 errors (wrong type along the way) and an empty selection,
    which the query treats alike: the claim is not there.
    """
    if all(type(c) is str for c in path):  # the common case: object keys only
        return _select_keys(root, path)
    selected: list[tuple[ClaimPath, Any]] = [((), root)]
    for comp in path:
        nxt: list[tuple[ClaimPath, Any]] = []
        if isinstance(comp, str):
            for here, element in selected:
                if not _is_obj(element):
                    return None
                if comp in element:
                    nxt.append((here + (comp,), element[comp]))
        elif comp is None:
            for here, element in selected:
                if not _is_arr(element):
                    return None
                nxt.extend((here + (i,), v) for i, v in enumerate(element))
        elif isinstance(comp, int) and not isinstance(comp, bool) and comp >= 0:
            for here, element in selected:
                if not _is_arr(element):
                    return None
                if comp < len(element):
                    nxt.append((here + (comp,), element[comp]))
        else:
            return None
        if not nxt:
            return None
        selected = nxt
    return selected


def _select_keys(root: Any, path: ClaimPath) -> list[tuple[ClaimPath, Any]] | None:
    element = root
    for comp in path:
        if type(element) is not dict and not _is_obj(element):
            return None
        if comp not in element:
            return None
        element = element[comp]
    return [(path, element)]


def compile_path(path: ClaimPath) -> Callable[[Any], list[tuple[ClaimPath, Any]] | None]:
    """:func:`select_claims` for one fixed ``path``, specialised once (a query is matched against
    many credentials)."""
    if all(type(c) is str for c in path):
        return lambda root: _select_keys(root, path)
    return lambda root: select_claims(root, path)


def path_overlaps(a: ClaimPath, b: ClaimPath) -> bool:
    """True when one path is a prefix of the other (``None`` matches any index).

    Revealing the claim at ``a`` needs every disclosure ``b`` above it (recursive disclosures)
    and every disclosure below it (the claim's value includes its sub-claims).
    """
    for x, y in zip(a, b, strict=False):
        if x != y and not (x is None and isinstance(y, int)) and not (
                y is None and isinstance(x, int)):
            return False
    return True
