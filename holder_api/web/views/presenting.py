"""Presenting: the consent page of an OpenID4VP request, and the share links list.

The consent page shows exactly what a ``Share`` sends: per query the chosen credential and its
claims with their values, minus what the learner unticked. Options (several matching
credentials, DCQL ``credential_sets`` alternatives, claims to keep back for a smaller
``claim_sets`` option) are plain form controls; ``Update`` re-renders the summary without
sending (no JavaScript needed), ``Share`` sends whatever the form holds.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

from holder_api.web import data
from holder_api.web.pages import Ctx, form_paths, page, redirect, render
from holder_api.web.show import display_title, path_json, path_label, value_text
from wallet.errors import BadInput


@dataclass
class Selection:
    sets: dict[int, int] = field(default_factory=dict)  # credential_set index -> option index
    choices: dict[str, str] = field(default_factory=dict)  # query id -> credential id
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
        chosen = ctx.field(f"q:{q['id']}", max_len=256) if posted else ""
        if ids:
            sel.choices[q["id"]] = chosen if chosen in ids else ids[0]
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


def _outgoing(req: dict[str, Any], sel: Selection,
              titles: dict[str, str]) -> list[dict[str, Any]]:
    """Per query to answer: the credential and the claims (path, value) that leave."""
    out = []
    queries = {q["id"]: q for q in req["queries"]}
    for qid in _queries_sent(req, sel):
        q, cid = queries.get(qid), sel.choices.get(qid)
        if q is None or cid is None:
            continue
        option = next(o for o in q["options"] if o["credential_id"] == cid)
        held = sel.withheld.get(cid, set())
        claims = [{"path": c["path"], "json": path_json(c["path"]),
                   "label": path_label(c["path"]), "value": value_text(c["value"])}
                  for c in option["claims"] if path_json(c["path"]) not in held]
        out.append({"query": qid, "credential_id": cid, "title": titles.get(cid, cid),
                    "whole": bool(option.get("whole_credential")), "claims": claims})
    return out


async def _titles(ctx: Ctx) -> dict[str, str]:
    listed = await data.list_credentials(ctx.request, ctx.s, limit=200)
    return {c["id"]: display_title(c) or c["id"] for c in listed["items"]}


async def _consent(ctx: Ctx, **extra: Any) -> web.Response:
    rid = ctx.request.match_info["id"]
    req = await data.get_request(ctx.request, ctx.s, rid)
    sel = _selection(ctx, req)
    titles = await _titles(ctx)
    return render(ctx, "consent.html", status=extra.pop("status", 200), r=req, sel=sel,
                  sent_queries=_queries_sent(req, sel),
                  outgoing=_outgoing(req, sel, titles) if req["satisfiable"] else [],
                  titles=titles, path_json=path_json, path_label=path_label,
                  value_text=value_text, **extra)


@page()
async def consent(ctx: Ctx) -> web.StreamResponse:
    return await _consent(ctx)


@page()
async def preview(ctx: Ctx) -> web.StreamResponse:
    return await _consent(ctx)


@page()
async def share(ctx: Ctx) -> web.StreamResponse:
    rid = ctx.request.match_info["id"]
    req = await data.get_request(ctx.request, ctx.s, rid)
    sel = _selection(ctx, req)
    sent = _queries_sent(req, sel)
    choices: dict[str, str | list[str]] = {q: sel.choices[q] for q in sent if q in sel.choices}
    withhold = {cid: [json.loads(p) for p in held] for cid, held in sel.withheld.items()
                if held and cid in choices.values()}
    if not choices:
        raise BadInput("nothing to share: no credential matches this request")
    out = await data.respond(ctx.request, ctx.s, rid, choices=choices, withhold=withhold or None,
                             drop_optional=sel.drop_optional)
    receipt = await _latest_event(ctx, "presentation_sent")
    return render(ctx, "sent.html", r=req, out=out, receipt=receipt)


async def _latest_event(ctx: Ctx, kind: str) -> str | None:
    events = await data.events(ctx.request, ctx.s, kinds=[kind], limit=1)
    return events["items"][0]["id"] if events["items"] else None


@page()
async def decline(ctx: Ctx) -> web.StreamResponse:
    rid = ctx.request.match_info["id"]
    req = await data.get_request(ctx.request, ctx.s, rid)
    out = await data.decline_request(ctx.request, ctx.s, rid)
    receipt = await _latest_event(ctx, "presentation_declined")
    return render(ctx, "declined.html", r=req, out=out, receipt=receipt)


@page()
async def share_links(ctx: Ctx) -> web.StreamResponse:
    links = await data.list_share_links(ctx.request, ctx.s)
    titles = await _titles(ctx)
    return render(ctx, "shares.html", links=links, titles=titles, path_label=path_label,
                  notice=ctx.query("notice"))


@page()
async def revoke_share_link(ctx: Ctx) -> web.StreamResponse:
    await data.revoke_share_link(ctx.request, ctx.s, ctx.request.match_info["id"])
    return redirect("/shares?notice=revoked")
