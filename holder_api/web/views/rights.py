"""History (the consent ledger, its verification, receipts, standing consents) and My data
(export, import of a bundle, erasure)."""

from __future__ import annotations

import json
from typing import Any

from aiohttp import web

from consent.errors import BundlePassphraseWrong
from consent.events import EventKind
from consent.rights import EXPORT_PURPOSE, IMPORT_PURPOSE
from holder_api.web import data
from holder_api.web.i18n import N_
from holder_api.web.pages import Ctx, error_detail, page, redirect, render, template_page
from holder_api.web.problems import Refused, check_new_passphrase
from holder_api.web.routing import Page
from holder_api.web.security import clear_cookie, cookies_for
from holder_api.web.show import path_label
from holder_api.web.views.presenting import credential_titles
from wallet.errors import BadInput, Unauthorized
from wallet.jsontext import parse_json
from wallet.receive.inbox import EXPIRED_PURPOSE, RECEIVED_PURPOSE

#: Ledger event kinds in words (the ``data-event`` attribute keeps the API's own value); every
#: kind has its words (tests/holder_api/test_web_event_kinds.py).
EVENT_WORDS: dict[EventKind, str] = {
    EventKind.CREDENTIAL_RECEIVED: N_("Credential received"),
    EventKind.CREDENTIAL_ACCEPTED: N_("Credential accepted from an issuer"),
    EventKind.CREDENTIAL_DECLINED: N_("Credential declined"),
    EventKind.CREDENTIAL_DELETED: N_("Credential deleted"),
    EventKind.PRESENTATION_SENT: N_("Claims shared with a verifier"),
    EventKind.PRESENTATION_DECLINED: N_("Presentation request declined"),
    EventKind.PRESENTATION_FAILED: N_("Sharing failed"),
    EventKind.SHARE_LINK_CREATED: N_("Share link created"),
    EventKind.SHARE_LINK_VIEWED: N_("Share link viewed"),
    EventKind.SHARE_LINK_REVOKED: N_("Share link revoked"),
    EventKind.INBOX_LINK_CREATED: N_("Inbox link created"),
    EventKind.INBOX_LINK_REVOKED: N_("Inbox link deleted"),
    EventKind.INBOX_ITEM_RECEIVED: N_("Inbox item received"),
    EventKind.INBOX_ITEM_EXPIRED: N_("Inbox item expired"),
    EventKind.CONSENT_GIVEN: N_("Consent given"),
    EventKind.CONSENT_WITHDRAWN: N_("Consent withdrawn"),
    EventKind.EXPORT: N_("Data exported"),
    EventKind.IMPORT: N_("Data imported"),
    EventKind.ERASURE: N_("Wallet erased"),
}
#: The purposes the wallet itself records, in words (a verifier's purpose is shown as it came).
OWN_PURPOSES = {
    RECEIVED_PURPOSE: N_("An offer or a credential sent to your inbox link"),
    EXPIRED_PURPOSE: N_("An inbox item you did not take up expired and was deleted"),
    EXPORT_PURPOSE: N_("An export you asked for (GDPR Art. 15 and 20)"),
    IMPORT_PURPOSE: N_("An import you asked for (GDPR Art. 20)"),
}
#: The kinds whose history entry links its consent receipt (the API signs one for any entry).
RECEIPT_LINKS: frozenset[EventKind] = frozenset({
    EventKind.PRESENTATION_SENT, EventKind.PRESENTATION_DECLINED, EventKind.SHARE_LINK_CREATED,
    EventKind.SHARE_LINK_VIEWED, EventKind.CONSENT_GIVEN, EventKind.CONSENT_WITHDRAWN})


@page()
async def history(ctx: Ctx) -> web.StreamResponse:
    cursor = ctx.query("cursor") or None
    events = await data.events(ctx.request, ctx.s, limit=100, cursor=cursor)
    chain = await data.verify_chain(ctx.request, ctx.s)
    shares = [s for s in await data.list_share_links(ctx.request, ctx.s)
              if s["state"] == "active"]
    links = await data.list_inbox_links(ctx.request, ctx.s)
    # an entry a newer release wrote (a rolling upgrade) in its place, marked as such
    newer = [{**e, "newer_release": True} for e in events.get("newer_release_entries", ())]
    timeline = sorted([*events["items"], *newer], key=lambda e: -int(e["seq"]))
    return render(ctx, "history.html", events=timeline, next_cursor=events["next_cursor"],
                  chain=chain, shares=shares, links=links, words=EVENT_WORDS,
                  own_purposes=OWN_PURPOSES,
                  titles=await credential_titles(ctx),
                  receipts=RECEIPT_LINKS, path_label=path_label, notice=ctx.query("notice"))


@page()
async def receipt(ctx: Ctx) -> web.StreamResponse:
    event_id = ctx.request.match_info["id"]
    jws = await data.receipt(ctx.request, ctx.s, event_id)
    return web.Response(text=jws, content_type="application/jwt", headers={
        "Content-Disposition": f'attachment; filename="consent-receipt-{event_id[:40]}.jwt"'})


