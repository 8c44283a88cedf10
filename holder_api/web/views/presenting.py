"""Presenting: the consent page of an OpenID4VP request, and the share links list.

The consent page shows exactly what a ``Share`` sends: per query the chosen credential and its
claims with their values, minus what the learner unticked. Options (several matching
credentials, DCQL ``credential_sets`` alternatives, claims to keep back for a smaller
``claim_sets`` option) are plain form controls; ``Update`` re-renders the summary without
sending (no JavaScript needed), ``Share`` sends whatever the form holds.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

from holder_api.web import data
from holder_api.web.flash import KINDS, MAX_FLASH, cookie_name, open_flash, seal_flash
from holder_api.web.i18n import N_
from holder_api.web.pages import Ctx, form_paths, on_item, page, redirect, render
from holder_api.web.problems import Refused
from holder_api.web.routing import Page
from holder_api.web.show import (
    claim_leaves,
    claim_time,
    display_title,
    path_json,
    path_label,
    value_text,
    verifier_name,
)
from wallet.crypto import RecordUnreadable


@dataclass
class Selection:
    sets: dict[int, int] = field(default_factory=dict)  # credential_set index -> option index
    #: query id -> credential ids (one, or several where the query says ``multiple``)
    choices: dict[str, list[str]] = field(default_factory=dict)
    withheld: dict[str, set[str]] = field(default_factory=dict)  # credential id -> path JSON
    drop_optional: bool = False


def _selection(ctx: Ctx, req: dict[str, Any]) -> Selection:
    """The learner's choices from the posted form, or the defaults (first of everything)."""
    sel = Selection()
    posted = ctx.form is not None
    for i, cs in enumerate(req.get("credential_sets") or []):
        raw = ctx.field(f"set:{i}", max_len=4) if posted else ""
        k = int(raw) if raw.isdigit() else 0
        sel.sets[i] = k if k < len(cs["options"]) else 0
    for q in req["queries"]:
        ids = [o["credential_id"] for o in q["options"]]
        if ids and q.get("multiple"):  # checkboxes: any of them, at least one
            ticked = form_paths(ctx.form, f"q:{q['id']}") if posted else []
            sel.choices[q["id"]] = [i for i in ids if i in ticked] or ids[:1]
        elif ids:
            chosen = ctx.field(f"q:{q['id']}", max_len=256) if posted else ""
            sel.choices[q["id"]] = [chosen if chosen in ids else ids[0]]
        if posted:
            for o in q["options"]:
                if o.get("whole_credential"):
                    continue
                sent = set(form_paths(ctx.form, f"send:{q['id']}:{o['credential_id']}"))
                sel.withheld[o["credential_id"]] = {
                    path_json(c["path"]) for c in o["claims"]} - sent
    sel.drop_optional = posted and ctx.field("optional") != "yes" and any(
        not cs.get("required", True) for cs in req.get("credential_sets") or [])
    return sel


def _queries_sent(req: dict[str, Any], sel: Selection) -> list[str]:
    sets = req.get("credential_sets") or []
    if not sets:
        return [q["id"] for q in req["queries"]]
    out: list[str] = []
    for i, cs in enumerate(sets):
        if not cs.get("required", True) and sel.drop_optional:
            continue
        for qid in cs["options"][sel.sets.get(i, 0)]:
            if qid not in out:
                out.append(qid)
    return out


def _starts(path: list[Any], prefixes: list[list[Any]]) -> bool:
    return any(path[:len(p)] == p for p in prefixes)


def _outgoing(req: dict[str, Any], sel: Selection, titles: dict[str, str],
              creds: dict[str, dict[str, Any]]) -> list[dict[str, Any]]:
    """Per query to answer: the credential and the claims (path, value) that leave.

    A whole credential (W3C formats) sends every claim it holds, so every one is listed, not
    only those asked for. An SD-JWT always sends what its issuer did not make selectively
    disclosable: those are listed apart ("always sent") with their values.
    """
    out = []
    queries = {q["id"]: q for q in req["queries"]}
    answers = [(qid, cid) for qid in _queries_sent(req, sel)
               for cid in sel.choices.get(qid, [])]
    for qid, cid in answers:
        q = queries.get(qid)
        if q is None:
            continue
        option = next(o for o in q["options"] if o["credential_id"] == cid)
        held = sel.withheld.get(cid, set())
        cred = creds.get(cid) or {}
        whole = bool(option.get("whole_credential"))
        asked = [(c["path"], c["value"]) for c in option["claims"]]
        if whole and cred.get("claims"):
            asked = claim_leaves(cred["claims"])
        claims = [_claim(p, v) for p, v in asked if path_json(p) not in held]
        always: list[dict[str, Any]] = []
        if not whole and cred.get("claims"):
            selective = [p for p in cred.get("disclosable") or [] if isinstance(p, list) and p]
            requested = [c["path"] for c in option["claims"]]
            always = [_claim(p, v) for p, v in claim_leaves(cred["claims"])
                      if p and not _starts(p, selective) and not _starts(p, requested)]
        out.append({"query": qid, "credential_id": cid, "title": titles.get(cid, cid),
                    "whole": whole, "claims": claims, "always": always})
    return out


