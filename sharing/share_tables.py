"""Tables of share links (SQLAlchemy 2 Core); the schema is owned by Alembic revision
``0004_share_links`` (``sharing/migrations``).

Spec: docs/presenting.md "Share links"; GDPR Art. 25 and 32 (data protection by design,
pseudonymisation and encryption), https://eur-lex.europa.eu/eli/reg/2016/679/oj .

Why SQL and not the learner's vault: a link is opened while the learner is locked, so its row must
be readable without the learner's key, and found in one indexed lookup. What is stored, and why it
is safe to store:

- ``lookup_hash`` — a keyed hash (service pepper) of the *lookup half* of the link token, so a
  database copy cannot be turned back into a working URL;
- ``sealed`` — the presentation, sealed (XChaCha20-Poly1305) under the *key half* of the token,
  which the server never stores: without the link nobody, the operator included, can read it. It is
  wiped when the link is revoked, runs out of views or is found expired;
- ``expires_at``, ``max_views``, ``views``, ``revoked`` — the limits, enforced in one UPDATE;
- ``sealed_record`` — what the learner's list shows (the credential id, the claim paths), sealed
  under the learner's vault key (:mod:`wallet.row_records`), written with the row and its ledger
  entry in one transaction; links created before revision ``0007_share_link_records`` have none
  (their record is in the learner's vault);
- ``share_link_views`` — a view, sealed (X25519 sealed box) to the learner's inbox public key,
  waiting for the learner's next unlock to enter the consent ledger (the ledger needs the learner's
  vault key, which only exists while the learner is logged in).
"""

from __future__ import annotations

from sqlalchemy import Boolean, Column, DateTime, Integer, LargeBinary, MetaData, String

from wallet.accounts.models import learner_owned

__all__ = ["metadata", "share_link_views", "share_links"]

metadata = MetaData()

share_links = learner_owned(
    "share_links", metadata,
    Column("lookup_hash", String(64), nullable=False, unique=True),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("expires_at", DateTime(timezone=True), nullable=False),
    Column("max_views", Integer, nullable=False),
    Column("views", Integer, nullable=False),
    Column("revoked", Boolean, nullable=False),
    Column("sealed", LargeBinary, nullable=True),
    Column("sealed_record", LargeBinary, nullable=True),
)

share_link_views = learner_owned(
    "share_link_views", metadata,
    Column("sealed", LargeBinary, nullable=False),
)
