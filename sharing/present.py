"""The presentation service: a verifier's OpenID4VP 1.0 request in, the learner's consented
answer out (OpenID4VP 1.0 §5 request, §6 DCQL, §8 response; RFC 9901 §7.2; GDPR Art. 7(1)).

https://openid.net/specs/openid-4-verifiable-presentations-1_0.html

Why it is built this way (docs/presenting.md):

- **Intake** resolves the request through the guarded fetcher only (``request_uri`` GET, or POST
  with a fresh ``wallet_nonce`` and our ``wallet_metadata``), validates it
  (:mod:`sharing.oid4vp`), matches its DCQL query against the vault (:mod:`sharing.dcql`) and keeps
  the validated request *sealed in the learner's vault* (records category
  ``presentation-requests``), so the respond step never re-fetches anything the verifier could
  have changed in between. A refused request posts nothing to the verifier.
- **The learner sees exactly what would leave**: per query, per candidate credential, each claim
  path and value, and who receives it (client_id, name, authenticated, trusted).
- **Respond** re-checks the choice against a fresh match (never trusting the caller), builds every
  presentation *before* anything is recorded (a bad choice costs nothing), claims the request
  atomically (an insert-once vault record: a request is answered once, even by two racing calls),
  writes ``presentation_sent`` to the consent ledger **first** (fail closed: a ledger that cannot
  be written means ``Unavailable`` and nothing sent), and only then posts. The learner may withhold claims a
  ``claim_sets`` alternative makes optional (``withhold``) and skip optional ``credential_sets``
  (``drop_optional``).
- **Decline** sends ``access_denied`` (the same bytes as "nothing matched", §8.5).
- **W3C credentials go whole**: ``jwt_vc_json`` (a JWT VP) and ``ldp_vc`` (a VP secured with
  Data Integrity ``eddsa-rdfc-2022``, OpenID4VP 1.0 Appendix B.1.3.2) cannot disclose
  selectively. Their options say ``whole_credential: true`` (their ``claims`` list what the query
  asked for) and the ledger entry records ``whole_credential`` instead of paths for them.
"""

from __future__ import annotations

import asyncio
import contextlib
import copy
import logging
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from typing import Any, assert_never

from cryptography.hazmat.primitives.serialization import Encoding

from sharing.dcql import (
    Candidate,
    CredentialNotAnOption,
    DcqlQuery,
    MatchResult,
    Selection,
    UnknownFormat,
    known_akis,
    match_query,
    select_for_response,
)
from sharing.did_documents import resolve_did_document
from sharing.errors import (
    PresentationNotSupported,
    RequestAlreadyAnswered,
    RequestExpired,
)
from sharing.oid4vp import (
    AuthorizationRequest,
    authorization_response,
    build_vp_token,
    decline_form,
    parse_client_metadata,
    resolve_authorization_request,
    response_form,
    submit_response,
)
from sharing.oid4vp.client_id import ChainValidator, DidResolver, RegisteredClient
from sharing.oid4vp.response import Presentation
from sharing.pdf_requests import pdf_credentials, pdf_only_queries
from sharing.presentations import (
    SD_JWT,
    jwt_vp,
    ldp_vp,
    ldp_vp_context,
    sd_jwt_presentation,
)
from sharing.request_records import (
    KeptRequest,
    PresentationRequestRecord,
    RequestState,
    request_state,
)
from sharing.request_results import (
    Declined,
    PdfOnly,
    RequestDescription,
    RequestSummary,
    Sent,
    Verifier,
)
from sharing.signing_keys import SigningKeys
from wallet.clock import SYSTEM_CLOCK, Clock, iso
from wallet.crypto import RecordUnreadable, VaultKey
from wallet.errors import BadInput, Conflict, FetchRefused, NotFound, SatchelError, UpstreamError
from wallet.formats.model import ClaimPath
from wallet.formats.traits import PRESENTABLE_FORMATS, TRAITS, VP_FORMATS_SUPPORTED
from wallet.ports import Activity, ActivityKind, ActivityLog, Fetcher
from wallet.trust import TrustList
from wallet.vault import CredentialQuery, LearnerVault, StoredCredential, VaultStore

