"""Operator endpoints: liveness, readiness, Prometheus metrics, the OpenAPI document."""

from __future__ import annotations

from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST

from holder_api.appkeys import METRICS_TEXT, OPENAPI, READINESS, SETTINGS
from holder_api.http import json_ok
from holder_api.openapi import Op
from holder_api.schemas import HEALTH
from wallet.crypto import same_text
from wallet.errors import SatchelError, Unauthorized, Unavailable


async def healthz(_request: web.Request) -> web.Response:
    return json_ok({"status": "ok"})


async def readyz(request: web.Request) -> web.Response:
    failing = []
    for name, check in request.app[READINESS].items():
        try:
            await check()
        except SatchelError:
            failing.append(name)
    if failing:
        raise Unavailable("not ready: " + ", ".join(sorted(failing)))
    return json_ok({"status": "ready"})


async def metrics(request: web.Request) -> web.Response:
    token = request.app[SETTINGS].metrics_token
    if token is not None:  # checked before any render: a refused scrape costs no render
        sent = request.headers.get("Authorization", "")
        scheme, _, value = sent.partition(" ")
        if scheme.lower() != "bearer" or not same_text(value.strip(), token):
            raise Unauthorized("/metrics needs the scraper's bearer token")
    # rendered at most once per SATCHEL_METRICS_CACHE seconds: a flood of scrapes is not shed
    return web.Response(body=request.app[METRICS_TEXT].text(),
                        headers={"Content-Type": CONTENT_TYPE_LATEST})


async def openapi(request: web.Request) -> web.Response:
    return json_ok(request.app[OPENAPI])


OPS = [
    Op("GET", "/healthz", healthz, "The process is up", "operations", auth=False,
       responses={200: ("Up", HEALTH)}),
    Op("GET", "/readyz", readyz, "Both stores and the keyring are reachable", "operations",
       auth=False, responses={200: ("Ready", HEALTH)}),
    Op("GET", "/metrics", metrics, "Prometheus metrics", "operations", auth=False,
       responses={200: ("Prometheus text format", {"type": "string"}),
                  401: ("SATCHEL_METRICS_TOKEN is set and the request lacks it", None)},
       response_media="text/plain"),
    Op("GET", "/openapi.json", openapi, "This document", "operations", auth=False,
       responses={200: ("OpenAPI 3.1", {"type": "object"})}),
]
