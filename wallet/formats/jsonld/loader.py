"""An offline JSON-LD document loader: bundled contexts only, never the network.

JSON-LD 1.1 API §9.4 (LoadDocumentCallback), https://www.w3.org/TR/json-ld11-api/#loaddocumentcallback.
VC Data Model 2.0 §4.3 and vc-data-integrity §2.4 ("Contexts and Vocabularies") warn that a
verifier that fetches contexts at run time lets whoever controls the URL (or the network) change
what a signed document *means*, and leaks which credentials are being checked. So Satchel serves
only the files in ``contexts/`` (see ``contexts/SOURCES.md``) and raises
:class:`UnknownContext` for anything else.
"""

from __future__ import annotations

import copy
import json
from functools import cache
from importlib import resources
from typing import Any

from wallet.formats.jsonld.errors import UnknownContext

__all__ = ["BUNDLED_CONTEXTS", "UnknownContext", "bundled_context", "document_loader"]

#: URL → file in ``wallet/formats/jsonld/contexts/``.
BUNDLED_CONTEXTS: dict[str, str] = {
    "https://www.w3.org/ns/credentials/v2": "credentials-v2.jsonld",
    "https://www.w3.org/2018/credentials/v1": "2018-credentials-v1.jsonld",
    "https://www.w3.org/ns/credentials/examples/v2": "credentials-examples-v2.jsonld",
    "https://purl.imsglobal.org/spec/ob/v3p0/context-3.0.3.json": "ob-v3p0-3.0.3.json",
    "https://purl.imsglobal.org/spec/ob/v3p0/extensions.json": "ob-v3p0-extensions.json",
    "https://purl.imsglobal.org/spec/clr/v2p0/context-2.0.1.json": "clr-v2p0-2.0.1.json",
    "http://data.europa.eu/snb/model/context/edc-ap": "edc-ap-context.jsonld",
}


@cache
def _load(name: str) -> Any:
    text = resources.files("wallet.formats.jsonld.contexts").joinpath(name).read_text("utf-8")
    return json.loads(text)


def bundled_context(url: str) -> Any:
    """The parsed context document served for ``url``; :class:`UnknownContext` otherwise."""
    name = BUNDLED_CONTEXTS.get(url) if isinstance(url, str) else None
    if name is None:
        raise UnknownContext("JSON-LD context is not bundled and is never fetched")
    return copy.deepcopy(_load(name))


def document_loader(url: str, options: dict[str, Any] | None = None) -> dict[str, Any]:
    """pyld ``documentLoader``: a RemoteDocument for a bundled context, else raise."""
    return {
        "contentType": "application/ld+json",
        "contextUrl": None,
        "documentUrl": url,
        "document": bundled_context(url),
    }
