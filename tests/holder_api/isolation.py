"""The tenant-isolation helper: every id learner A can see, asked for with learner B's token.

Each entry of :data:`ID_ROUTES` names how to collect A's ids and which routes take such an id —
in the path (``{id}``) or in the JSON body (a string value ``"{id}"``, e.g. the ``credential_id``
of a new share link). Later features add their routes here, and :func:`assert_isolated` checks
every one: the answer to B is always 404 with exactly the body a random, never-issued id gets.
"""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any

from aiohttp.test_utils import TestClient

Collector = Callable[[TestClient[Any, Any], str], Awaitable[list[str]]]


@dataclass(frozen=True)
class IdRoute:
    kind: str
    collect: Collector
    routes: tuple[tuple[str, str], ...]  # (method, path with "{id}" or a body that has it)
    body: Mapping[str, Any] | None = None


def _fill(value: Any, an_id: str) -> Any:
    """The body with every string ``"{id}"`` in it replaced by ``an_id``."""
    if isinstance(value, Mapping):
        return {k: _fill(v, an_id) for k, v in value.items()}
    if isinstance(value, list):
        return [_fill(v, an_id) for v in value]
    return an_id if value == "{id}" else value


async def _credential_ids(client: TestClient[Any, Any], token: str) -> list[str]:
    r = await client.get("/v1/credentials", headers={"Authorization": f"Bearer {token}"})
    assert r.status == 200
    return [c["id"] for c in (await r.json())["items"]]


async def _items(client: TestClient[Any, Any], token: str, path: str) -> list[str]:
    r = await client.get(path, headers={"Authorization": f"Bearer {token}"})
    assert r.status == 200
    return [c["id"] for c in (await r.json())["items"]]


# -- receiving: offers, inbox items, inbox links
async def _offer_ids(client: TestClient[Any, Any], token: str) -> list[str]:
    return await _items(client, token, "/v1/offers")


async def _inbox_ids(client: TestClient[Any, Any], token: str) -> list[str]:
    return await _items(client, token, "/v1/inbox")


async def _inbox_link_ids(client: TestClient[Any, Any], token: str) -> list[str]:
    return await _items(client, token, "/v1/inbox-links")


RECEIVE_ROUTES: list[IdRoute] = [
    IdRoute("offer", _offer_ids,
            (("GET", "/v1/offers/{id}"), ("POST", "/v1/offers/{id}/accept"),
             ("POST", "/v1/offers/{id}/decline")), body={}),
    IdRoute("offer", _offer_ids, (("POST", "/v1/offers/{id}/authorization"),),
            body={"callback_url": "https://app.example/cb?code=c&state=s"}),
    IdRoute("inbox item", _inbox_ids,
            (("POST", "/v1/inbox/{id}/accept"), ("POST", "/v1/inbox/{id}/decline")), body={}),
    IdRoute("inbox link", _inbox_link_ids, (("DELETE", "/v1/inbox-links/{id}"),)),
]
# -- end receiving

async def _presentation_request_ids(client: TestClient[Any, Any], token: str) -> list[str]:
    r = await client.get("/v1/presentation-requests", headers={"Authorization": f"Bearer {token}"})
    assert r.status == 200
    return [i["id"] for i in (await r.json())["items"]]


async def _share_link_ids(client: TestClient[Any, Any], token: str) -> list[str]:
    r = await client.get("/v1/share-links", headers={"Authorization": f"Bearer {token}"})
    assert r.status == 200
    return [i["id"] for i in (await r.json())["items"]]
async def _consent_event_ids(client: TestClient[Any, Any], token: str) -> list[str]:
    r = await client.get("/v1/consent/events", headers={"Authorization": f"Bearer {token}"})
    assert r.status == 200
    return [e["id"] for e in (await r.json())["items"]]


ID_ROUTES: list[IdRoute] = [
    IdRoute("credential", _credential_ids,
            (("GET", "/v1/credentials/{id}"), ("DELETE", "/v1/credentials/{id}"))),
    # sharing another learner's credential by link (whole, or one SD-JWT claim)
    IdRoute("credential", _credential_ids, (("POST", "/v1/share-links"),),
            body={"credential_id": "{id}", "claims": [[]]}),
    IdRoute("credential", _credential_ids, (("POST", "/v1/share-links"),),
            body={"credential_id": "{id}", "claims": [["degree"]]}),
    *RECEIVE_ROUTES,
    # presenting (issue 6)
    IdRoute("presentation_request", _presentation_request_ids,
            (("GET", "/v1/presentation-requests/{id}"),
             ("POST", "/v1/presentation-requests/{id}/respond"),
             ("POST", "/v1/presentation-requests/{id}/decline")),
            body={"choices": {"q": "c"}}),
    IdRoute("share_link", _share_link_ids, (("DELETE", "/v1/share-links/{id}"),)),
    IdRoute("consent event", _consent_event_ids, (("GET", "/v1/consent/receipts/{id}"),)),
]


async def assert_isolated(client: TestClient[Any, Any], token_a: str, token_b: str,
                          *, routes: list[IdRoute] | None = None) -> int:
    """Return how many (id, route) pairs were checked; fails on the first leak."""
    checked = 0
    hb = {"Authorization": f"Bearer {token_b}"}
    for spec in routes or ID_ROUTES:
        ids = await spec.collect(client, token_a)
        assert ids, f"learner A has no {spec.kind} ids: the isolation check would prove nothing"
        for method, template in spec.routes:
            random_id = str(uuid.uuid4())
            ref = await client.request(method, template.replace("{id}", random_id), headers=hb,
                                       json=_fill(spec.body, random_id))
            assert ref.status == 404, (method, template, ref.status)
            ref_body = await ref.json()
            for an_id in ids:
                r = await client.request(method, template.replace("{id}", an_id), headers=hb,
                                         json=_fill(spec.body, an_id))
                assert r.status == 404, (spec.kind, method, template, r.status)
                body = await r.json()
                assert body == ref_body, (spec.kind, method, template)
                checked += 1
        # and A still sees every one of them (B's attempts changed nothing)
        assert sorted(await spec.collect(client, token_a)) == sorted(ids)
    return checked
