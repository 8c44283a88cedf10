"""Credential pages: the list with portfolio totals, one credential, import, delete, share."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import datetime
from typing import Any
from urllib.parse import urlencode

from aiohttp import web

from holder_api.appkeys import CLOCK, SETTINGS
from holder_api.web import data
from holder_api.web.findings import finding_text
from holder_api.web.flash import KINDS, cookie_name, open_flash, seal_flash
from holder_api.web.i18n import N_
from holder_api.web.pages import Ctx, error_detail, form_paths, on_item, page, redirect, render, template_page
from holder_api.web.problems import Refused
from holder_api.web.qr import qr_svg
from holder_api.web.routing import Page
from holder_api.web.show import (
    COVERAGE,
    ELEMENT_NAMES,
    TextLanguages,
    claim_rows,
    element_lines,
    has_expired,
    path_label,
)
from wallet.errors import InvalidCursor, SatchelError
from wallet.formats.traits import WIRE_FORMATS, traits_of
from wallet.jsontext import parse_json
from wallet.microcred.languages import foreign_language

#: Share link lifetimes the form offers, in seconds (the API allows 60 s .. 90 days).
EXPIRY_CHOICES = (3600, 86400, 7 * 86400, 30 * 86400)
#: the statuses of a refusal of the credential itself (not of the session or the rate limits)
_REFUSED_TEXT = (400, 409, 413, 415, 422)
#: cards per page of the list (the rest is one "More credentials" link away)
PAGE_SIZE = 100
_FORMATS = WIRE_FORMATS  # the list filter offers the wire formats (not pdf)


def _card(item: dict[str, Any], folio: dict[str, dict[str, Any]],
          now: datetime, page_language: str) -> dict[str, Any]:
    """A list card: the summary, the portfolio's ECTS and EQF, whether it expired, and the
    languages of its title and awarding body where they differ from the page's (``lang``)."""
    extra = folio.get(item["id"], {})
    return {**item, "ects": extra.get("ects"), "eqf": extra.get("eqf"),
            "expired": has_expired(item.get("expires_at"), now),
            "title_lang": _foreign(item.get("title_lang"), page_language),
            "awarding_body_lang": _foreign(item.get("awarding_body_lang"), page_language)}


def _foreign(tag: Any, page_language: str) -> str | None:
    return foreign_language([tag] if isinstance(tag, str) else None, page_language)


@page()
async def list_page(ctx: Ctx) -> web.StreamResponse:
    q, fmt, issuer = ctx.query("q"), ctx.query("format"), ctx.query("issuer")
    eqf = ctx.query("eqf")
    folio = await data.portfolio(ctx.request, ctx.s, ctx.languages)
    by_id = {c["id"]: c for c in folio["credentials"]}
    # the EQF level is the portfolio's (mapped per language), not a stored field the list
    # can search: the page keeps the matching cards, across as many list pages as it takes
    level = eqf if eqf.isdigit() else None
    keep = (lambda item: str(by_id.get(item["id"], {}).get("eqf")) == level) if level else None
    items, after = await _filtered(ctx, keep, q=q or None, format=fmt or None,
                                   issuer=issuer or None)
    now = ctx.request.app[CLOCK]()
    cards = [_card(i, by_id, now, ctx.lang) for i in items]
    return render(ctx, "credentials.html", cards=cards, portfolio=folio, q=q, format=fmt,
                  issuer=issuer, eqf=eqf, formats=_FORMATS,
                  filtered=bool(q or fmt or issuer or eqf), notice=ctx.query("notice"),
                  more=_more_link(ctx, after))


async def _filtered(ctx: Ctx, keep: Callable[[dict[str, Any]], bool] | None,
                    **query: Any) -> tuple[list[dict[str, Any]], str | None]:
    """Up to PAGE_SIZE credentials of the whole list that the service's filters (``query``)
    and ``keep`` let through, from the position ``cursor`` names; and the position of the next
    one, if any.

    A position is ``<n>.<service cursor>``: the ``n``-th credential of the service's page at
    that cursor (empty: the first page). The service's cursor is bound to its query, so a
    position only ever resumes the same filters.
    """
    size = PAGE_SIZE
    service_cursor, skip = _position(ctx.query("cursor"))
    shown: list[dict[str, Any]] = []
    while True:
        page_ = await data.list_credentials(ctx.request, ctx.s, limit=size,
                                            cursor=service_cursor, **query)
        for i, item in enumerate(page_["items"][skip:], start=skip):
            if keep is not None and not keep(item):
                continue
            if len(shown) == size:
                return shown, f"{i}.{service_cursor or ''}"
            shown.append(item)
        service_cursor, skip = page_["next_cursor"], 0
        if not service_cursor:
            return shown, None
        if keep is None and len(shown) == size:  # every next one is shown: it is the next
            return shown, f"0.{service_cursor}"


