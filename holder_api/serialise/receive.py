"""Receiving on the wire: offers, accept outcomes, inbox links and inbox items."""

from __future__ import annotations

from typing import Any

from holder_api.serialise.common import iso
from holder_api.serialise.credentials import credential_detail
from wallet.oid4vci import TxCode
from wallet.receive.results import (
    AcceptOutcome,
    InboxItem,
    InboxLink,
    NewInboxLink,
    Offer,
    TransactionProblem,
)

__all__ = ["accept_outcome", "inbox_item", "inbox_link", "new_inbox_link", "offer"]


def _tx_code(tx: TxCode) -> dict[str, Any]:
    out: dict[str, Any] = {"input_mode": tx.input_mode}
    if tx.length is not None:
        out["length"] = tx.length
    if tx.description is not None:
        out["description"] = tx.description
    return out


def offer(o: Offer) -> dict[str, Any]:
    out: dict[str, Any] = {
        "id": o.id,
        "status": o.status,
        "issuer": {"id": o.issuer.id, "name": o.issuer.name, "trusted": o.issuer.trusted},
        "credentials": [{"configuration_id": c.configuration_id, "format": c.format,
                         "name": c.name} for c in o.credentials],
        "created_at": o.created_at,
    }
    if o.tx_code is not None:
        out["tx_code"] = _tx_code(o.tx_code)
    if o.retry_after is not None:
        out["retry_after"] = o.retry_after
    return out


def _problem(p: TransactionProblem) -> dict[str, Any]:
    return {"status": p.status, "code": p.code, "detail": p.detail}


def accept_outcome(outcome: AcceptOutcome) -> dict[str, Any]:
    if outcome.status == "authorization_required":
        return {"status": "authorization_required", "authorization_url": outcome.authorization_url,
                "redirect_uri": outcome.redirect_uri, "offer_id": outcome.offer_id}
    credentials = [credential_detail(c) for c in outcome.credentials]
    out: dict[str, Any] = ({"credentials": credentials} if outcome.status == "issued" else {
        "status": "deferred", "offer_id": outcome.offer_id, "retry_after": outcome.retry_after,
        "credentials": credentials})
    if outcome.problem is not None:
        out["problem"] = _problem(outcome.problem)
    return out


def new_inbox_link(link: NewInboxLink) -> dict[str, Any]:
    return {"id": link.id, "url": link.url, "label": link.label, "created_at": link.created_at}


def inbox_link(link: InboxLink) -> dict[str, Any]:
    return {"id": link.id, "label": link.label, "created_at": link.created_at}


def inbox_item(item: InboxItem) -> dict[str, Any]:
    return {"id": item.id, "kind": item.kind, "from": item.sender, "issuer": item.issuer,
            "link_id": item.link_id, "received_at": iso(item.received_at)}
