"""Structured logs: one JSON object per line on stderr.

What is logged is chosen, not dumped: route templates instead of paths (a share-link path holds
its capability token), no query strings, no bodies, no headers. Secrets, tokens, codes, passphrases
and claim values never reach a log record.

A line is written for every request, so building it is kept cheap: the formatter never outputs
source locations, thread or process names, so :func:`configure_logging` turns their collection off
(the switches documented in the Python logging HOWTO, "Optimization",
https://docs.python.org/3/howto/logging.html#optimization), and the timestamp's seconds part and
the JSON encoder are reused.
"""

from __future__ import annotations

import json
import logging
import sys
import time
from typing import Any

__all__ = ["PARAMETER_LOGGERS", "QUIET_LOGGERS", "JsonFormatter", "configure_logging"]

#: Third-party loggers that write SQL statements' parameters (a learner's sealed keys, ids,
#: text) below a level: each is held at that level at least, whatever SATCHEL_LOG_LEVEL says.
#: aiosqlite logs each call with its arguments at DEBUG; SQLAlchemy's engine logs statements
#: and their parameters at INFO (``echo``); asyncpg logs none today, held at INFO in case.
PARAMETER_LOGGERS = {"aiosqlite": logging.INFO, "sqlalchemy.engine": logging.WARNING,
                     "asyncpg": logging.INFO}

#: Third-party loggers whose INFO lines are noise at every stop and refused start (the pool's
#: "Pool disposed … Current Overflow: -10", "Pool recreating"): WARNING unless DEBUG is asked.
#: (A pool's logger is named after its class: ``wallet.db.MeasuredPool``.)
QUIET_LOGGERS = ("sqlalchemy.pool", "wallet.db.MeasuredPool")

_RESERVED = frozenset(vars(logging.LogRecord("", 0, "", 0, "", None, None))) | {
    "message", "asctime", "taskName"}
_ENCODER = json.JSONEncoder(default=str)


class JsonFormatter(logging.Formatter):
    def __init__(self) -> None:
        super().__init__()
        self._second = -1
        self._stamp = ""

    def _ts(self, record: logging.LogRecord) -> str:
        second = int(record.created)
        if second != self._second:  # one strftime per second, not per line
            self._stamp = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(second))
            self._second = second
        return f"{self._stamp}.{int(record.msecs):03d}Z"

    def format(self, record: logging.LogRecord) -> str:
        out: dict[str, Any] = {
            "ts": self._ts(record),
            "level": record.levelname.lower(),
            "logger": record.name,
            "msg": record.getMessage(),
        }
        for key, value in vars(record).items():
            if key not in _RESERVED and key[0] != "_":
                out[key] = value
        if record.exc_info and record.exc_info[0] is not None:
            out["error_type"] = record.exc_info[0].__name__
        return _ENCODER.encode(out)


def configure_logging(level: str = "INFO") -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    logging.getLogger("aiohttp.access").setLevel(logging.WARNING)  # we log requests ourselves
    for name, floor in PARAMETER_LOGGERS.items():
        logging.getLogger(name).setLevel(max(floor, root.level))
    for name in QUIET_LOGGERS:
        logging.getLogger(name).setLevel(root.level if root.level <= logging.DEBUG
                                         else max(logging.WARNING, root.level))
    # The JSON lines carry none of these; collecting them costs a stack walk per record.
    logging._srcfile = None  # the documented switch (logging's own docs), private as it looks
    logging.logThreads = False
    logging.logProcesses = False
    logging.logMultiprocessing = False