def _position(raw: str) -> tuple[str | None, int]:
    if not raw:
        return None, 0
    n, _, cursor = raw.partition(".")
    if not n.isdigit() or int(n) >= PAGE_SIZE:
        raise InvalidCursor("invalid cursor")
    return cursor or None, int(n)


def _more_link(ctx: Ctx, position: str | None) -> str | None:
    """The next page of the list, with the same filters (None on the last page)."""
    if not position:
        return None
    kept = [(k, ctx.query(k)) for k in ("q", "format", "issuer", "eqf") if ctx.query(k)]
    return "/credentials?" + urlencode([*kept, ("cursor", position)])


def _share_choices(cred: dict[str, Any]) -> tuple[bool, list[dict[str, Any]]]:
    """(whole, claims): W3C formats are shared whole; SD-JWT claim by claim."""
    disclosable = [p for p in cred.get("disclosable") or [] if isinstance(p, list) and p]
    row = traits_of(cred["format"])
    if (row is not None and not row.selective) or not disclosable:
        return True, []
    return False, [{"path": p, "json": json.dumps(p, separators=(",", ":")),
                    "label": path_label(p)} for p in disclosable]


def _element_rows(ctx: Ctx, elements: dict[str, Any],
                  langs: TextLanguages) -> list[dict[str, Any]]:
    """Every Annex I element in the model's order: its name, coverage and lines, each line
    with its nested key and, when in another language than the page, its language."""
    rows = []
    for k, name in ELEMENT_NAMES.items():
        element = elements.get(k) or {}
        coverage = element.get("coverage", "absent")
        lines = [{"text": line, "key": getattr(line, "key", None), "lang": langs.foreign(line)}
                 for line in element_lines(k, element.get("value"), ctx._, ctx.lang)]
        rows.append({"key": k, "name": ctx._(name), "coverage": coverage,
                     "coverage_words": ctx._(COVERAGE[coverage]), "lines": lines})
    return rows


async def _detail(ctx: Ctx, cid: str, **extra: Any) -> web.Response:
    cred = await data.get_credential(ctx.request, ctx.s, cid, ctx.languages)
    elements = cred.get("elements") or {}
    langs = TextLanguages(cred.get("claims"), ctx.lang)
    missing = [ctx._(ELEMENT_NAMES[k]) for k in elements.get("missing_mandatory") or []
               if k in ELEMENT_NAMES]
    whole, choices = _share_choices(cred)
    findings = [{"code": code, "text": finding_text(code, ctx._)}
                for code in (cred.get("verification") or {}).get("problems") or []
                if isinstance(code, str)]
    extra.setdefault("notice", ctx.query("notice"))
    return render(ctx, "credential.html", status=extra.pop("status", 200), c=cred,
                  title_lang=langs.foreign(cred.get("title")),
                  expired=has_expired(cred.get("expires_at"), ctx.request.app[CLOCK]()),
                  rows=_element_rows(ctx, elements, langs), has_elements=bool(elements),
                  missing=missing, absent=ctx._(COVERAGE["absent"]),
                  claims=claim_rows(cred.get("claims") or {}, langs), whole=whole,
                  choices=choices, expiry_choices=EXPIRY_CHOICES, findings=findings, **extra)


@page()
async def detail_page(ctx: Ctx) -> web.StreamResponse:
    return await _detail(ctx, ctx.request.match_info["id"])


@page()
async def raw(ctx: Ctx) -> web.StreamResponse:
    cred = await data.get_credential(ctx.request, ctx.s, ctx.request.match_info["id"],
                                     ctx.languages)
    ext = "json" if cred["raw"].lstrip().startswith("{") else "txt"
    return web.Response(text=cred["raw"], content_type="application/octet-stream", headers={
        "Content-Disposition": f'attachment; filename="credential-{cred["id"][:36]}.{ext}"'})


@page()
async def delete_confirm(ctx: Ctx) -> web.StreamResponse:
    cred = await data.get_credential(ctx.request, ctx.s, ctx.request.match_info["id"],
                                     ctx.languages)
    return render(ctx, "delete.html", c=cred)


delete = on_item(data.delete_credential, "/credentials?notice=deleted")


