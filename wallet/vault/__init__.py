"""The learner's vault: credentials, holder keys and sealed records, one profile per learner.

docs/architecture.md. Storage is Aries Askar 0.5 (https://github.com/openwallet-foundation/askar)
on SQLite (embedded default) or PostgreSQL (at scale); :class:`InMemoryVault` honours the same
contract for tests. Every value is sealed with the learner's vault key (DEK) before it reaches the
store and index tags are blinded, so the store key alone — or a database copy — reveals nothing.

Public surface::

    store = await VaultStore.open(uri, load_or_create_store_key(data_dir))
    await store.create_profile(learner_id)
    vault = store.for_learner(learner_id, dek)          # LearnerVault, no I/O
    await vault.credentials.put(StoredCredential(...))
    page = await vault.credentials.list_summaries(CredentialQuery(type="OpenBadgeCredential"))
    full = await vault.credentials.get(page.items[0].id)
    await vault.holder_keys.put(generate_holder_key())
    await vault.records("inbox").put(item_id, {...}, index={"state": "pending"})
"""

from wallet.vault.askar import (
    VaultStore,
    generate_store_key,
    load_or_create_store_key,
    load_store_key,
)
from wallet.vault.learner import (
    CredentialRepository,
    HolderKeyRepository,
    LearnerVault,
    RecordStore,
    SealedRecordRepository,
    SummaryRows,
)
from wallet.vault.memory import InMemoryVault
from wallet.vault.model import (
    CredentialQuery,
    CredentialSummary,
    Page,
    StoredCredential,
    VaultBackend,
)

__all__ = [
    "CredentialQuery",
    "CredentialRepository",
    "CredentialSummary",
    "HolderKeyRepository",
    "InMemoryVault",
    "LearnerVault",
    "Page",
    "RecordStore",
    "SealedRecordRepository",
    "StoredCredential",
    "SummaryRows",
    "VaultBackend",
    "VaultStore",
    "generate_store_key",
    "load_or_create_store_key",
    "load_store_key",
]