__all__ = ["DEFAULT_WALLET_METADATA", "PresentationService", "RespondOptions"]

log = logging.getLogger(__name__)

REQUESTS, ANSWERS = "presentation-requests", "presentation-answers"
#: What we tell a verifier that asks with ``request_uri_method=post`` (OpenID4VP 1.0 §10).
DEFAULT_WALLET_METADATA: Mapping[str, Any] = {
    "vp_formats_supported": VP_FORMATS_SUPPORTED,  # each format's row (wallet.formats.traits)
    "response_types_supported": ["vp_token"],
    "response_modes_supported": ["direct_post", "direct_post.jwt"],
    "client_id_prefixes_supported": ["redirect_uri", "x509_san_dns", "x509_hash",
                                     "decentralized_identifier"],
}
_MAX_PURPOSE = 500
#: The ledger's name for "a credential went out whole" (the same as share links record).
_WHOLE_CATEGORY = ("whole_credential",)
#: A Data Integrity VP is signed with ``eddsa-rdfc-2022``: an Ed25519 holder key.
_LDP_ALGS = ("EdDSA",)


@dataclass(frozen=True, slots=True)
class RespondOptions:
    """What the learner decided: per query the credential(s), and what to leave out.

    ``withhold`` maps a credential id to claim paths the learner keeps back; the answer must still
    satisfy the query (a later ``claim_sets`` option), otherwise the choice is refused.
    ``drop_optional`` answers only the required ``credential_sets``.
    """

    choices: Mapping[str, str | Sequence[str]]
    withhold: Mapping[str, Sequence[ClaimPath]] | None = None
    drop_optional: bool = False


def _remove(claims: Any, path: ClaimPath) -> bool:
    node = claims
    for step in path[:-1]:
        if isinstance(step, str) and isinstance(node, dict) and step in node:
            node = node[step]
        elif type(step) is int and isinstance(node, list) and 0 <= step < len(node):
            node = node[step]
        else:
            return False
    last = path[-1] if path else None
    if isinstance(last, str) and isinstance(node, dict) and last in node:
        del node[last]
        return True
    if type(last) is int and isinstance(node, list) and 0 <= last < len(node):
        node[last] = None  # keep later indices stable; None never satisfies a DCQL walk
        return True
    return False


def _presentable(c: StoredCredential) -> bool:
    """Whether we can build a presentation of this credential at all (a VCDM 1.1 ``ldp_vc`` has
    no Data Integrity VP: it is not offered, so a request for it reads as "nothing matched")."""
    if c.format not in PRESENTABLE_FORMATS:
        return False
    return TRAITS[c.format].openid4vp != "ldp_vp" or ldp_vp_context(c) is not None


def _candidate(c: StoredCredential, withheld: Sequence[ClaimPath] = ()) -> Candidate:
    data = c.data
    raw_claims = data.get("claims")
    claims: dict[str, Any] = raw_claims if isinstance(raw_claims, dict) else {}
    disclosable = frozenset(tuple(p) for p in data.get("disclosable") or ()
                            if isinstance(p, list))
    if withheld:
        if c.format not in SD_JWT:  # a W3C credential goes whole: nothing in it can stay behind
            raise BadInput("this credential is presented whole: none of its claims can be "
                           "withheld (choose another credential, or decline)")
        claims = copy.deepcopy(claims)
        for path in withheld:
            if path not in disclosable:
                raise BadInput("only selectively disclosable claims can be withheld")
            if not _remove(claims, path):
                raise BadInput("a withheld claim path is not in the credential")
        disclosable = frozenset(p for p in disclosable
                                if not any(p[:len(w)] == w for w in withheld))
    return Candidate(c.id, c.format, frozenset(c.types), claims, disclosable,
                     isinstance(data.get("holder_jwk"), dict),
                     known_akis(data))