@page()
async def share(ctx: Ctx) -> web.StreamResponse:
    cid = ctx.request.match_info["id"]
    cred = await data.get_credential(ctx.request, ctx.s, cid, ctx.languages)
    whole, _choices = _share_choices(cred)
    if whole:
        claims: list[list[Any]] = [[]]
    else:
        bad_path = Refused(N_("A claim path is not valid."))
        claims = [parse_json(v, bad_path) for v in form_paths(ctx.form, "claim")]
        if not claims:
            return await _detail(ctx, cid, status=400,
                                 share_error=ctx._("Choose at least one claim to share."),
                                 bad=["claim"])
    try:
        expires_in = int(ctx.field("expires_in", max_len=8) or 7 * 86400)
        max_views = int(ctx.field("max_views", max_len=5) or 10)
    except ValueError as exc:
        raise Refused(N_("Expiry and views must be whole numbers.")) from exc
    link = await data.create_share_link(ctx.request, ctx.s, cid, claims, expires_in=expires_in,
                                        max_views=max_views)
    # Post/Redirect/Get: the link is shown by GET .../shared (reload, language switch) from a
    # sealed flash bound to this session; the wallet keeps no readable copy of it.
    ctx.set_cookies[cookie_name(ctx.request, "share")] = (seal_flash(
        ctx.request, "share", ctx.bound,
        {"cid": cid, "url": link["url"], "expires_at": link["expires_at"],
         "max_views": link["max_views"],  # the claims shared (none listed: the whole of it)
         "shared": [] if whole else claims}),
        KINDS["share"])
    return redirect(f"/credentials/{cid}/shared")


@page()
async def shared_page(ctx: Ctx) -> web.StreamResponse:
    cid = ctx.request.match_info["id"]
    shown = open_flash(ctx.request, "share", ctx.bound)
    if shown is None or shown.get("cid") != cid:
        return redirect(f"/credentials/{cid}")
    cred = await data.get_credential(ctx.request, ctx.s, cid, ctx.languages)
    return render(ctx, "shared.html", c=cred, link=shown,
                  qr=qr_svg(shown["url"], ctx._("QR code of the share link")),
                  # the claims' paths (a flash sealed before they were, their labels)
                  shared=[p if isinstance(p, list) else [p] for p in shown["shared"]])


@page()
async def printable(ctx: Ctx) -> web.StreamResponse:
    pdf = await data.credential_pdf(ctx.request, ctx.s, ctx.request.match_info["id"],
                                    ctx.languages)
    return web.Response(body=pdf, content_type="application/pdf", headers={
        "Content-Disposition": 'attachment; filename="credential.pdf"'})


import_form = template_page("import.html")


_MAX_UPLOAD = 900_000


@page()
async def import_post(ctx: Ctx) -> web.StreamResponse:
    raw = ctx.field("raw", max_len=_MAX_UPLOAD).strip()
    upload = ctx.form.get("file") if ctx.form is not None else None
    if isinstance(upload, web.FileField) and upload.filename:
        body = upload.file.read(ctx.request.app[SETTINGS].max_pdf_bytes + 1)
        if body.startswith(b"%PDF-"):  # a signed PDF and the credentials attached to it
            if len(body) > ctx.request.app[SETTINGS].max_pdf_bytes:
                raise Refused(N_("The PDF is too large."))
            stored = await data.import_pdf(ctx.request, ctx.s, body, ctx.languages)
            return redirect(f"/credentials/{stored['id']}?notice=imported")
        if len(body) > _MAX_UPLOAD:
            raise Refused(N_("The file is too large."))
        try:
            raw = body.decode("utf-8").strip()
        except UnicodeDecodeError as exc:
            raise Refused(N_("The file is not a text credential (UTF-8).")) from exc
        pasted = False
    else:
        pasted = True
    if not raw:
        return render(ctx, "import.html", status=400,
                      error=ctx._("Paste a credential or choose a file."), bad=["raw", "file"])
    try:
        stored = await data.import_credential(ctx.request, ctx.s, raw, ctx.languages)
    except SatchelError as err:
        if err.status not in _REFUSED_TEXT:
            raise
        # the credential's fault: the form again with the error, a paste kept (a file cannot
        # be chosen again for the learner)
        return render(ctx, "import.html", status=err.status, error=error_detail(ctx, err),
                      bad=["raw"] if pasted else ["file"], raw=raw if pasted else "")
    return redirect(f"/credentials/{stored['id']}?notice=imported")


#: this module's page routes, in registration order (holder_api.web.routing)
PAGES = [
    Page("GET", "/credentials", list_page, "the cards, portfolio totals, search and filters"),
    Page("GET", "/credentials/import", import_form, "paste a credential or upload a file"),
    Page("POST", "/credentials/import", import_post, "import the pasted or uploaded credential"),
    Page("GET", "/credentials/{id}", detail_page,
         "one credential: verification, Annex I elements, claims, share"),
    Page("GET", "/credentials/{id}/raw", raw, "download the credential as received"),
    Page("GET", "/credentials/{id}/delete", delete_confirm, "confirm deleting a credential"),
    Page("POST", "/credentials/{id}/delete", delete, "delete the credential"),
    Page("POST", "/credentials/{id}/share", share, "make a share link"),
    Page("POST", "/credentials/{id}/pdf", printable, "download a signed PDF printout"),
    Page("GET", "/credentials/{id}/shared", shared_page, "the new share link with its QR code"),
]
