"""The names and values of a batch of Askar rows, copied out with one native call each.

Why: aries_askar's ``Entry.name`` and ``Entry.raw_value`` each go through its generic call
wrapper (argument conversion with ``hasattr`` per argument, a per-entry result cache) and wrap
the result in a buffer object with a ``weakref.finalize`` destructor (the value's memoryview a
second one): most of the Python work of a list of 20 rows (bench/list_cost.py). The same two
native functions are called here directly, each result copied and freed at once.
"""

from __future__ import annotations

import logging
from ctypes import CDLL, POINTER, byref, c_char_p, c_int32, c_int64, string_at
from typing import Any

from aries_askar import AskarError, AskarErrorCode
from aries_askar.bindings.handle import EntryListHandle
from aries_askar.bindings.lib import Lib, RawBuffer
from aries_askar.store import EntryList

__all__ = ["entry_rows"]

log = logging.getLogger(__name__)


class _Calls:
    """The library's functions with their own prototypes (the wrapper's stay untouched)."""

    def __init__(self) -> None:
        loaded = Lib().loaded
        lib = CDLL(loaded._cdll._name)  # the library already loaded: the same native state
        self.error = loaded.get_current_error
        self.name = lib.askar_entry_list_get_name
        self.name.argtypes = (EntryListHandle, c_int32, POINTER(c_char_p))
        self.name.restype = c_int64
        self.value = lib.askar_entry_list_get_value
        self.value.argtypes = (EntryListHandle, c_int32, POINTER(RawBuffer))
        self.value.restype = c_int64
        self.free_string = lib.askar_string_free
        self.free_string.argtypes = (c_char_p,)
        self.free_string.restype = None
        self.free_buffer = lib.askar_buffer_free
        self.free_buffer.argtypes = (RawBuffer,)
        self.free_buffer.restype = None


_CALLS: list[_Calls | None] = []


def _calls() -> _Calls | None:
    """The direct calls, or None where this aries_askar release does not expose what they need
    (``_cdll`` is not its public API): then rows are read through its own entries, slower but
    the same."""
    if not _CALLS:
        try:
            _CALLS.append(_Calls())
        except (AttributeError, OSError):
            log.warning("aries_askar's library is not reachable directly; "
                        "reading rows through its entries")
            _CALLS.append(None)
    return _CALLS[0]


def _failed(calls: _Calls) -> AskarError:
    err = calls.error(True)
    return err if err is not None else AskarError(AskarErrorCode.WRAPPER, "row not read")


def entry_rows(batch: Any) -> list[tuple[str, bytes]]:
    """(name, value) of every entry of an entry list handle, in order."""
    calls = _calls()
    if calls is None:
        return [(e.name, bytes(e.raw_value)) for e in EntryList(batch)]
    get_name, get_value = calls.name, calls.value
    free_string, free_buffer = calls.free_string, calls.free_buffer
    rows: list[tuple[str, bytes]] = []
    for index in range(len(EntryList(batch))):
        name = c_char_p()
        if get_name(batch, index, byref(name)):
            raise _failed(calls)
        try:
            text = (name.value or b"").decode("utf-8")
        finally:
            free_string(name)
        value = RawBuffer()
        if get_value(batch, index, byref(value)):
            raise _failed(calls)
        try:
            data = string_at(value.data, value.len) if value.len else b""
        finally:
            free_buffer(value)
        rows.append((text, data))
    return rows