class PresentationService:
    """Request intake, respond and decline for one deployment (stateless between calls)."""

    def __init__(self, *, vault: VaultStore, fetcher: Fetcher, activity: ActivityLog,
                 trust: TrustList, x509_anchors: Sequence[Any] = (),
                 did_resolver: DidResolver | None = None,
                 registered_clients: Mapping[str, RegisteredClient] | None = None,
                 wallet_metadata: Mapping[str, Any] = DEFAULT_WALLET_METADATA,
                 chain_validator: ChainValidator | None = None,
                 hold: timedelta = timedelta(minutes=10),
                 clock: Clock = SYSTEM_CLOCK) -> None:
        self._vault = vault
        self._fetcher = fetcher
        self._activity = activity
        self._trust = trust
        self._anchors = list(x509_anchors)
        self._did_resolver = did_resolver or (lambda did: resolve_did_document(did, fetcher))
        self._registered = dict(registered_clients or {})
        self._wallet_metadata = dict(wallet_metadata)
        self._chain_validator = chain_validator
        self._hold = hold
        self._clock = clock

    # ------------------------------------------------------------------------------ intake

    async def intake(self, learner_id: str, dek: VaultKey, link: str) -> RequestDescription:
        """Resolve, validate and match a request; keep it sealed; describe it to the learner."""
        now = self._clock()
        req = await resolve_authorization_request(
            link, self._fetcher, now=now, x509_anchors=self._anchors,
            did_resolver=self._did_resolver, registered_clients=self._registered,
            wallet_metadata=self._wallet_metadata, chain_validator=self._chain_validator)
        # the answer goes to response_uri once the learner agrees: an address the network guard
        # refuses makes the request unanswerable, so it is refused now, before the learner chooses
        try:
            await self._fetcher.preflight(req.response_uri)
        except FetchRefused as exc:
            raise FetchRefused(f"the request's response_uri is refused: {exc.detail}") from exc
        vault = self._vault.for_learner(learner_id, dek)
        result = match_query(req.dcql_query, await self._candidates(vault, req.dcql_query))
        pdf_only = pdf_only_queries(req.dcql_query, result, await pdf_credentials(vault))
        expires = now + self._hold
        exp = req.parameters.get("exp")
        if isinstance(exp, int | float) and not isinstance(exp, bool):
            try:
                expires = min(expires, datetime.fromtimestamp(exp, UTC))
            except (OverflowError, ValueError, OSError):
                pass  # an absurd exp (past year 9999, inf): our own hold bounds the request

        request_id = str(uuid.uuid4())
        verifier = self._verifier(req)
        purpose = req.parameters.get("purpose")
        record = PresentationRequestRecord(
            "pending", created_at=iso(now), expires_at=iso(expires), verifier=verifier,
            purpose=purpose[:_MAX_PURPOSE] if isinstance(purpose, str) else None,
            request=KeptRequest.of(req))
        await vault.records(REQUESTS).put(request_id, record.to_record())
        return self._describe(request_id, record, result, pdf_only)

    async def _candidates(self, vault: LearnerVault, query: DcqlQuery) -> list[Candidate]:
        """The learner's credentials that can pass the query's format and type filters.

        Fetched by the vault's blinded format/type index (a superset of what
        :func:`~sharing.dcql.match_query` keeps, which then applies the exact rules), so a
        request for one type does not open every credential in the vault.
        """
        wanted: set[tuple[str, str | None]] = set()
        for cq in query.credentials:
            asked = cq.format
            if isinstance(asked, UnknownFormat) or TRAITS[asked].openid4vp is None:
                continue  # no row, or not presented: nothing held answers it
            if TRAITS[asked].selective and cq.vct_values is not None:
                wanted.update((asked, t) for t in cq.vct_values)
            elif not TRAITS[asked].selective and cq.type_values is not None:
                wanted.update((asked, alt[0] if alt else None) for alt in cq.type_values)
            else:
                wanted.add((asked, None))
        found: dict[str, StoredCredential] = {}
        for fmt, typ in sorted(wanted, key=repr):
            cursor = None
            while True:
                page = await vault.credentials.list(CredentialQuery(format=fmt, type=typ),
                                                    limit=500, cursor=cursor)
                found.update((c.id, c) for c in page.items)
                cursor = page.next_cursor
                if cursor is None:
                    break
        return [_candidate(c) for c in found.values() if _presentable(c)]

    @staticmethod
    async def _chosen(vault: LearnerVault, options: RespondOptions) -> list[Candidate]:
        """Candidates for the chosen credentials only (with what the learner withholds): enough
        to re-check the choice, since an answer can only consist of chosen credentials."""
        ids = dict.fromkeys(i for c in options.choices.values()
                            for i in ([c] if isinstance(c, str) else c))
        withhold = {k: [tuple(p) for p in v] for k, v in (options.withhold or {}).items()}
        if set(withhold) - set(ids):
            raise BadInput("withhold names a credential that is not chosen")
        if not all(isinstance(cid, str) for cid in ids):
            raise BadInput("credential ids are strings")
        out = []
        for cid in ids:
            try:
                c = await vault.credentials.get(cid)
            except NotFound:
                continue  # not an option: select_for_response refuses the choice
            if _presentable(c):
                out.append(_candidate(c, withhold.get(cid, ())))
        return out

    def _verifier(self, req: AuthorizationRequest) -> Verifier:
        who = req.verifier
        cert = who.certificate.public_bytes(Encoding.DER) if who.certificate is not None else None
        listed = self._trust.verifier_trusted(req.client_id, cert_der=cert)
        trusted = listed and (who.authenticated or who.prefix == "redirect_uri")
        name = self._trust.verifier_name(req.client_id) if trusted else None
        source = "trust_list"
        if name is None and req.client_metadata.client_name:
            name, source = req.client_metadata.client_name, "verifier"
        if name is None:
            name, source = who.value, "client_id"
        return Verifier(req.client_id, name, source, who.authenticated, trusted, who.prefix,
                        req.response_uri)

    @staticmethod
    def _describe(request_id: str, record: PresentationRequestRecord, result: MatchResult,
                  pdf_only: Mapping[str, PdfOnly] | None = None) -> RequestDescription:
        required = {q.id for q in result.query.credentials}
        if result.query.credential_sets is not None:
            required = {qid for cs in result.query.credential_sets if cs.required
                        for opt in cs.options for qid in opt}
        names = (parse_client_metadata(record.request.client_metadata).client_names
                 if record.verifier.name_source == "verifier" else {})
        return RequestDescription(
            id=request_id, verifier=record.verifier, purpose=record.purpose, match=result,
            required=frozenset(required), state=record.state, expires_at=record.expires_at,
            pdf_only=pdf_only or {}, verifier_names=dict(names))

    # ----------------------------------------------------------------------------- helpers

    @staticmethod
    async def _record(vault: LearnerVault, request_id: str) -> PresentationRequestRecord:
        try:
            stored = await vault.records(REQUESTS).get(request_id)
        except NotFound:
            raise NotFound("no such presentation request") from None
        return PresentationRequestRecord.from_record(stored)

    async def _pending(self, vault: LearnerVault, request_id: str
                       ) -> tuple[PresentationRequestRecord, AuthorizationRequest]:
        record = await self._record(vault, request_id)
        if record.state != "pending" or await self._outcome(vault, request_id):
            raise RequestAlreadyAnswered("this presentation request has already been answered")
        expires = datetime.fromisoformat(record.expires_at.replace("Z", "+00:00"))
        if self._clock() >= expires:
            raise RequestExpired("this presentation request has expired")
        return record, record.request.authorization_request()

    async def _claim(self, vault: LearnerVault, request_id: str, outcome: str) -> None:
        """Mark the request answered, atomically (insert-once): the replay guard."""
        try:
            await vault.records(ANSWERS).put(request_id, {"outcome": outcome,
                                                          "at": iso(self._clock())})
        except Conflict:
            raise RequestAlreadyAnswered(
                "this presentation request has already been answered") from None

    @staticmethod
    async def _outcome(vault: LearnerVault, request_id: str) -> RequestState | None:
        """How the request was answered (``sent``, ``declined``, ``failed``), None if not yet."""
        try:
            return request_state((await vault.records(ANSWERS).get(request_id)).get("outcome"))
        except NotFound:
            return None

    async def _finish(self, vault: LearnerVault, request_id: str, outcome: str) -> None:
        """Correct the outcome after the fact (a failed send); the claim stays in place."""
        try:
            await vault.records(ANSWERS).replace(request_id, {"outcome": outcome,
                                                              "at": iso(self._clock())})
        except SatchelError:
            pass  # the answers record already blocks a second answer

    async def _presentations(self, vault: LearnerVault, req: AuthorizationRequest,
                             selection: Selection, now: datetime
                             ) -> dict[str, list[Presentation]]:
        keys = SigningKeys(vault.holder_keys)
        out: dict[str, list[Presentation]] = {}
        for p in selection.presentations:
            stored = await vault.credentials.get(p.credential_id)
            how = TRAITS[stored.format].openid4vp  # the builder of its row
            hk = await keys.for_credential(stored, algs=_LDP_ALGS if how == "ldp_vp" else None)
            if p.holder_binding_required and hk is None:
                raise PresentationNotSupported("the query requires holder binding")
            vp: Presentation
            if how == "sd_jwt":
                vp, _ = sd_jwt_presentation(stored, p.disclosure_paths, holder_key=hk,
                                            aud=req.client_id, nonce=req.nonce, now=now,
                                            exact=True)
            elif how is None or hk is None:
                raise PresentationNotSupported("this credential format cannot be presented")
            elif how == "jwt_vp":
                vp = jwt_vp([stored], holder_key=hk, aud=req.client_id, nonce=req.nonce,
                            now=now)
            elif how == "ldp_vp":
                # canonicalizing the whole VP is CPU-bound (bounded by CanonLimits)
                vp = await asyncio.to_thread(ldp_vp, stored, holder_key=hk,
                                             client_id=req.client_id, nonce=req.nonce, now=now)
            else:  # a new presentation trait: its builder goes here (mypy says so)
                assert_never(how)
            out.setdefault(p.query_id, []).append(vp)
        return out

    # ---------------------------------------------------------------------- respond / decline

    async def respond(self, learner_id: str, dek: VaultKey, request_id: str,
                      options: RespondOptions) -> Sent:
        """Send the learner's chosen presentations (consent recorded first, fail closed)."""
        vault = self._vault.for_learner(learner_id, dek)
        record, req = await self._pending(vault, request_id)
        result = match_query(req.dcql_query, await self._chosen(vault, options))
        try:
            selection = select_for_response(result, options.choices,
                                            drop_optional=options.drop_optional)
        except CredentialNotAnOption:
            if options.withhold:
                raise CredentialNotAnOption("with the withheld claims this credential no longer "
                                            "answers the query") from None
            raise
        now = self._clock()
        vp_token = build_vp_token(await self._presentations(vault, req, selection, now),
                                  selection=selection)
        form = response_form(req, authorization_response(vp_token, req.state))
        paths = selection.disclosed_paths()
        # a whole credential has no paths to list: every claim of it went out
        whole = {p.credential_id for p in selection.presentations if p.full_credential}
        details: dict[str, str | int | bool | None] = {
            "request_id": request_id, "response_mode": req.response_mode,
            "authenticated": req.verifier.authenticated}
        if whole:
            details["whole_credential"] = True
            # which ones, when SD-JWT disclosures went in the same answer (ids hold no comma)
            details["whole_credential_ids"] = ",".join(sorted(whole))
        activity = Activity(
            kind=ActivityKind.PRESENTATION_SENT, counterparty=req.client_id,
            counterparty_name=record.verifier.name, purpose=record.purpose,
            claims=tuple(sorted({p for cid, ps in paths.items() if cid not in whole
                                 for p in ps}, key=repr)),
            credential_ids=tuple(paths), details=details,
            data_categories=_WHOLE_CATEGORY if whole else ())
        await self._claim(vault, request_id, "sent")
        try:
            event_id = await self._activity.record(learner_id, dek, activity,
                                                   before_disclosure=True)
        except BaseException:  # compensate, then re-raise (cancellation too)
            await vault.records(ANSWERS).delete(request_id)  # nothing was sent: may retry
            raise
        try:
            redirect = await submit_response(req, form, self._fetcher)
        except SatchelError as exc:
            await self._failed(learner_id, dek, vault, request_id, record, req, exc)
            raise UpstreamError("the verifier did not accept the response") from exc
        return Sent(redirect, event_id)

    async def _failed(self, learner_id: str, dek: VaultKey, vault: LearnerVault,
                      request_id: str, record: PresentationRequestRecord,
                      req: AuthorizationRequest,
                      exc: SatchelError) -> None:
        await self._finish(vault, request_id, "failed")
        try:
            await self._activity.record(learner_id, dek, Activity(
                kind=ActivityKind.PRESENTATION_FAILED, counterparty=req.client_id,
                counterparty_name=record.verifier.name,
                details={"request_id": request_id, "error": exc.code}))
        except SatchelError:
            pass  # the sent event is already in the ledger: it over-records, never under

    async def decline(self, learner_id: str, dek: VaultKey, request_id: str) -> Declined:
        """Tell the verifier ``access_denied`` — the same answer "nothing matched" gets."""
        vault = self._vault.for_learner(learner_id, dek)
        try:
            record, req = await self._pending(vault, request_id)
        except RecordUnreadable:
            return await self._decline_unreadable(learner_id, dek, vault, request_id)
        form = decline_form(req)
        event_id = await self._declined(learner_id, dek, vault, request_id, Activity(
            kind=ActivityKind.PRESENTATION_DECLINED, counterparty=req.client_id,
            counterparty_name=record.verifier.name, purpose=record.purpose,
            details={"request_id": request_id}))
        delivered = True
        try:
            await submit_response(req, form, self._fetcher)
        except SatchelError:
            delivered = False  # the learner declined either way; nothing was disclosed
        return Declined(delivered, event_id)

    async def _declined(self, learner_id: str, dek: VaultKey, vault: LearnerVault,
                        request_id: str, activity: Activity) -> str:
        """Claim the request as declined, then record ``activity``: its ledger event id."""
        await self._claim(vault, request_id, "declined")
        try:
            return await self._activity.record(learner_id, dek, activity)
        except BaseException:  # compensate, then re-raise (cancellation too)
            await vault.records(ANSWERS).delete(request_id)  # nothing happened: may retry
            raise

    async def _decline_unreadable(self, learner_id: str, dek: VaultKey, vault: LearnerVault,
                                  request_id: str) -> Declined:
        """A request this version cannot read is declined too, so the learner can clear it: its
        entry names its id and ``unreadable`` (no verifier can be read), its record is deleted,
        and the verifier is not told (where to answer is part of what cannot be read)."""
        event_id = await self._declined(learner_id, dek, vault, request_id, Activity(
            kind=ActivityKind.PRESENTATION_DECLINED,
            details={"request_id": request_id, "unreadable": True}))
        with contextlib.suppress(NotFound):  # a concurrent decline of the same record
            await vault.records(REQUESTS).delete(request_id)
        return Declined(False, event_id)

    async def list(self, learner_id: str, dek: VaultKey) -> list[RequestSummary]:
        """The learner's presentation requests, newest first (no claim values)."""
        vault = self._vault.for_learner(learner_id, dek)
        rows = []
        for rid, stored in await vault.records(REQUESTS).list():
            try:
                rows.append((rid, PresentationRequestRecord.from_record(stored)))
            except RecordUnreadable:  # one bad record must not hide the others: skipped, by id
                log.warning("presentation request record %s cannot be read; left out of the "
                            "list", rid)
        answers: dict[str, RequestState] = {}
        for rid, answer in await vault.records(ANSWERS).list():
            try:
                answers[rid] = request_state(answer.get("outcome"))
            except RecordUnreadable:  # the request shows its own state
                log.warning("presentation answer record %s cannot be read", rid)
        items = [RequestSummary(
            id=rid, verifier=r.verifier, purpose=r.purpose, state=answers.get(rid) or r.state,
            created_at=r.created_at, expires_at=r.expires_at) for rid, r in rows]
        return sorted(items, key=lambda i: str(i.created_at), reverse=True)

    async def get(self, learner_id: str, dek: VaultKey, request_id: str) -> RequestDescription:
        """The request as shown at intake, re-matched against the vault as it is now."""
        vault = self._vault.for_learner(learner_id, dek)
        record = await self._record(vault, request_id)
        record = replace(record, state=await self._outcome(vault, request_id) or record.state)
        query = record.request.authorization_request().dcql_query
        result = match_query(query, await self._candidates(vault, query))
        return self._describe(request_id, record, result,
                              pdf_only_queries(query, result, await pdf_credentials(vault)))
