"""Requests too malformed for any handler (a bad method, a line over 8190 bytes, a bad chunk,
Content-Length with Transfer-Encoding) are answered by aiohttp's protocol layer in text/plain,
before any hook of Satchel's runs (docs/http-api.md). The docker proxy answers them first, in the
problem shape with Satchel's headers: its buffers stay under aiohttp's limits, so nothing that
passes nginx meets aiohttp's own 400, and its own refusals are problem+json."""

from __future__ import annotations

import inspect
import json
import re
from pathlib import Path

from aiohttp.web_protocol import RequestHandler

from holder_api.openapi import PROBLEM_SCHEMA
from holder_api.problems import PROBLEM_TYPE_BASE

NGINX = (Path(__file__).parents[2] / "docker" / "nginx.conf").read_text(encoding="utf-8")


def test_the_proxy_refuses_long_lines_before_aiohttp_would() -> None:
    limits = inspect.signature(RequestHandler.__init__).parameters
    aiohttp_line = min(limits["max_line_size"].default, limits["max_field_size"].default)
    m = re.search(r"large_client_header_buffers\s+\d+\s+(\d+);", NGINX)
    assert m, "the proxy must set its header buffers"
    assert int(m.group(1)) < aiohttp_line


def test_the_proxy_answers_its_refusals_as_problems_with_the_headers() -> None:
    pages = dict(re.findall(r"error_page\s+([\d ]+?)\s+(/_problem/\d+);", NGINX))
    refused = {int(c) for codes in pages for c in codes.split()}
    assert {400, 413, 414, 494} <= refused
    bodies = {path: (int(status), body) for path, status, body in re.findall(
        r"location = (/_problem/\d+) \{\s*return (\d+) '([^']+)';", NGINX)}
    assert set(pages.values()) == set(bodies)
    for status, body in bodies.values():
        problem = json.loads(body)
        assert set(PROBLEM_SCHEMA["required"]) <= set(problem)
        assert problem["status"] == status
        assert problem["type"] == PROBLEM_TYPE_BASE + problem["code"].replace("_", "-")
    block = NGINX[NGINX.index("location ^~ /_problem/"):]
    assert "internal;" in block and "default_type application/problem+json;" in block
    assert "add_header Cache-Control no-store always;" in block
    assert "add_header X-Content-Type-Options nosniff always;" in block