def _claim(path: list[Any], value: Any) -> dict[str, Any]:
    return {"path": path, "json": path_json(path), "label": path_label(path),
            "value": value_text(value), "at": claim_time(path, value)}


def _digest(outgoing: list[dict[str, Any]]) -> str:
    """What the summary showed, so that a Share after unreviewed changes is caught."""
    shown = [[o["query"], o["credential_id"], [c["json"] for c in o["claims"]]]
             for o in outgoing]
    return hashlib.sha256(json.dumps(shown, separators=(",", ":")).encode()).hexdigest()[:32]


async def _chosen_credentials(ctx: Ctx, req: dict[str, Any],
                              sel: Selection) -> dict[str, dict[str, Any]]:
    out = {}
    for cid in {c for q in _queries_sent(req, sel) for c in sel.choices.get(q, [])}:
        out[cid] = await data.get_credential(ctx.request, ctx.s, cid, ctx.languages)
    return out


async def credential_titles(ctx: Ctx) -> dict[str, str]:
    """Credential id -> the title a page shows for it."""
    titles: dict[str, str] = {}
    cursor: str | None = None
    while True:  # every credential, not only the first page of them
        listed = await data.list_credentials(ctx.request, ctx.s, limit=200, cursor=cursor)
        titles.update((c["id"], display_title(c) or c["id"]) for c in listed["items"])
        cursor = listed["next_cursor"]
        if not cursor:
            return titles


async def _consent(ctx: Ctx, **extra: Any) -> web.Response:
    rid = ctx.request.match_info["id"]
    req = await data.get_request(ctx.request, ctx.s, rid)
    sel = _selection(ctx, req)
    titles = await credential_titles(ctx)
    outgoing = (_outgoing(req, sel, titles, await _chosen_credentials(ctx, req, sel))
                if req["satisfiable"] else [])
    return render(ctx, "consent.html", status=extra.pop("status", 200), r=req, sel=sel,
                  who=verifier_name(req["verifier"], ctx.languages),
                  sent_queries=_queries_sent(req, sel), outgoing=outgoing,
                  shown=_digest(outgoing), titles=titles, path_json=path_json,
                  path_label=path_label, value_text=value_text, **extra)


@page()
async def consent(ctx: Ctx) -> web.StreamResponse:
    return await _consent(ctx)


@page()
async def preview(ctx: Ctx) -> web.StreamResponse:
    return await _consent(ctx, form_open=True)


@page()
async def share(ctx: Ctx) -> web.StreamResponse:
    rid = ctx.request.match_info["id"]
    req = await data.get_request(ctx.request, ctx.s, rid)
    sel = _selection(ctx, req)
    outgoing: list[dict[str, Any]] = []  # what the summary showed: the page after recalls it
    if req["satisfiable"]:
        outgoing = _outgoing(req, sel, await credential_titles(ctx),
                             await _chosen_credentials(ctx, req, sel))
        if ctx.field("shown", max_len=64) != _digest(outgoing):
            # the choices changed after the summary was drawn: show the new one, send nothing
            return await _consent(ctx, status=409, form_open=True, error=ctx._(
                "Your choices changed what will be sent. Check the summary, then press "
                "Share again."))
    sent = _queries_sent(req, sel)
    multiple = {q["id"] for q in req["queries"] if q.get("multiple")}
    choices: dict[str, str | list[str]] = {
        q: (sel.choices[q] if q in multiple else sel.choices[q][0])
        for q in sent if sel.choices.get(q)}
    chosen = {c for q in sent for c in sel.choices.get(q, [])}
    withhold = {cid: [json.loads(p) for p in held] for cid, held in sel.withheld.items()
                if held and cid in chosen}
    if not choices:
        raise Refused(N_("Nothing to share: no credential matches this request."))
    out = await data.respond(ctx.request, ctx.s, rid, choices=choices, withhold=withhold or None,
                             drop_optional=sel.drop_optional)
    # Post/Redirect/Get: a reload shows what was sent again and sends nothing. The page after
    # reads the receipt and the choices (not the values: they come from the vault again) from
    # a sealed flash bound to this session.
    shown: dict[str, Any] = {"rid": rid, "event": out["event_id"],
                             "redirect": out.get("redirect_uri"), "sel": _sel_json(sel)}
    sealed = seal_flash(ctx.request, "sent", ctx.bound, shown)
    if len(sealed) > MAX_FLASH:  # choices too many to carry: the receipt and the way on still
        sealed = seal_flash(ctx.request, "sent", ctx.bound, {**shown, "sel": None})
    ctx.set_cookies[cookie_name(ctx.request, "sent")] = (sealed, KINDS["sent"])
    return redirect(f"/requests/{rid}/sent")


