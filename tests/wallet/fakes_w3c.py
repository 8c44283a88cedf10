"""Test helpers for the W3C format tests: an in-memory Fetcher and vector readers."""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from wallet.errors import FetchRefused
from wallet.ports import FetchResponse


class FakeFetcher:
    """Serves a fixed URL → JSON table; refuses everything else; records every URL asked for."""

    def __init__(self, table: Mapping[str, Any], status: int = 200) -> None:
        self.table = dict(table)
        self.status = status
        self.seen: list[str] = []

    async def get(self, url: str, *, accept: Sequence[str] = ("application/json",),
                  headers: Mapping[str, str] | None = None,
                  max_bytes: int | None = None) -> FetchResponse:
        self.seen.append(url)
        if url not in self.table:
            raise FetchRefused("not in the fake table")
        body = json.dumps(self.table[url]).encode()
        return FetchResponse(url, self.status, "application/json", body)

    async def post_form(self, url: str, data: Mapping[str, str], **kw: Any) -> FetchResponse:
        raise FetchRefused("no POST in this fake")

    async def post_json(self, url: str, body: Any, **kw: Any) -> FetchResponse:
        raise FetchRefused("no POST in this fake")


def oid4vci_vc_jwt(vectors: Path) -> str:
    """The VC-JWT inside the OpenID4VCI example credential response (whitespace stripped)."""
    text = (vectors / "oid4vci" / "credential_response_jwt_vc_json.txt").read_text()
    match = re.search(r'"credential":\s*"([^"]*)"', text, re.S)
    assert match is not None
    return re.sub(r"\s", "", match.group(1))


def oid4vci_issuer_jwks(vectors: Path) -> dict[str, Any]:
    """``issuer_jwks.json`` with the wrapped ``kid`` line joined (see the vectors README)."""
    text = (vectors / "oid4vci" / "issuer_jwks.json").read_text()
    return json.loads(re.sub(r"\n\s*", "", text))["jwks"]
