"""The learner's GDPR rights: export (Art. 15, 20), import, erasure (Art. 17), withdrawal (Art. 7(3)).

Specs: GDPR, https://eur-lex.europa.eu/eli/reg/2016/679/oj — Art. 7(3) (withdraw consent as easily
as it was given), Art. 15 (access), Art. 17 (erasure), Art. 20 (portability: "structured, commonly
used and machine-readable", "transmitted to another controller"); RFC 9106 (Argon2id) for the key
that seals exported holder keys; JSON Schema 2020-12 for the published bundle format
(``consent/export_bundle.schema.json``, served at ``GET /v1/me/export/schema``); docs/consent.md.

This is the one module that orchestrates ``wallet`` and ``consent`` (the architecture test allows
it). Why each right is built as it is:

- **Export** records its ``export`` ledger entry *first* (fail closed: no bundle leaves without
  it), so the bundle's own ledger ends with it. Credentials go out as stored (``raw`` byte for
  byte, plus Satchel's metadata); holder private keys are sealed with XChaCha20-Poly1305 under
  ``Argon2id(passphrase, fresh salt)``; a sealed constant (``check``) tells a wrong passphrase
  apart from damage.
- **Import** goes into a fresh account (no credentials yet). Everything is parsed, unsealed and
  checked *before* the first write (bundle version, schema, passphrase, every credential, every
  key, the whole exported chain). Then every key and credential, the takeover of the chain
  (staged in the vault's ledger outbox: :meth:`wallet.ledger_outbox.LedgerOutbox.stage_takeover`)
  and the import's own record
  (the bundle's digest and the answer) commit in ONE vault transaction: a crash, ``kill -9``
  included, leaves all of it or none of it, never part. The outbox then moves the takeover into
  the ledger exactly once (before the answer, or at the learner's next access if a crash or an
  outage stopped it). A retry of the same bundle after it committed answers as the import did
  (``replayed``), without writing anything again; another bundle is refused (409), as is any
  import into an account that holds credentials. Imported holder keys keep their ``kid``
  (RFC 7638 thumbprint), so a credential's ``cnf`` still finds its key; credential ids are kept,
  so the imported ledger's ``credential_ids`` still point at them.
- **Erasure** checks the passphrase, then commits once: the ledger's tombstone (bodies and
  blinding key deleted, chain still verifiable), the account marked as being erased, its tokens
  ended, its share and inbox links deleted (the registered tables' rows). Then it runs the
  registered erasers, crypto-shreds (erasure key first), removes the Askar profile and every row
  that names the learner, the account row last, and on SQLite checkpoints the WAL (TRUNCATE) and
  VACUUMs both files. Each of those steps is idempotent and the mark lasts until the last one,
  so an erasure cut short anywhere (a crash, a store failure) is finished by its retry, by
  whatever touches the account or its username next, or by the sweep at start-up.
"""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import json
import logging
import os
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import Any

from jsonschema import Draft202012Validator
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from consent.documents import BundleKeys, BundleSchema, ExportBundle, JwkSet
from consent.errors import (
    AccountNotEmpty,
    BundlePassphraseWrong,
    BundleRejected,
    BundleVersionUnsupported,
    ImportsBusy,
    LedgerErased,
)
from consent.events import ConsentEvent, EventKind
from consent.learner_ledger import LearnerLedger
from consent.portability import EXPORT_FORMAT, bundle_keys_digest
from consent.service import ConsentService
from wallet.accounts.budgets import PUBLIC_DOC_LIMIT, PUBLIC_DOC_WINDOW, Scope
from wallet.accounts.limits import RateLimiter, UnlockGate
from wallet.accounts.service import AccountService, LearnerSession
from wallet.clock import SYSTEM_CLOCK, Clock, iso
from wallet.crypto import (
    SALT_BYTES,
    DecryptionFailed,
    HolderKey,
    KdfCost,
    VaultKey,
    check_passphrase_strength,
    derive_kek,
    open_holder_key,
    seal_holder_key,
)
from wallet.db import scrub, scrub_sqlite_file
from wallet.errors import BadInput, Conflict, NotFound, SatchelError, Unavailable
from wallet.intake import CredentialIntake
from wallet.jose import b64url_decode, b64url_encode
from wallet.large_bodies import BodyGate
from wallet.ledger_outbox import LedgerOutbox, StagedEntry
from wallet.pdf_intake import PDF_FORMAT, PdfIntake, pdf_bytes
from wallet.personal_data import PersonalDataRegistry
from wallet.ports import Activity
from wallet.vault import LearnerVault, StoredCredential, VaultStore

