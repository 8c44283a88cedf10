"""Credentials seen as micro-credentials through the API: elements, search, languages, portfolio."""

from __future__ import annotations

import json
from typing import Any

from aiohttp.test_utils import TestClient

from tests.support.http_api import assert_problem, auth, login, sign_up
from tests.support.vectors import VECTORS

MC = VECTORS / "microcredentials"


async def _import(client: TestClient[Any, Any], token: str, name: str) -> dict[str, Any]:
    r = await client.post("/v1/credentials", headers=auth(token),
                          json={"raw": (MC / name).read_text(encoding="utf-8")})
    assert r.status == 201, await r.text()
    return dict(await r.json())


async def test_elements_search_languages_portfolio(client: TestClient[Any, Any]) -> None:
    await sign_up(client, "mapper")
    token = await login(client, "mapper")
    elm = await _import(client, token, "elm/Sample-MC-Annex1-signed.jsonld")
    badge = await _import(client, token, "1edtech/ob30/complete.json")

    e = elm["elements"]
    assert len({k for k in e if k != "missing_mandatory"}) == 16
    assert e["workload"]["value"] == {"ects": 2, "hours": 60}
    assert e["workload"]["coverage"] == "native"
    assert e["level"]["value"]["eqf"] == 6
    assert e["level"]["source"].endswith("specifiedBy.eqfLevel")
    assert "quality_assurance" in e["missing_mandatory"]
    for element in (v for k, v in e.items() if k != "missing_mandatory"):
        assert element["coverage"] in {"native", "extension", "inferred", "absent"}

    # search reaches learning outcomes and titles of the learner's own credentials
    title = e["title"]["value"]
    assert isinstance(title, str) and title
    r = await client.get(f"/v1/credentials?q={title.split()[0]}", headers=auth(token))
    assert elm["id"] in [c["id"] for c in (await r.json())["items"]]
    r = await client.get("/v1/credentials?q=no-such-words-anywhere", headers=auth(token))
    assert (await r.json())["items"] == []

    # Accept-Language picks among multilingual values (ELM titles are language maps)
    doc = json.loads(json.loads((MC / "elm/Sample-MC-Annex1-signed.jsonld").read_text())[
        "payload"])
    assert doc  # the signed sample wraps the EDC JSON in a JAdES payload string
    for lang in ("en", "fr;q=0.9, en;q=0.1"):
        r = await client.get(f"/v1/credentials/{elm['id']}",
                             headers={**auth(token), "Accept-Language": lang})
        assert r.status == 200
        assert isinstance((await r.json())["elements"]["title"]["value"], str)

    pf = await (await client.get("/v1/portfolio", headers=auth(token))).json()
    ids = {c["id"] for c in pf["credentials"]}
    assert {elm["id"], badge["id"]} <= ids
    assert pf["total_ects"] >= 2
    assert elm["id"] in pf["by_eqf_level"]["6"]
    await assert_problem(await client.get("/v1/portfolio"), 401)


async def test_hostile_jsonld_is_a_4xx_or_partial_never_500(client: TestClient[Any, Any]) -> None:
    await sign_up(client, "hostile")
    token = await login(client, "hostile")
    deep: Any = {"x": 1}
    for _ in range(200):
        deep = {"a": deep}
    hostile = [
        {"@context": ["https://www.w3.org/ns/credentials/v2"], "type": ["VerifiableCredential"],
         "issuer": "did:example:1", "credentialSubject": deep},
        {"@context": ["https://www.w3.org/ns/credentials/v2"], "type": "VerifiableCredential",
         "issuer": {"id": 5}, "credentialSubject": [1] * 5000},
        {"@context": "https://evil.example/ctx", "type": ["VerifiableCredential"]},
        {"credentialSubject": {"achievement": {"name": ["not", {"a": "string"}]}}},
    ]
    for doc in hostile:
        r = await client.post("/v1/credentials", headers=auth(token), json={"raw": json.dumps(doc)})
        assert r.status < 500, await r.text()
        if r.status >= 400:
            assert r.content_type == "application/problem+json"
        else:
            assert "missing_mandatory" in ((await r.json())["elements"] or {"missing_mandatory": 0})
