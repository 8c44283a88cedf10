"""The web wallet's one door into the services.

Every page reaches ``app[SERVICES]`` only through the functions here, and each returns the JSON
shape the matching ``/v1`` call answers (the API's own shaping:
:func:`holder_api.serialise.credentials.credential_detail`, the services' dicts), so a page shows
exactly what the API would and no business rule lives twice.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from contextlib import AbstractAsyncContextManager
from typing import Any

from aiohttp import web

from consent.rights import ImportAdmission
from holder_api.appkeys import SERVICES, SETTINGS
from holder_api.http import client_of
from holder_api.serialise.consent import (
    chain_report,
    import_result,
    ledger_event,
    newer_release_entry,
)
from holder_api.serialise.credentials import (
    credential_detail,
    credential_summary,
)
from holder_api.serialise.credentials import portfolio as portfolio_json
from holder_api.serialise.learners import signed_up, token
from holder_api.serialise.presentations import (
    declined,
    request_description,
    request_summary,
    sent,
)
from holder_api.serialise.receive import (
    accept_outcome,
    inbox_item,
    inbox_link,
    new_inbox_link,
    offer,
)
from holder_api.serialise.share_links import share_link, share_link_state
from sharing.present import RespondOptions
from sharing.printout import DEFAULT_EXPIRES_IN as PDF_EXPIRES_IN
from sharing.printout import DEFAULT_MAX_VIEWS as PDF_MAX_VIEWS
from wallet.accounts.service import LearnerSession
from wallet.credentials import CredentialDetail
from wallet.receive import AcceptOutcome, ReceiveService

__all__ = [
    "accept_item", "accept_offer", "admitted_import", "admitted_upload", "authenticate",
    "authorize_offer", "change_passphrase", "credential_pdf",
    "create_inbox_link", "create_offer", "create_share_link", "decline_item", "decline_offer",
    "decline_request", "delete_credential", "erase", "events", "export", "get_credential",
    "get_offer", "get_request", "import_bundle", "import_credential", "import_pdf",
    "intake_request",
    "list_credentials", "list_inbox", "list_inbox_links", "list_offers", "list_requests",
    "list_share_links", "lock", "new_recovery_code", "portfolio", "receipt", "renew", "respond",
    "revoke_inbox_link", "revoke_share_link", "sign_up", "token_ttl", "unlock", "verify_chain",
    "withdraw",
]

Session = LearnerSession



def _receive(request: web.Request) -> ReceiveService:
    return request.app[SERVICES].receive


def token_ttl(request: web.Request) -> int:
    return request.app[SETTINGS].token_ttl


# -- accounts (POST /v1/learners, /v1/sessions, ...)
async def sign_up(request: web.Request, username: str, passphrase: str) -> dict[str, Any]:
    return signed_up(await request.app[SERVICES].accounts.sign_up(
        username, passphrase, client=client_of(request)))


async def unlock(request: web.Request, username: str, passphrase: str) -> dict[str, Any]:
    return token(await request.app[SERVICES].accounts.unlock(username, passphrase,
                                                             client=client_of(request)))


async def authenticate(request: web.Request, token: str) -> Session:
    return await request.app[SERVICES].accounts.authenticate(token)


async def renew(request: web.Request, s: Session) -> dict[str, Any] | None:
    """A fresh token for an active session past half its lifetime (the sliding idle lock)."""
    fresh = await request.app[SERVICES].accounts.renew(s)
    return token(fresh) if fresh is not None else None


async def lock(request: web.Request, s: Session) -> None:
    await request.app[SERVICES].accounts.logout(s)


async def change_passphrase(request: web.Request, s: Session | None, *, username: str | None,
                            current: str | None, recovery_code: str | None,
                            new: str) -> dict[str, Any] | None:
    """None after a change with the current passphrase; after one with the recovery code, the
    code that replaces it and a token (as ``POST /v1/learners/me/passphrase`` answers)."""
    recovered = await request.app[SERVICES].accounts.change_passphrase(
        learner_id=s.learner_id if s is not None else None, username=username,
        current_passphrase=current, recovery_code=recovery_code, new_passphrase=new,
        client=client_of(request), session_id=s.session_id if s is not None else None)
    if recovered is None:
        return None
    return {"recovery_code": recovered.recovery_code, **token(recovered.token)}


async def new_recovery_code(request: web.Request, s: Session, passphrase: str) -> dict[str, Any]:
    return {"recovery_code": await request.app[SERVICES].accounts.new_recovery_code(
        s, passphrase, client=client_of(request))}


# -- credentials (/v1/credentials, /v1/portfolio)
async def list_credentials(request: web.Request, s: Session, *, q: str | None = None,
                           type: str | None = None,  # noqa: A002 - the API's name
                           issuer: str | None = None,
                           format: str | None = None,  # noqa: A002 - the API's name
                           limit: int = 50, cursor: str | None = None) -> dict[str, Any]:
    page = await request.app[SERVICES].credentials.list(
        s.learner_id, s.dek, q=q, type=type, issuer=issuer, format=format, limit=limit,
        cursor=cursor)
    return {"items": [credential_summary(c) for c in page.items], "next_cursor": page.next_cursor}


async def portfolio(request: web.Request, s: Session, languages: Sequence[str]) -> dict[str, Any]:
    return portfolio_json(await request.app[SERVICES].credentials.portfolio(
        s.learner_id, s.dek, languages=tuple(languages)))


async def get_credential(request: web.Request, s: Session, credential_id: str,
                         languages: Sequence[str]) -> dict[str, Any]:
    return credential_detail(await request.app[SERVICES].credentials.get(
        s.learner_id, s.dek, credential_id, languages=tuple(languages)))


async def import_credential(request: web.Request, s: Session, raw: str,
                            languages: Sequence[str]) -> dict[str, Any]:
    stored = await request.app[SERVICES].credentials.import_credential(
        s.learner_id, s.dek, raw, languages=tuple(languages))
    return credential_detail(CredentialDetail.of(stored))


async def import_pdf(request: web.Request, s: Session, pdf: bytes,
                     languages: Sequence[str]) -> dict[str, Any]:
    """``POST /v1/credentials`` with a PDF: the PDF and what it carries, verified, all or none."""
    stored = await request.app[SERVICES].credentials.import_pdf(
        s.learner_id, s.dek, pdf, languages=tuple(languages))
    return credential_detail(CredentialDetail.of(stored))


async def credential_pdf(request: web.Request, s: Session, credential_id: str,
                         languages: Sequence[str]) -> bytes:
    """``GET /v1/credentials/{id}/pdf``: the printout (its QR code is a new share link)."""
    printout = await request.app[SERVICES].printouts.render(
        s.learner_id, s.dek, credential_id, claims=None, expires_in=PDF_EXPIRES_IN,
        max_views=PDF_MAX_VIEWS, languages=tuple(languages))
    return printout.pdf


async def delete_credential(request: web.Request, s: Session, credential_id: str) -> None:
    await request.app[SERVICES].credentials.delete(s.learner_id, s.dek, credential_id)


# -- receiving (/v1/offers, /v1/inbox, /v1/inbox-links)
async def create_offer(request: web.Request, s: Session, link: str,
                       languages: Sequence[str]) -> dict[str, Any]:
    return offer(await _receive(request).create_offer(s.learner_id, s.dek, link,
                                                      languages=tuple(languages)))


async def list_offers(request: web.Request, s: Session,
                      languages: Sequence[str]) -> list[dict[str, Any]]:
    return [offer(o) for o in await _receive(request).list_offers(
        s.learner_id, s.dek, languages=tuple(languages))]


async def get_offer(request: web.Request, s: Session, offer_id: str,
                    languages: Sequence[str]) -> dict[str, Any]:
    return offer(await _receive(request).get_offer(s.learner_id, s.dek, offer_id,
                                                   languages=tuple(languages)))


async def accept_offer(request: web.Request, s: Session, offer_id: str, *, tx_code: str | None,
                       redirect_uri: str | None, languages: Sequence[str]) -> dict[str, Any]:
    """The body ``POST /v1/offers/{id}/accept`` answers (``status`` is ``deferred`` for a 202)."""
    return await _accepted(_receive(request).accept_offer, s, offer_id, tx_code, redirect_uri,
                           languages)


async def authorize_offer(request: web.Request, s: Session, offer_id: str, callback_url: str,
                          languages: Sequence[str]) -> dict[str, Any]:
    out = await _receive(request).authorize_offer(s.learner_id, s.dek, offer_id, callback_url,
                                                  languages=tuple(languages))
    return accept_outcome(out)


async def decline_offer(request: web.Request, s: Session, offer_id: str) -> None:
    await _receive(request).decline_offer(s.learner_id, s.dek, offer_id)


async def list_inbox(request: web.Request, s: Session) -> list[dict[str, Any]]:
    return [inbox_item(i) for i in await _receive(request).list_inbox(s.learner_id, s.dek)]


async def accept_item(request: web.Request, s: Session, item_id: str, *, tx_code: str | None,
                      redirect_uri: str | None, languages: Sequence[str]) -> dict[str, Any]:
    return await _accepted(_receive(request).accept_item, s, item_id, tx_code, redirect_uri,
                           languages)


async def _accepted(accept: Callable[..., Awaitable[AcceptOutcome]], s: Session, target_id: str,
                    tx_code: str | None, redirect_uri: str | None,
                    languages: Sequence[str]) -> dict[str, Any]:
    """An offer or an inbox item accepted (one copy): the same call, the same answer."""
    return accept_outcome(await accept(s.learner_id, s.dek, target_id, tx_code=tx_code, copies=1,
                                       redirect_uri=redirect_uri, languages=tuple(languages)))


async def decline_item(request: web.Request, s: Session, item_id: str) -> None:
    await _receive(request).decline_item(s.learner_id, s.dek, item_id)


async def create_inbox_link(request: web.Request, s: Session, label: str) -> dict[str, Any]:
    return new_inbox_link(await _receive(request).create_link(s.learner_id, s.dek, label))


async def list_inbox_links(request: web.Request, s: Session) -> list[dict[str, Any]]:
    return [inbox_link(i) for i in await _receive(request).list_links(s.learner_id, s.dek)]


async def revoke_inbox_link(request: web.Request, s: Session, link_id: str) -> None:
    await _receive(request).revoke_link(s.learner_id, s.dek, link_id)


# -- presenting (/v1/presentation-requests, /v1/share-links)
async def intake_request(request: web.Request, s: Session, link: str) -> dict[str, Any]:
    return request_description(await request.app[SERVICES].presentations.intake(
        s.learner_id, s.dek, link))


async def list_requests(request: web.Request, s: Session) -> list[dict[str, Any]]:
    return [request_summary(r) for r in await request.app[SERVICES].presentations.list(
        s.learner_id, s.dek)]


async def get_request(request: web.Request, s: Session, request_id: str) -> dict[str, Any]:
    return request_description(await request.app[SERVICES].presentations.get(
        s.learner_id, s.dek, request_id))


async def respond(request: web.Request, s: Session, request_id: str, *,
                  choices: dict[str, str | list[str]],
                  withhold: dict[str, list[list[Any]]] | None,
                  drop_optional: bool) -> dict[str, Any]:
    held = ({cid: [tuple(p) for p in paths] for cid, paths in withhold.items()}
            if withhold is not None else None)
    options = RespondOptions(choices=choices, withhold=held, drop_optional=drop_optional)
    return sent(await request.app[SERVICES].presentations.respond(s.learner_id, s.dek,
                                                                  request_id, options))


async def decline_request(request: web.Request, s: Session, request_id: str) -> dict[str, Any]:
    return declined(await request.app[SERVICES].presentations.decline(s.learner_id, s.dek,
                                                                      request_id))


async def create_share_link(request: web.Request, s: Session, credential_id: str,
                            claims: list[list[Any]], *, expires_in: int,
                            max_views: int) -> dict[str, Any]:
    return share_link(await request.app[SERVICES].share_links.create(
        s.learner_id, s.dek, credential_id, [tuple(p) for p in claims], expires_in=expires_in,
        max_views=max_views))


async def list_share_links(request: web.Request, s: Session) -> list[dict[str, Any]]:
    return [share_link_state(x) for x in await request.app[SERVICES].share_links.list(
        s.learner_id, s.dek)]


async def revoke_share_link(request: web.Request, s: Session, link_id: str) -> None:
    await request.app[SERVICES].share_links.revoke(s.learner_id, s.dek, link_id)


# -- consent and rights (/v1/consent/*, /v1/me/*)
async def events(request: web.Request, s: Session, *, kinds: Sequence[str] = (),
                 limit: int = 50, cursor: str | None = None) -> dict[str, Any]:
    page = await request.app[SERVICES].ledger.events(s.learner_id, s.dek, kinds=kinds,
                                                     limit=limit, cursor=cursor)
    return {"items": [ledger_event(e) for e in page.items], "next_cursor": page.next_cursor,
            "newer_release_entries": [newer_release_entry(e) for e in page.newer]}


async def verify_chain(request: web.Request, s: Session) -> dict[str, Any]:
    return chain_report(await request.app[SERVICES].ledger.verify(s.learner_id, s.dek))


async def receipt(request: web.Request, s: Session, event_id: str) -> str:
    return await request.app[SERVICES].ledger.receipt(s.learner_id, s.dek, event_id)


async def withdraw(request: web.Request, s: Session, kind: str, consent_id: str) -> dict[str, Any]:
    event_id = await request.app[SERVICES].rights.withdraw(s, kind, consent_id)
    return {"event_id": event_id, "kind": "consent_withdrawn"}


async def export(request: web.Request, s: Session, passphrase: str) -> dict[str, Any]:
    return dict(await request.app[SERVICES].rights.export(s, passphrase))


def admitted_import(request: web.Request,
                    s: Session) -> AbstractAsyncContextManager[ImportAdmission]:
    """An import admitted before its form is read (consent.rights.RightsService.admitted)."""
    return request.app[SERVICES].rights.admitted(s.learner_id)


def admitted_upload(request: web.Request, s: Session) -> AbstractAsyncContextManager[None]:
    """A file (a credential, a QR photo) admitted before its form is read
    (wallet.large_bodies: an upload slot and the learner's budget)."""
    return request.app[SERVICES].uploads.admitted(s.learner_id)


async def import_bundle(request: web.Request, s: Session, admission: ImportAdmission,
                        bundle: object, passphrase: str) -> dict[str, Any]:
    return import_result(await request.app[SERVICES].rights.import_bundle(
        admission, s, bundle, passphrase))


async def erase(request: web.Request, s: Session, passphrase: str) -> None:
    await request.app[SERVICES].rights.erase(s, passphrase, client=client_of(request))
