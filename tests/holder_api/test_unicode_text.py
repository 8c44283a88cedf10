"""Text that is not Unicode (a lone surrogate: JSON's ``"\\ud800"``) is refused where JSON from
outside is parsed (wallet.jsontext.loads), with a 400 problem naming the field, on both backends:
never a 500 from a key derivation, a hash or a page far from the input. An inbox item an older
release kept with such text is shown, not a 500. The schemathesis suite draws such bodies for
every operation too (tests/holder_api/test_fuzz_api.py)."""

from __future__ import annotations

import json
import re
from typing import Any
from urllib.parse import urlsplit

import pytest
from aiohttp.test_utils import TestClient

from tests.holder_api.web_support import Browser, signed_up
from tests.support.http_api import PASSPHRASE, assert_problem, auth, learner, sign_up
from wallet.receive import inbox as inbox_module

LONE = "\ud800"


def _wire(body: Any) -> str:
    """``body`` as JSON the way a client can send it: the lone surrogate as its escape."""
    return json.dumps(body)


#: (method, path, body, with a token): the requests an audit answered with a 500
AUDITED = [
    ("/v1/sessions", {"username": "ada", "passphrase": f"violet{LONE} harbour"}, False, "/passphrase"),
    ("/v1/sessions", {"username": f"ad{LONE}a", "passphrase": PASSPHRASE}, False, "/username"),
    ("/v1/learners", {"username": "zed", "passphrase": f"violet harbour lant{LONE}ern 46"}, False,
     "/passphrase"),
    ("/v1/learners/me/passphrase", {"username": f"x{LONE}", "recovery_code": "AAAAA-AAAAA",
                                    "new_passphrase": "a new passphrase here"}, False, "/username"),
    ("/v1/learners/me/passphrase", {"username": "ada", "recovery_code": f"AAAAA{LONE}",
                                    "new_passphrase": "a new passphrase here"}, False,
     "/recovery_code"),
    ("/v1/learners/me/passphrase", {"current_passphrase": f"violet{LONE}",
                                    "new_passphrase": "a new passphrase here"}, True,
     "/current_passphrase"),
    ("/v1/learners/me/passphrase", {"current_passphrase": PASSPHRASE,
                                    "new_passphrase": f"a new pass{LONE}phrase here"}, True,
     "/new_passphrase"),
    ("/v1/learners/me/recovery-code", {"passphrase": f"violet{LONE}"}, True, "/passphrase"),
    ("/v1/me/erase", {"passphrase": f"violet{LONE}"}, True, "/passphrase"),
    ("/v1/offers", {"offer": f"openid-credential-offer://?credential_offer={LONE}"}, True,
     "/offer"),
    ("/v1/offers", {"offer": {"credential_issuer": f"https://a{LONE}.example",
                              "credential_configuration_ids": ["x"]}}, True,
     "/offer/credential_issuer"),
]


@pytest.mark.parametrize(("path", "body", "with_token", "pointer"), AUDITED)
async def test_a_lone_surrogate_in_a_request_body_is_a_400_naming_the_field(
        client: TestClient[Any, Any], path: str, body: dict[str, Any], with_token: bool,
        pointer: str) -> None:
    token = await learner(client)
    r = await client.post(path, data=_wire(body), headers={
        "Content-Type": "application/json", **(auth(token) if with_token else {})})
    problem = await assert_problem(r, 400, "invalid_request")
    assert problem["pointer"] == pointer
    assert "\\ud800" not in await r.text() and "lone surrogate" in problem["detail"]
    # nothing was done: the learner still unlocks with the passphrase they had
    assert (await client.post("/v1/sessions", json={"username": "ada",
                                                    "passphrase": PASSPHRASE})).status == 201


async def test_a_lone_surrogate_in_a_key_or_a_utf8_encoded_one_is_refused(
        client: TestClient[Any, Any]) -> None:
    # a key: the pointer is its object's (the answer never carries the surrogate)
    r = await client.post("/v1/sessions", data=_wire({"username": "ada", "passphrase": "x",
                                                      "n": {f"k{LONE}": 1}}),
                          headers={"Content-Type": "application/json"})
    assert (await assert_problem(r, 400, "invalid_request"))["pointer"] == "/n"
    # the surrogate's UTF-8 form as raw bytes is no UTF-8 at all (json.loads(bytes) would take it)
    raw = b'{"username": "ada", "passphrase": "a\xed\xa0\x80b"}'
    r = await client.post("/v1/sessions", data=raw, headers={"Content-Type": "application/json"})
    await assert_problem(r, 400, "invalid_request")
    # a surrogate *pair* is one Unicode character, and fine
    await sign_up(client, "ada", "violet harbour \U0001f600 lantern")
    r = await client.post("/v1/sessions", data=_wire({
        "username": "ada", "passphrase": "violet harbour \U0001f600 lantern"}),
        headers={"Content-Type": "application/json"})
    assert r.status == 201, await r.text()


async def _inbox_path(client: TestClient[Any, Any], token: str) -> str:
    r = await client.post("/v1/inbox-links", json={"label": "Uni"}, headers=auth(token))
    assert r.status == 201, await r.text()
    return urlsplit((await r.json())["url"]).path


async def test_an_inbox_push_with_a_lone_surrogate_is_refused_and_not_kept(
        client: TestClient[Any, Any]) -> None:
    token = await learner(client)
    path = await _inbox_path(client, token)
    for body in ({"credential": {"issuer": f"evil{LONE}", "x": 1}},
                 {"credential": f"eyJ{LONE}.x.y"},
                 {"credential_offer": {"credential_issuer": f"https://e{LONE}.example",
                                       "credential_configuration_ids": ["x"]}}):
        r = await client.post(path, data=_wire(body), headers={"Content-Type": "application/json"})
        await assert_problem(r, 400, "invalid_request")
    r = await client.get("/v1/inbox", headers=auth(token))
    assert (await r.json())["items"] == []


async def test_an_item_kept_with_a_lone_surrogate_is_shown_not_a_500(
        client: TestClient[Any, Any], monkeypatch: pytest.MonkeyPatch) -> None:
    """As a release before the refusal kept it: the push's parse let the claimed issuer through."""
    ada, _ = await signed_up(client)
    try:
        await _kept_and_shown(client, ada, monkeypatch)
    finally:
        await ada.close()


async def _kept_and_shown(client: TestClient[Any, Any], ada: Browser,
                          monkeypatch: pytest.MonkeyPatch) -> None:
    page = await ada.post("/inbox-links", {"label": "Uni"})
    path = urlsplit(page.text_of("inbox-link")).path
    parse = inbox_module.parse_push
    monkeypatch.setattr(inbox_module, "parse_push", lambda *_a: {
        "kind": "credential", "credential": {"issuer": f"evil{LONE}", "x": 1},
        "issuer": f"evil{LONE}"})
    r = await client.post(path, json={"credential": {"x": 1}})
    assert r.status == 202, await r.text()
    monkeypatch.setattr(inbox_module, "parse_push", parse)
    listing = await ada.get("/inbox")
    assert listing.status == 200, listing.html
    assert "evil\ufffd" in listing
    # accepting it is a refusal (a page with a 4xx), never a 500
    ids = re.findall(r'action="/inbox/([^"/]+)/accept"', listing.html)
    assert len(ids) == 1, listing.html
    accepted = await ada.post(f"/inbox/{ids[0]}/accept")
    assert 400 <= accepted.status < 500, accepted.html
