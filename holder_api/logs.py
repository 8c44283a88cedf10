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
from collections import Counter
from collections.abc import Callable
from typing import Any

from aiohttp.http_exceptions import HttpProcessingError

__all__ = ["PARAMETER_LOGGERS", "QUIET_LOGGERS", "UNPARSED_LOG_EVERY", "JsonFormatter",
           "UnparsedRequests", "configure_logging"]

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

#: Seconds between two ``requests not parsed`` lines at most (each counts those since the last).
UNPARSED_LOG_EVERY = 10.0


class UnparsedRequests(logging.Filter):
    """``aiohttp.server``'s line for a request it could not parse (a bad chunk size, header byte
    or line length, a second ``Host``): the client's fault, yet written at ERROR with the
    client's address and a traceback, once per attempt, so a stranger set the rate of the lines
    that page an operator. They become one WARNING line per :data:`UNPARSED_LOG_EVERY` seconds,
    ``requests not parsed``, counting them and naming their kinds, never an address (as
    admission's ``requests shed``). Any other line of the logger passes as it came."""

    def __init__(self, clock: Callable[[], float] = time.monotonic,
                 every: float = UNPARSED_LOG_EVERY) -> None:
        super().__init__("aiohttp.server")
        self._clock, self._every = clock, every
        self._due = float("-inf")
        self._kinds: Counter[str] = Counter()

    @property
    def pending(self) -> int:
        """Unparsed requests not yet counted in a line."""
        return sum(self._kinds.values())

    def filter(self, record: logging.LogRecord) -> bool:
        exc = record.exc_info[1] if record.exc_info else None
        if not isinstance(exc, HttpProcessingError):
            return True
        self._kinds[type(exc).__name__] += 1
        now = self._clock()
        if now < self._due:
            return False
        record.levelno, record.levelname = logging.WARNING, "WARNING"
        record.msg, record.args, record.exc_info, record.exc_text = (
            "requests not parsed", (), None, None)
        record.unparsed, record.errors = self.pending, dict(self._kinds)
        self._kinds.clear()
        self._due = now + self._every
        return True


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
    server = logging.getLogger("aiohttp.server")
    for old in [f for f in server.filters if isinstance(f, UnparsedRequests)]:
        server.removeFilter(old)
    server.addFilter(UnparsedRequests())
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
