"""A probe of the garbage collector inside a ``satchel serve`` a test spawned
(tests/holder_api/test_pauses.py): Python imports it at start-up (``site``: ``sitecustomize``)
when this folder is on the process's ``PYTHONPATH``, and it does nothing unless
``SATCHEL_TEST_GC_PROBE`` names a file.

Every full (generation 2) collection that runs its callbacks is written to that file, one JSON
line each, with counts only (no clock):

- ``frozen``: objects in the permanent generation as it started (:func:`gc.get_freeze_count`);
- ``scanned``: objects the collector tracked outside it as it started, which a full collection
  examines (``len(gc.get_objects())``);
- ``unseen``: full collections since this probe was installed that ran no callback (CPython
  counts every collection in :func:`gc.get_stats`; a collection with ``gc.callbacks`` emptied,
  as the start-up freeze runs its own, calls none);
- ``timed``: whether the app's :class:`~holder_api.pauses.GcPauses` saw it.

``SIGUSR1`` runs a full collection (``gc.collect()``), so that a test has one after start-up
without waiting for the collector's own.
"""

from __future__ import annotations

import gc
import json
import os
import signal
from typing import Any


class _Probe:
    def __init__(self, path: str) -> None:
        self.path, self.seen = path, 0
        self.before = gc.get_stats()[2]["collections"]
        self.started: tuple[int, int] = (0, 0)

    def __call__(self, phase: str, info: dict[str, Any]) -> None:
        if info["generation"] != 2:
            return
        if phase == "start":
            self.started = (gc.get_freeze_count(), len(gc.get_objects()))
            return
        self.seen += 1
        frozen, scanned = self.started
        line = {"frozen": frozen, "scanned": scanned,
                "unseen": gc.get_stats()[2]["collections"] - self.before - self.seen,
                "timed": any(type(cb).__name__ == "GcPauses" for cb in gc.callbacks)}
        with open(self.path, "a", encoding="utf-8") as out:
            out.write(json.dumps(line) + "\n")


_path = os.environ.get("SATCHEL_TEST_GC_PROBE")
if _path:
    gc.callbacks.append(_Probe(_path))
    signal.signal(signal.SIGUSR1, lambda _sig, _frame: gc.collect())
