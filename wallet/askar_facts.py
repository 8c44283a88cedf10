"""Writes of one Askar record whose failures are told apart by what the store holds afterwards,
never by the error code.

Why: Askar's Python binding (0.5) reads a failed call's error from a slot shared by every call
(``askar_get_current_error``), not from the call's own callback. With many calls in flight the
code can be another call's: a replace of a missing row came back as ``SUCCESS``, 7 of 1,000
first-list markers went unwritten (upserts decide without it since). That a call failed is
reliable; which failure it was is not. So after a failed insert, remove or replace of one record
the record is looked up in the same session (one call more, on the failure path only) and the
answer decides: there after a failed insert is a duplicate; absent after a failed remove or
replace is a missing record. Anything else is the store's own failure, raised as it came (a
busy store is then retried as before), except that a code claiming what the store does not show
(``DUPLICATE`` with the record absent, ``NOT_FOUND`` with it there, or either when the lookup
fails too) is never passed on: it becomes ``UNEXPECTED``, which the boundaries map to
``Unavailable``.
"""

from __future__ import annotations

from typing import Any, NoReturn

from aries_askar import AskarError, AskarErrorCode, Session, Store

__all__ = ["insert", "provision", "remove", "replace"]


def _pass_on(failed: AskarError, claimed: AskarErrorCode) -> NoReturn:
    """Raise a failed write's error as it came, unless its code is ``claimed``, the outcome the
    store did not confirm."""
    if failed.code == claimed:
        raise AskarError(AskarErrorCode.UNEXPECTED,
                         f"a write failed as {claimed.name}, which the store does not show"
                         ) from failed
    raise failed


async def _held(s: Session, category: str, name: str, failed: AskarError,
                claimed: AskarErrorCode) -> bool:
    """Whether the record is in the store now (after ``failed``, a failed write of it)."""
    try:
        return await s.fetch(category, name) is not None
    except AskarError:
        _pass_on(failed, claimed)  # the store cannot say: the failure stays the store's


async def insert(s: Session, category: str, name: str, value: bytes,
                 tags: dict[str, Any] | None = None) -> bool:
    """Insert a record; False when it is not new (it is in the store after the failed insert)."""
    try:
        await s.insert(category, name, value, tags)
    except AskarError as exc:
        if await _held(s, category, name, exc, AskarErrorCode.DUPLICATE):
            return False
        _pass_on(exc, AskarErrorCode.DUPLICATE)
    return True


async def remove(s: Session, category: str, name: str) -> bool:
    """Remove a record; False when there was none (it is absent after the failed remove)."""
    try:
        await s.remove(category, name)
    except AskarError as exc:
        if await _held(s, category, name, exc, AskarErrorCode.NOT_FOUND):
            _pass_on(exc, AskarErrorCode.NOT_FOUND)
        return False
    return True


async def replace(s: Session, category: str, name: str, value: bytes,
                  tags: dict[str, Any] | None = None) -> bool:
    """Replace a record; False when there is none (it is absent after the failed replace)."""
    try:
        await s.replace(category, name, value, tags)
    except AskarError as exc:
        if await _held(s, category, name, exc, AskarErrorCode.NOT_FOUND):
            _pass_on(exc, AskarErrorCode.NOT_FOUND)
        return False
    return True


async def provision(uri: str, key_method: str, key: str) -> Store:
    """Create the store at ``uri``, or open it when it is there (``recreate=False``), and open it
    all the same when another process created it meanwhile.

    Askar's PostgreSQL provisioning is not safe against itself: two processes that both find no
    store both create its tables, and the later one fails (``duplicate key value violates unique
    constraint "pg_namespace_nspname_index"``) although the store it wanted is there now.
    Replicas of one deployment take a lock around their first start
    (``holder_api.compose.stores``); this covers whatever creates the store without it. A store
    that cannot be opened either fails as the provisioning did."""
    try:
        return await Store.provision(uri, key_method, key, recreate=False)
    except AskarError as failed:
        try:
            return await Store.open(uri, key_method, key)
        except AskarError:
            raise failed from None