def _sel_json(sel: Selection) -> dict[str, Any]:
    return {"sets": {str(k): v for k, v in sel.sets.items()}, "choices": sel.choices,
            "withheld": {c: sorted(p) for c, p in sel.withheld.items() if p},
            "drop_optional": sel.drop_optional}


def _sel_of(raw: dict[str, Any]) -> Selection:
    return Selection(sets={int(k): int(v) for k, v in raw["sets"].items()},
                     choices={q: list(c) for q, c in raw["choices"].items()},
                     withheld={c: set(p) for c, p in raw["withheld"].items()},
                     drop_optional=bool(raw["drop_optional"]))


@page()
async def sent_page(ctx: Ctx) -> web.StreamResponse:
    """What a Share sent (the answer to its POST redirects here): the claims, the receipt."""
    rid = ctx.request.match_info["id"]
    req = await data.get_request(ctx.request, ctx.s, rid)  # another learner's: 404
    shown = open_flash(ctx.request, "sent", ctx.bound)
    if shown is None or shown.get("rid") != rid:  # expired, or not answered by this session
        return redirect(f"/requests/{rid}")
    outgoing: list[dict[str, Any]] = []
    if shown.get("sel") is not None and req["satisfiable"]:
        sel = _sel_of(shown["sel"])
        outgoing = _outgoing(req, sel, await credential_titles(ctx),
                             await _chosen_credentials(ctx, req, sel))
    out = {"event_id": shown["event"], "redirect_uri": shown.get("redirect")}
    return render(ctx, "sent.html", r=req, out=out, receipt=out["event_id"], outgoing=outgoing,
                  who=verifier_name(req["verifier"], ctx.languages))


@page()
async def decline(ctx: Ctx) -> web.StreamResponse:
    rid = ctx.request.match_info["id"]
    try:
        req = await data.get_request(ctx.request, ctx.s, rid)
    except RecordUnreadable:  # the learner's way to clear it, as the API's: no verifier named
        req = None
    out = await data.decline_request(ctx.request, ctx.s, rid)
    return render(ctx, "declined.html", r=req, out=out, receipt=out["event_id"],
                  who=verifier_name(req["verifier"], ctx.languages) if req else None)


@page()
async def share_links(ctx: Ctx) -> web.StreamResponse:
    links = await data.list_share_links(ctx.request, ctx.s)
    titles = await credential_titles(ctx)
    return render(ctx, "shares.html", links=links, titles=titles, path_label=path_label,
                  notice=ctx.query("notice"))


revoke_share_link = on_item(data.revoke_share_link, "/shares?notice=revoked")


#: this module's page routes, in registration order (holder_api.web.routing)
PAGES = [
    Page("GET", "/requests/{id}", consent,
         "consent to a presentation request: who asks, why, what leaves"),
    Page("POST", "/requests/{id}", preview, "the consent page again with the learner's choices"),
    Page("POST", "/requests/{id}/share", share, "share what the consent page showed"),
    Page("GET", "/requests/{id}/sent", sent_page,
         "what a Share sent and its receipt (the answer to the Share redirects here)"),
    Page("POST", "/requests/{id}/decline", decline, "decline the request"),
    Page("GET", "/shares", share_links, "share links, their views and state"),
    Page("POST", "/shares/{id}/revoke", revoke_share_link, "revoke a share link"),
]