__all__ = ["BUNDLE_FORMAT", "BUNDLE_VERSION", "EXPORT_PURPOSE", "IMPORT_PURPOSE", "MAX_BUNDLE_BYTES",
           "ImportAdmission", "ImportResult", "RightsService", "bundle_schema"]

log = logging.getLogger("satchel.rights")

#: Credential ids one ledger entry may name (the event's own bound).
_IDS_PER_ENTRY = 64
#: The vault record an import commits with what it brings (one per account: its id is fixed)
_IMPORTED, _IMPORTED_ID = "gdpr-import", "bundle"
#: the purposes an export's and an import's entries record (the web history translates them)
EXPORT_PURPOSE = "GDPR Art. 15/20 export requested by the learner"
IMPORT_PURPOSE = "GDPR Art. 20 import requested by the learner"
#: Imports one learner may start (admitted, before the body is read) per window, in seconds
_IMPORT_LIMIT, _IMPORT_WINDOW = 60, 3600
#: What a client refused for want of an import slot waits (an import takes seconds)
_IMPORT_RETRY_AFTER = 5

BUNDLE_FORMAT = "satchel-export"
#: The largest import body (API and web form alike): tens of credentials with their PDFs
MAX_BUNDLE_BYTES = 51 * 1024 * 1024
BUNDLE_VERSION = 1
_CIPHER = "xchacha20-poly1305-ietf"
_CHECK_PLAIN = b"satchel-export/v1 keys"
_MAX_IMPORT_MEMLIMIT = 256 * 1024 * 1024  # an imported bundle must not make us allocate more
_MAX_IMPORT_OPSLIMIT = 4  # 256 MiB × 4 passes ≈ 0.8 s: the most one bundle may cost


@cache
def bundle_schema() -> BundleSchema:
    """The published JSON Schema of the export bundle (package data)."""
    text = resources.files("consent").joinpath("export_bundle.schema.json").read_text("utf-8")
    schema: BundleSchema = json.loads(text)
    return schema


@cache
def _validator() -> Draft202012Validator:
    return Draft202012Validator(bundle_schema())


@dataclass(frozen=True, slots=True)
class ImportResult:
    credentials: int
    keys: int
    ledger_entries: int
    import_event_id: str | None
    #: this bundle had been imported already (a retry after a lost answer): nothing written
    replayed: bool = False



def _fingerprint(bundle: object) -> str:
    """The bundle's digest (canonical JSON): a retry of the same import is recognised by it."""
    try:
        text = json.dumps(bundle, sort_keys=True, separators=(",", ":"))
    except (TypeError, ValueError, RecursionError) as exc:
        raise BundleRejected("the bundle must be a JSON object") from exc
    return hashlib.sha256(text.encode()).hexdigest()


def _check_aad(salt: bytes) -> bytes:
    return b"satchel/export/v1/check\x00" + salt


def _credential_json(c: StoredCredential) -> dict[str, Any]:
    body: dict[str, Any] = json.loads(c.to_bytes())
    body.pop("v", None)
    return body


def _credential_from(item: Mapping[str, Any], n: int) -> StoredCredential:
    try:
        return StoredCredential.from_bytes(json.dumps({**item, "v": 1}).encode())
    except (SatchelError, ValueError, TypeError, KeyError) as exc:
        raise BundleRejected(f"credential {n} in the bundle is malformed",
                             pointer=f"/credentials/{n}") from exc


@dataclass(frozen=True, slots=True)
class _Staged:
    credentials: list[StoredCredential]
    keys: list[HolderKey]
    ledger: list[dict[str, Any]]


