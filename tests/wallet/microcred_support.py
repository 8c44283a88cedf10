"""The micro-credential samples (tests/vectors/microcredentials) as the format layer hands them over."""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any

MC = Path(__file__).parent.parent / "vectors" / "microcredentials"


def load(rel: str) -> tuple[dict[str, Any], str]:
    """A sample as the format layer would hand it over: JAdES → inner payload, JWT → payload."""
    raw = (MC / rel).read_text().strip()
    if raw.startswith("ey"):
        seg = raw.split(".")[1]
        return json.loads(base64.urlsafe_b64decode(seg + "=" * (-len(seg) % 4))), "jwt_vc_json"
    doc = json.loads(raw)
    if isinstance(doc.get("payload"), str):  # JAdES general serialization, b64:false
        doc = json.loads(doc["payload"])
    return doc, "ldp_vc"
