"""The per-request revocation check fails as ``Unavailable`` (503), never as a driver error."""

from __future__ import annotations

import pytest

from wallet.accounts.session_state import session_state_for
from wallet.db import create_engine
from wallet.errors import Unavailable


async def test_an_unreachable_postgresql_is_unavailable() -> None:
    engine = create_engine("postgresql+asyncpg://postgres@127.0.0.1:1/nowhere")  # refused
    state = session_state_for(engine)
    try:
        for _ in range(2):  # the pool failed to open: the next check tries again, same answer
            with pytest.raises(Unavailable):
                await state("a-learner", "a-session")
    finally:
        state.close()
        await engine.dispose()
