"""Files attached to a PDF: the document's ``EmbeddedFiles`` name tree and PDF/A-3 associated files.

Specs: ISO 32000-2 §7.11.4 (embedded file streams, file specifications ``/EF``), §7.9.6 (name
trees: ``/Names`` and ``/Kids``), §14.13 (associated files, ``/AF`` on the catalog); ISO 19005-3
(PDF/A-3 allows any attachment, declared with ``/AFRelationship``).

Why bounded: an attachment is decompressed in memory, so the number of files, the depth of the
name tree and each file's decoded size are capped; anything beyond is skipped (and said), never an
error — the PDF itself stays importable.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from pyhanko.pdf_utils import generic
from pyhanko.pdf_utils.reader import PdfFileReader

from wallet.formats.untrusted import parser_failed

__all__ = ["Attachment", "MAX_ATTACHMENT_BYTES", "list_attachments"]

MAX_ATTACHMENTS = 16
MAX_ATTACHMENT_BYTES = 900_000  # what the credential intake takes as text (intake.MAX_RAW_CHARS)
_MAX_DEPTH = 8


@dataclass(frozen=True, slots=True)
class Attachment:
    name: str
    data: bytes
    mime_type: str | None
    relationship: str | None  # PDF/A-3 /AFRelationship: Source, Data, Alternative, ...


def _text(value: Any) -> str | None:
    return str(value) if isinstance(value, generic.TextStringObject | generic.NameObject
                                   | str) else None


def _filespecs_from_tree(node: Any, depth: int, out: list[Any]) -> None:
    if depth > _MAX_DEPTH or len(out) >= 2 * MAX_ATTACHMENTS:
        return
    node = node.get_object()
    names = node.get("/Names")
    if names is not None:
        names = names.get_object()
        for i in range(1, len(names), 2):
            out.append(names[i])
    for kid in node.get("/Kids", ()) or ():
        _filespecs_from_tree(kid, depth + 1, out)


def _read(spec: Any) -> Attachment | None:
    spec = spec.get_object()
    ef = spec.get("/EF")
    if ef is None:
        return None
    ef = ef.get_object()
    stream = (ef.get("/UF") or ef.get("/F"))
    if stream is None:
        return None
    stream = stream.get_object()
    declared = stream.get("/Params", {}).get_object().get("/Size") if "/Params" in stream else None
    if isinstance(declared, int) and declared > MAX_ATTACHMENT_BYTES:
        return None
    if len(stream.encoded_data) > MAX_ATTACHMENT_BYTES:
        return None
    data = stream.data
    if len(data) > MAX_ATTACHMENT_BYTES:
        return None
    subtype = stream.get("/Subtype")
    mime = str(subtype)[1:].replace("#2F", "/") if isinstance(subtype, generic.NameObject) \
        else None
    name = _text(spec.get("/UF")) or _text(spec.get("/F")) or "attachment"
    rel = spec.get("/AFRelationship")
    return Attachment(name=name[:200], data=data, mime_type=mime,
                      relationship=str(rel)[1:] if isinstance(rel, generic.NameObject) else None)


def list_attachments(reader: PdfFileReader) -> tuple[list[Attachment], list[str]]:
    """The attached files (deduplicated, bounded) and problems met on the way."""
    problems: list[str] = []
    specs: list[Any] = []
    try:
        root = reader.root
        names = root.get("/Names")
        tree = names.get_object().get("/EmbeddedFiles") if names is not None else None
        if tree is not None:
            _filespecs_from_tree(tree, 0, specs)
        for spec in (root.get("/AF") or generic.ArrayObject()).get_object():
            specs.append(spec)
    except Exception as exc:  # hostile input: see wallet.formats.untrusted
        parser_failed(exc, "pdf attachment tree")  # a broken tree: no attachments
        return [], ["pdf_attachments_unreadable"]
    out: list[Attachment] = []
    seen: set[bytes] = set()
    for spec in specs:
        if len(out) >= MAX_ATTACHMENTS:
            problems.append("pdf_attachments_skipped")
            break
        try:
            att = _read(spec)
        except Exception as exc:  # hostile input: see wallet.formats.untrusted
            parser_failed(exc, "pdf attachment")  # one does not hide the others
            problems.append("pdf_attachment_unreadable")
            continue
        if att is None:
            problems.append("pdf_attachment_skipped")
            continue
        if att.data in seen:  # the same file named in /AF and the name tree
            continue
        seen.add(att.data)
        out.append(att)
    return out, list(dict.fromkeys(problems))
