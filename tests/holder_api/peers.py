"""Independent HTTPS peers on 127.0.0.1 for API tests: trustme certificates for ``localhost``."""

from __future__ import annotations

import ssl
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import trustme
from aiohttp import web


@asynccontextmanager
async def https_peer(app: web.Application, ca_dir: Path) -> AsyncIterator[tuple[str, Path]]:
    """Serve ``app`` over HTTPS as ``https://localhost:<port>``; yield (base URL, CA PEM path)."""
    ca = trustme.CA()
    cert = ca.issue_cert("localhost")
    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    cert.configure_cert(ctx)
    ca_path = ca_dir / "peer-ca.pem"
    ca.cert_pem.write_to_path(str(ca_path))
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0, ssl_context=ctx)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    try:
        yield f"https://localhost:{port}", ca_path
    finally:
        await runner.cleanup()
