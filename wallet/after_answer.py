"""Work that waits until the answer has gone out: the HTTP layer collects it per request.

Why: some writes need not delay the learner's answer (moving a staged ledger entry into the
ledger, :mod:`wallet.ledger_outbox`), yet they should not compete with the answer either. A
service hands such work to :func:`after_answer`; while a request runs inside :func:`collect`
(``holder_api.middleware.after_answer_middleware``) the job waits until the response has been
written, else (a script, a test without the HTTP layer) it starts at once. A job only *starts*
work (it creates a task its owner tracks): it must be quick and must not raise.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar

__all__ = ["Job", "after_answer", "collect"]

Job = Callable[[], None]
_WAITING: ContextVar[list[Job] | None] = ContextVar("satchel_after_answer", default=None)


def after_answer(job: Job) -> None:
    """Run ``job`` once the current request has been answered (at once outside a request)."""
    waiting = _WAITING.get()
    if waiting is None:
        job()
    else:
        waiting.append(job)


@contextmanager
def collect() -> Iterator[list[Job]]:
    """Collect the jobs deferred inside the block (the caller runs them when it has answered)."""
    jobs: list[Job] = []
    token = _WAITING.set(jobs)
    try:
        yield jobs
    finally:
        _WAITING.reset(token)