class ImportAdmission:
    """One import admitted by :meth:`RightsService.admitted` (a replica's slot and a hit of the
    learner's budget), which :meth:`RightsService.import_bundle` requires: live while the block
    that admitted it runs, for that learner only."""

    __slots__ = ("learner_id",)

    def __init__(self, learner_id: str) -> None:
        self.learner_id = learner_id

    def __repr__(self) -> str:  # no learner id in a log line
        return "ImportAdmission(...)"


class RightsService:
    """Export, import, erasure and withdrawal for one Satchel (built by
    :func:`holder_api.compose.consent.build_rights`)."""

    def __init__(self, *, accounts: AccountService, vault: VaultStore, consent: ConsentService,
                 ledger: LearnerLedger, registry: PersonalDataRegistry, gate: UnlockGate,
                 limiter: RateLimiter, engine: AsyncEngine, vault_uri: str,
                 service_url: str, intake: CredentialIntake, outbox: LedgerOutbox,
                 clock: Clock = SYSTEM_CLOCK, import_slots: int = 2) -> None:
        self._accounts = accounts
        self._vault = vault
        self._consent = consent
        self._ledger = ledger
        self._registry = registry
        self._gate = gate
        self._limiter = limiter
        self._engine = engine
        self._vault_uri = vault_uri
        self._service_url = service_url
        self._intake = intake
        self._outbox = outbox
        self._clock = clock
        #: imports this replica runs at once (their bodies are read and parsed inside the bound)
        self.import_slots = import_slots
        #: the imports' slots and budget (wallet.large_bodies)
        self.imports = BodyGate(scope=Scope.GDPR_IMPORT, slots=import_slots, limiter=limiter,
                                busy=lambda wait: ImportsBusy(
                                    "this replica runs as many imports as it may: try again "
                                    "shortly", retry_after=wait),
                                retry_after=_IMPORT_RETRY_AFTER)
        self._admissions: set[ImportAdmission] = set()  # live ones (identity: none is forged)

    # ------------------------------------------------------------------ public documents
    async def public_keys(self, client: str) -> JwkSet:
        """The ledger's public keys; rate limited (anyone may ask)."""
        await self._limiter.hit(Scope.PUBLIC_DOC, client, limit=PUBLIC_DOC_LIMIT,
                                window=PUBLIC_DOC_WINDOW)
        return self._ledger.public_keys()

    async def export_schema(self, client: str) -> BundleSchema:
        """The bundle's JSON Schema; rate limited (anyone may ask)."""
        await self._limiter.hit(Scope.PUBLIC_DOC, client, limit=PUBLIC_DOC_LIMIT,
                                window=PUBLIC_DOC_WINDOW)
        return bundle_schema()

    # ----------------------------------------------------------------------------- export
    async def export(self, session: LearnerSession, passphrase: object) -> ExportBundle:
        if not isinstance(passphrase, str):
            raise BadInput("passphrase must be a string")
        check_passphrase_strength(passphrase)
        lv = self._vault.for_learner(session.learner_id, session.dek)
        credentials = await lv.credentials.all()
        keys = await lv.holder_keys.list()
        await self._ledger.record(session.learner_id, session.dek, ConsentEvent(
            kind=EventKind.EXPORT, purpose=EXPORT_PURPOSE,
            legal_basis="legal_obligation",
            details={"credentials": len(credentials), "keys": len(keys)}))
        cost, salt = self._accounts.kdf, os.urandom(SALT_BYTES)
        sealing = VaultKey.from_bytes(await self._gate.run(derive_kek, passphrase, salt, cost))
        sealed_keys: BundleKeys = {
            "protection": {"kdf": "argon2id", "salt": b64url_encode(salt),
                           "opslimit": cost.opslimit, "memlimit": cost.memlimit,
                           "cipher": _CIPHER},
            "check": b64url_encode(sealing.seal(_CHECK_PLAIN, _check_aad(salt))),
            "items": [{"kid": k.kid, "alg": k.alg, "public_jwk": dict(k.public_jwk),
                       "did": k.did, "created_at": iso(k.created_at),
                       "sealed": b64url_encode(seal_holder_key(sealing, k))} for k in keys],
        }
        # the chain's manifest names these keys: lifted into another bundle, it is not this
        # service's word any more (docs/consent.md, "What an import vouches for")
        chain = await self._consent.export_chain(self._ledger.ref(session.learner_id),
                                                 session.dek,
                                                 bundle_keys=bundle_keys_digest(sealed_keys))
        return {
            "format": BUNDLE_FORMAT, "version": BUNDLE_VERSION,
            "exported_at": iso(self._clock()),
            "source": {"service": self._service_url,
                       "ledger_jwk": self._ledger.public_keys()["keys"][0]},
            "credentials": [_credential_json(c) for c in credentials],
            "keys": sealed_keys,
            "ledger": {"format": EXPORT_FORMAT, "records": chain},
            # kept, empty, so that the format and its version stay as they are: no feature
            # keeps a record set outside the vault that an export should carry
            "records": {},
        }

    # ----------------------------------------------------------------------------- import
    async def _open_keys(self, keys: Mapping[str, Any], passphrase: str) -> list[HolderKey]:
        prot = keys["protection"]
        try:
            salt = b64url_decode(prot["salt"])
            cost = KdfCost(opslimit=int(prot["opslimit"]), memlimit=int(prot["memlimit"]))
            check = b64url_decode(keys["check"])
        except (BadInput, ValueError, TypeError) as exc:
            raise BundleRejected("the bundle's key protection is malformed",
                                 pointer="/keys/protection") from exc
        if (len(salt) != SALT_BYTES or cost.memlimit > _MAX_IMPORT_MEMLIMIT
                or cost.opslimit > _MAX_IMPORT_OPSLIMIT):
            raise BundleRejected("the bundle's key protection is out of bounds",
                                 pointer="/keys/protection")
        sealing = VaultKey.from_bytes(await self._gate.run(derive_kek, passphrase, salt, cost))
        try:
            if sealing.open(check, _check_aad(salt)) != _CHECK_PLAIN:
                raise DecryptionFailed()
        except DecryptionFailed as exc:
            raise BundlePassphraseWrong("the passphrase does not open this bundle") from exc
        out: list[HolderKey] = []
        for n, item in enumerate(keys["items"]):
            try:
                key = open_holder_key(sealing, b64url_decode(item["sealed"]))
            except (DecryptionFailed, BadInput) as exc:
                raise BundleRejected(f"holder key {n} does not open",
                                     pointer=f"/keys/items/{n}") from exc
            if key.kid != item["kid"] or key.alg != item["alg"]:
                raise BundleRejected(f"holder key {n} does not match its listing",
                                     pointer=f"/keys/items/{n}")
            out.append(key)
        if len({k.kid for k in out}) != len(out):
            raise BundleRejected("the bundle lists a holder key twice", pointer="/keys/items")
        return out

    async def _stage(self, bundle: object, passphrase: object) -> _Staged:
        if not isinstance(bundle, Mapping):
            raise BundleRejected("the bundle must be a JSON object")
        if not isinstance(passphrase, str) or not passphrase:
            raise BadInput("passphrase must be a non-empty string")
        fmt, version = bundle.get("format"), bundle.get("version")
        if fmt != BUNDLE_FORMAT:
            raise BundleRejected("this is not a Satchel export bundle", pointer="/format")
        if not isinstance(version, int) or isinstance(version, bool) or version != BUNDLE_VERSION:
            raise BundleVersionUnsupported(
                f"bundle version not supported (this Satchel reads version {BUNDLE_VERSION})",
                pointer="/version")
        err = next(iter(_validator().iter_errors(bundle)), None)
        if err is not None:
            where = "/" + "/".join(str(p) for p in err.absolute_path)
            raise BundleRejected(f"the bundle does not follow its schema at {where}",
                                 pointer=where)
        credentials = [_credential_from(c, n) for n, c in enumerate(bundle["credentials"])]
        credentials = [await self._reverify(c, n) for n, c in enumerate(credentials)]
        if len({c.id for c in credentials}) != len(credentials):
            raise BundleRejected("the bundle lists a credential twice", pointer="/credentials")
        ledger = [dict(r) for r in bundle["ledger"]["records"]]
        if ledger:
            # which bundle carries the chain is the importer's to say, never the bundle's: its
            # manifest is this service's word only in the bundle it was exported in
            ledger[-1]["carrier_keys"] = bundle_keys_digest(bundle["keys"])
            # ImportRejected (400) naming the first bad entry, or one its manifest does not bind
            self._consent.ledger.check_export(ledger)
        records = sorted(bundle.get("records") or {})  # every release exported it empty
        if records:
            raise BundleRejected("the bundle holds records this Satchel cannot take",
                                 pointer=f"/records/{records[0]}")
        keys = await self._open_keys(bundle["keys"], passphrase)
        return _Staged(credentials, keys, ledger)

    async def _reverify(self, c: StoredCredential, n: int) -> StoredCredential:
        """Only ``raw`` is taken from a bundle: proof, status, trust and everything derived from
        them are established again here, exactly as for any credential that arrives."""
        if c.format == PDF_FORMAT:
            return await self._reverify_pdf(c, n)
        try:
            result = await self._intake.admit(c.raw, languages=c.data.get("languages") or ("en",),
                                              source="gdpr-import", credential_id=c.id)
        except SatchelError as exc:
            raise BundleRejected(f"credential {n} in the bundle does not verify ({exc.code})",
                                 pointer=f"/credentials/{n}") from exc
        return dataclasses.replace(result.stored, added_at=c.added_at)

    async def _reverify_pdf(self, c: StoredCredential, n: int) -> StoredCredential:
        """A signed PDF is checked again from its bytes (kept even if unsigned: it is the
        learner's own record, and stays unverified); its attached credentials arrive in the
        bundle as credentials of their own."""
        try:
            admitted = await PdfIntake(self._intake).admit(
                pdf_bytes(c), now=self._clock(),
                languages=c.data.get("languages") or ("en",), keep_unsigned=True,
                source="gdpr-import", credential_id=c.id, store_attachments=False)
        except (SatchelError, ValueError) as exc:
            code = exc.code if isinstance(exc, SatchelError) else "pdf_malformed"
            raise BundleRejected(f"credential {n} in the bundle does not verify ({code})",
                                 pointer=f"/credentials/{n}") from exc
        return dataclasses.replace(admitted.pdf, added_at=c.added_at)

    @property
    def imports_running(self) -> int:
        return self.imports.running

    @asynccontextmanager
    async def admitted(self, learner_id: str) -> AsyncIterator[ImportAdmission]:
        """Admit one import, *before* its body is read (the API and the web form take up to
        51 MiB, parsed into several times that): one of this replica's ``import_slots``, else
        503 ``imports_busy`` at once, and the learner's ``gdpr-import`` budget, else 429; both
        with ``Retry-After`` (:class:`wallet.large_bodies.BodyGate`). Held until the block
        ends; :meth:`import_bundle` takes the admission it yields."""
        async with self.imports.admitted(learner_id, budget=(_IMPORT_LIMIT, _IMPORT_WINDOW)):
            admission = ImportAdmission(learner_id)
            self._admissions.add(admission)
            try:
                yield admission
            finally:
                self._admissions.discard(admission)

    async def import_bundle(self, admission: ImportAdmission, session: LearnerSession,
                            bundle: object, passphrase: object) -> ImportResult:
        """Import ``bundle`` into the learner's (fresh) account, under ``admission``: the one
        :meth:`admitted` yields for this learner, while its block runs."""
        if admission not in self._admissions or admission.learner_id != session.learner_id:
            # a wiring bug, never the client's doing: no import runs uncounted
            raise RuntimeError("an import runs only under its learner's live admission "
                               "(RightsService.admitted)")
        return await self._import_bundle(session, bundle, passphrase)

    async def _import_bundle(self, session: LearnerSession, bundle: object,
                             passphrase: object) -> ImportResult:
        lv = self._vault.for_learner(session.learner_id, session.dek)
        fingerprint = _fingerprint(bundle)
        # cheap refusals before the costly part (Argon2id, re-verification): one import per
        # account (the admission bounds the attempts), so imports cannot starve the unlock gate
        done = await self._imported(lv)
        if done is None and await lv.credentials.count():
            raise AccountNotEmpty("import goes into a fresh account (this one holds credentials)")
        if done is not None:
            return await self._replay(session, done, fingerprint, bundle, passphrase)
        staged = await self._stage(bundle, passphrase)
        existing = {k.kid for k in await lv.holder_keys.list_public()}
        new_keys = [k for k in staged.keys if k.kid not in existing]
        await self._ledger.catch_up(session.learner_id, session.dek)  # the chain's order
        try:
            result = await self._commit(session, lv, staged, new_keys, fingerprint)
        except Conflict as exc:  # another import into this account committed meanwhile:
            # the same bundle (a retry, the first attempt still running) answers as it did
            done = await self._imported(lv)
            if done is None or done.get("fingerprint") != fingerprint:
                raise AccountNotEmpty("this account has taken an import already") from exc
            return await self._replayed(session, done)  # this attempt opened the keys too
        finally:
            self._accounts.forget_keys(session.learner_id)
        await self._move_to_ledger(session)
        return result

    async def _commit(self, session: LearnerSession, lv: LearnerVault, staged: _Staged,
                      new_keys: Sequence[HolderKey], fingerprint: str) -> ImportResult:
        """Keys, credentials, the ledger's part (staged in the outbox) and the import's own
        record: one vault transaction, so a crash leaves all of it or none of it."""
        ids = [c.id for c in staged.credentials]
        entries = sum(1 for r in staged.ledger if r.get("type") == "entry")
        async with lv.atomic() as tx:
            for key in new_keys:
                await tx.holder_keys.put(key)
            for c in staged.credentials:
                await tx.credentials.put(c)
            marker: StagedEntry | None = None
            if staged.ledger:  # taken over behind one ``import`` entry, exactly once
                marker = await self._outbox.stage_takeover(tx, staged.ledger, Activity(
                    kind=EventKind.IMPORT, purpose=IMPORT_PURPOSE,
                    details={"credentials": len(ids), "keys": len(new_keys)}))
            else:  # no chain came with it: the import itself, naming every credential it brings
                for start in range(0, max(len(ids), 1), _IDS_PER_ENTRY):
                    entry = await self._outbox.stage(tx, Activity(
                        kind=EventKind.IMPORT, purpose=IMPORT_PURPOSE,
                        credential_ids=tuple(ids[start:start + _IDS_PER_ENTRY]),
                        details={"credentials": len(ids), "keys": len(new_keys)}))
                    marker = marker or entry
            assert marker is not None
            result = ImportResult(len(ids), len(new_keys), entries, marker.id)
            await tx.records(_IMPORTED).put(_IMPORTED_ID, {
                "fingerprint": fingerprint, "at": iso(self._clock()),
                "credentials": result.credentials, "keys": result.keys,
                "ledger_entries": result.ledger_entries, "records": [],  # as earlier releases
                "import_event_id": result.import_event_id})
        return result

    async def _move_to_ledger(self, session: LearnerSession) -> None:
        """The staged ledger part into the ledger, before the answer. The import has committed:
        a ledger outage does not undo it (the outbox moves the entries at the learner's next
        access, before anything reads the ledger)."""
        try:
            await self._ledger.catch_up(session.learner_id, session.dek)
        except Unavailable as exc:
            log.warning("import committed; its ledger entries stay staged (%s)", exc.code)

    async def _imported(self, lv: LearnerVault) -> dict[str, Any] | None:
        """The record of the import this account took, if it took one."""
        try:
            return await lv.records(_IMPORTED).get(_IMPORTED_ID)
        except NotFound:
            return None

    async def _replay(self, session: LearnerSession, done: Mapping[str, Any], fingerprint: str,
                      bundle: object, passphrase: object) -> ImportResult:
        """A second import into an account that took one: the same bundle (a retry whose answer
        was lost, a crash after the commit) answers as the import did, writing nothing; any
        other is refused."""
        if done.get("fingerprint") != fingerprint or not isinstance(bundle, Mapping):
            raise AccountNotEmpty("this account has taken an import already")
        if not isinstance(passphrase, str) or not passphrase:
            raise BadInput("passphrase must be a non-empty string")
        await self._open_keys(bundle["keys"], passphrase)  # the same answer to a wrong one
        return await self._replayed(session, done)

    async def _replayed(self, session: LearnerSession, done: Mapping[str, Any]) -> ImportResult:
        """The answer the import recorded in ``done`` gave, once its ledger part is moved."""
        await self._move_to_ledger(session)  # what a crash after the commit left staged
        event_id = done.get("import_event_id")
        return ImportResult(int(done["credentials"]), int(done["keys"]),
                            int(done["ledger_entries"]),
                            event_id if isinstance(event_id, str) else None, replayed=True)

    # ----------------------------------------------------------------------------- erasure
    async def erase(self, session: LearnerSession, passphrase: object, *, client: str) -> None:
        learner_id = session.learner_id
        if await self._accounts.being_erased(learner_id):
            # a retry of an erasure cut short after its first commit (the learner asked and
            # proved it then; the erasure key may be gone, so no passphrase could be checked)
            await self.finish_erasure(learner_id)
            return
        await self._accounts.confirm_passphrase(session, passphrase, client=client)
        # staged entries join the chain first: the tombstone counts every entry there was. A
        # ledger already erased (a retry of an interrupted erasure) takes none: caught up.
        with contextlib.suppress(LedgerErased):
            await self._ledger.catch_up(learner_id, session.dek)
        tables = self._registry.tables

        async def begin(conn: AsyncConnection) -> None:
            await self._accounts.begin_erasure(conn, learner_id, tables=tables)

        # One commit: the tombstone, the account marked as being erased, every token of it
        # ended, every share and inbox link gone. From here on nothing is served or taken for
        # the learner, and whatever cuts the rest short, the mark gets it finished.
        await self._consent.erase(self._ledger.ref(learner_id), with_it=begin)
        await self.finish_erasure(learner_id)

    async def finish_erasure(self, learner_id: str, *, scrubbing: bool = True) -> None:
        """Finish an erasure whose first commit is done (see :meth:`erase`): the registered
        erasers, the crypto-shred, the vault profile, every row; idempotent. Run by the erasure
        itself, by its retry, by whatever touches the account afterwards (unlock, sign-up of
        the username, a token of it: ``AccountService.finish_erasures_with``) and by the sweep
        at start-up (:meth:`finish_erasures`)."""
        finished = await self._accounts.finish_erasure(
            learner_id, tables=self._registry.tables,
            erasers=tuple(self._registry.erasers.values()))
        if finished and scrubbing:
            await scrub(self._engine)
            await scrub_sqlite_file(self._vault_uri)

    async def finish_erasures(self, progress: Callable[[int, int], None] | None = None, *,
                              every: int = 100) -> tuple[int, int]:
        """Finish every erasure cut short (at start-up, then periodically, and by `satchel
        sweep`): ``(finished, failed)``. One that fails is left marked for the next time
        (counts only are logged). ``progress(done, total)`` is called before the first, every
        ``every`` erasures and after the last (counts only)."""
        finished = failed = 0
        pending = await self._accounts.erasures_cut_short()
        if progress is not None:
            progress(0, len(pending))
        for done, learner_id in enumerate(pending, 1):
            try:
                await self.finish_erasure(learner_id, scrubbing=False)
            except SatchelError as exc:
                failed += 1
                log.warning("an erasure cut short could not be finished yet: %s", exc.code)
            else:
                finished += 1
            if progress is not None and (done % every == 0 or done == len(pending)):
                progress(done, len(pending))
        if finished:
            await scrub(self._engine)
            await scrub_sqlite_file(self._vault_uri)
        return finished, failed

    # -------------------------------------------------------------------------- withdrawal
    async def withdraw(self, session: LearnerSession, kind: str, consent_id: str) -> str:
        """Withdraw a standing consent (a share link, an inbox link): revoke it, then record
        ``consent_withdrawn``. Stopping a disclosure is always safe, so the revocation is not
        held back by a ledger outage (the answer is then 503 and the link is revoked)."""
        fn = self._registry.withdrawals.get(kind)
        if fn is None:
            raise NotFound("no such standing consent")
        withdrawn = await fn(session.learner_id, session.dek, consent_id)
        return await self._ledger.record(session.learner_id, session.dek, ConsentEvent(
            kind=EventKind.CONSENT_WITHDRAWN, counterparty=withdrawn.counterparty,
            counterparty_name=withdrawn.counterparty_name, purpose=withdrawn.purpose,
            details={"consent_kind": kind, "consent_id": consent_id}))
