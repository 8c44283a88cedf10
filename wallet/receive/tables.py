"""Tables of the inbox (the schema itself is owned by Alembic revision 0003_inbox).

``inbox_links`` maps a keyed hash of a capability token to the learner and link ids (the token
itself is never stored here; the link's label only sealed under the learner's vault key, in
``sealed_record``: :mod:`wallet.row_records`; links created before revision
``0006_inbox_link_records`` have none, their label is in the vault). ``inbox_items`` holds each push as a
libsodium sealed box to the learner's inbox public key: the server can write it while the vault is
locked, but only the learner's unlocked inbox key can open it. ``inbox_link_leftovers`` names
revoked links whose label may still have a copy in the vault (revision
``0008_inbox_link_leftovers``), removed at the learner's next list
(:mod:`wallet.receive.earlier_links`).
"""

from __future__ import annotations

from sqlalchemy import Column, DateTime, LargeBinary, MetaData, String

from wallet.accounts.models import learner_owned

__all__ = ["inbox_items", "inbox_link_leftovers", "inbox_links", "metadata"]

metadata = MetaData()

inbox_links = learner_owned(
    "inbox_links", metadata,
    Column("token_hash", String(64), nullable=False, unique=True),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("sealed_record", LargeBinary, nullable=True),
)

inbox_items = learner_owned(
    "inbox_items", metadata,
    Column("link_id", String(36), nullable=False),
    Column("received_at", DateTime(timezone=True), nullable=False),
    Column("sealed", LargeBinary, nullable=False),
    index_learner=False,
)

#: a revoked link (``id``: its id) whose label may still have a copy in the vault
inbox_link_leftovers = learner_owned("inbox_link_leftovers", metadata)
