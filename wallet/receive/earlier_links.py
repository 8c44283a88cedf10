"""Inbox links created before their labels moved into their rows (revision 0006): each one's
label moves into its row at the learner's next list of links or of the inbox, so that revoking
it is then one SQL transaction like any other link's (before, the vault label was deleted in a
second commit after the row).

Only an unlocked learner's request can do it (sealing needs the vault key), and it takes three
steps, each safe to die after, none losing a label (docs/receiving.md):

1. the label is sealed into the row (only a row that holds no record yet), marked as one whose
   vault copy may still exist;
2. the vault copies are removed (one vault transaction);
3. the rows' records are sealed again without the mark (only rows that still hold what step 1
   or an earlier list wrote).

A list that finds a marked record (a process died after step 1 or 2) does steps 2 and 3 again:
removing a vault label already gone is no error. A failure (a store down) is logged and left to
the next list; the list itself is answered from what it read.

Revoking such a link before any list moved its label is one SQL transaction too: the row's
deletion, its ledger entry and a row naming the link in ``inbox_link_leftovers``. The label is
never shown again from then on (only live rows' labels are read), and the next list removes its
vault copy in step 2 (with the others), then forgets the leftover (a process dying in between:
the list after does both again).
"""

from __future__ import annotations

import logging
from collections.abc import Collection, Iterable, Mapping
from typing import Any

from wallet.crypto import VaultKey
from wallet.errors import BadInput, SatchelError
from wallet.receive.inbox_store import InboxStore, StoredLink
from wallet.row_records import seal_row_record
from wallet.vault.learner import SealedRecordRepository

__all__ = ["VAULT_COPY", "move_into_rows"]

log = logging.getLogger(__name__)

#: in a row's record: its label may still have a copy in the vault (steps 2 and 3 to do)
VAULT_COPY = "vault_copy"


async def move_into_rows(store: InboxStore, vault_labels: SealedRecordRepository,
                         learner_id: str, dek: VaultKey, table: str,
                         links: Mapping[str, StoredLink],
                         records: Mapping[str, dict[str, Any]],
                         leftovers: Collection[str] = ()) -> None:
    """Move the labels of ``links`` read from the vault (their rows hold none) into their rows,
    and finish a move a process died in (rows whose record is marked); ``records``: each link's
    record as read (from its row, or from the vault). ``leftovers``: revoked links whose vault
    copies are removed with the moved ones', then forgotten."""
    moving = {i: r for i, r in records.items() if links[i].sealed_record is None}
    held = {i: links[i].sealed_record for i, r in records.items()
            if links[i].sealed_record is not None and r.get(VAULT_COPY) is True}
    if not moving and not held and not leftovers:
        return

    def sealed(ids: Iterable[str], marked: bool) -> dict[str, bytes]:
        """Each record sealed for its row; one that cannot be (BadInput) is left where it is
        (logged by id only), so that it holds back no other label's move."""
        out: dict[str, bytes] = {}
        for i in ids:
            body = {k: v for k, v in records[i].items() if k != VAULT_COPY}
            try:
                out[i] = seal_row_record(dek, table, i, {**body, VAULT_COPY: True} if marked
                                         else body)
            except BadInput:
                log.warning("an inbox link label cannot be sealed into its row",
                            extra={"link_id": i})
        return out

    try:
        marked = sealed(moving, True)
        if marked:
            written = await store.seal_records(learner_id, {i: (None, blob)
                                                            for i, blob in marked.items()})
            held |= {i: marked[i] for i in written}
        # the vault copies of the moved labels (not the unsealable ones) and of the leftovers
        await vault_labels.discard(marked.keys() | held.keys() | set(leftovers))
        if leftovers:
            await store.forget_leftovers(learner_id, leftovers)
        unmarked = sealed(held, False)
        unmarking = {i: (blob, unmarked[i]) for i, blob in held.items()
                     if blob is not None and i in unmarked}
        if unmarking:
            await store.seal_records(learner_id, unmarking)
    except SatchelError as exc:
        log.warning("inbox link labels not moved into their rows this time",
                    extra={"reason": exc.code})