@page()
async def withdraw(ctx: Ctx) -> web.StreamResponse:
    kind = ctx.field("kind", max_len=32)
    if kind not in ("share_link", "inbox_link"):
        raise Refused(N_("Unknown kind of consent."))
    await data.withdraw(ctx.request, ctx.s, kind, ctx.field("id", max_len=128))
    return redirect("/history?notice=withdrawn")


my_data = template_page("my_data.html")
export_form = template_page("export.html")


#: the export form's fields, both marked when it is refused (the file's passphrase, twice)
_EXPORT_FIELDS = ["passphrase", "confirm_passphrase"]


def _export_refused(ctx: Ctx, words: str) -> web.Response:
    """The export form again, its message in its card (``failed``: not atop the page)."""
    return render(ctx, "export.html", status=400, error=words, failed="export",
                  bad=_EXPORT_FIELDS)


@page()
async def export(ctx: Ctx) -> web.StreamResponse:
    passphrase = ctx.field("passphrase", max_len=1024)
    if passphrase != ctx.field("confirm_passphrase", max_len=1024):  # a typo: no file sealed
        return _export_refused(ctx, ctx._("The two passphrases for the file differ."))
    try:
        check_new_passphrase(passphrase)
        bundle = await data.export(ctx.request, ctx.s, passphrase)
    except BadInput as err:  # a weak or missing passphrase for the file: ask again
        return _export_refused(ctx, error_detail(ctx, err))
    return web.Response(
        text=json.dumps(bundle, ensure_ascii=False, separators=(",", ":")),
        content_type="application/json", headers={
            "Content-Disposition": 'attachment; filename="satchel-export.json"'})


import_form = template_page("import_bundle.html")


_MAX_BUNDLE = 50 * 1024 * 1024


@page()
async def import_post(ctx: Ctx) -> web.StreamResponse:
    upload = ctx.form.get("bundle") if ctx.form is not None else None
    if not isinstance(upload, web.FileField) or not upload.filename:
        return render(ctx, "import_bundle.html", status=400,
                      error=ctx._("Choose the export file to import."), bad=["bundle"])
    bundle = parse_json(upload.file.read(_MAX_BUNDLE),
                        Refused(N_("The file is not an export file (JSON).")))
    if ctx.admission is None:  # pages._context admits every import form of an unlocked wallet
        raise RuntimeError("the import form was read without an admission")
    try:
        result = await data.import_bundle(ctx.request, ctx.s, ctx.admission, bundle,
                                          ctx.field("passphrase", max_len=1024))
    except BundlePassphraseWrong as err:  # a typo: the form again, not a dead end
        return render(ctx, "import_bundle.html", status=err.status,
                      error=error_detail(ctx, err), bad=["passphrase"])
    return render(ctx, "imported.html", result=result)


#: the erase page counts the credentials up to here ("more than" past it)
_ERASE_COUNT = 100


async def _erase_page(ctx: Ctx, status: int = 200, **values: Any) -> web.Response:
    """The confirmation says what goes: the credentials, and the links others hold that stop
    working (share links) or stop receiving (inbox links)."""
    held = await data.list_credentials(ctx.request, ctx.s, limit=_ERASE_COUNT)
    shares = await data.list_share_links(ctx.request, ctx.s)
    inbox = await data.list_inbox_links(ctx.request, ctx.s)
    return render(ctx, "erase.html", status=status, held=len(held["items"]),
                  held_more=held["next_cursor"] is not None,
                  shares=sum(link["state"] == "active" for link in shares),
                  inbox_links=len(inbox), **values)


@page()
async def erase_form(ctx: Ctx) -> web.StreamResponse:
    return await _erase_page(ctx)


@page()
async def erase(ctx: Ctx) -> web.StreamResponse:
    try:
        await data.erase(ctx.request, ctx.s, ctx.field("passphrase", max_len=1024))
    except Unauthorized:
        return await _erase_page(ctx, status=401, bad=["passphrase"],
                                 error=ctx._("The passphrase is wrong: nothing was erased."))
    resp = redirect("/?notice=erased")
    clear_cookie(resp, ctx.request, cookies_for(ctx.request).session)
    return resp


#: this module's page routes, in registration order (holder_api.web.routing)
PAGES = [
    Page("GET", "/history", history,
         "the ledger as a timeline, its verification, standing consents"),
    Page("GET", "/history/{id}/receipt", receipt, "download a consent receipt"),
    Page("POST", "/history/withdraw", withdraw, "withdraw a standing consent"),
    Page("GET", "/my-data", my_data, "export, import, erase"),
    Page("GET", "/my-data/export", export_form,
         "a passphrase for the file, then the export (the form on its own)"),
    Page("POST", "/my-data/export", export, "download the export bundle"),
    Page("GET", "/my-data/import", import_form, "import an export bundle"),
    Page("POST", "/my-data/import", import_post, "import the bundle"),
    Page("GET", "/my-data/erase", erase_form,
         "what erasing takes with it, and the passphrase to do it"),
    Page("POST", "/my-data/erase", erase, "erase the wallet"),
]
