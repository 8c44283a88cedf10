"""Accessible names by role, read from a page's HTML as a browser's accessibility tree names
them for the controls the web wallet uses: label text for form fields, a button's or link's text
(``aria-label`` when given). Elements with the ``hidden`` attribute are left out, as browsers do.
"""

from __future__ import annotations

import re
from html.parser import HTMLParser

_FIELDS = ("input", "select", "textarea")


class _Names(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.names: dict[str, list[str]] = {"button": [], "link": [], "field": []}
        self._open: list[tuple[str, str | None, list[str]]] = []  # (role, aria-label, text)
        self._hidden_depth = 0
        self._stack: list[tuple[str, bool]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        hidden = "hidden" in a or a.get("aria-hidden") == "true"
        if tag not in ("input", "br", "img", "meta", "link"):
            self._stack.append((tag, hidden))
            if hidden:
                self._hidden_depth += 1
        if self._hidden_depth or hidden:
            return
        if tag in _FIELDS and a.get("type") not in ("hidden", "submit", "button"):
            if a.get("aria-label"):
                self.names["field"].append(a["aria-label"] or "")
        if tag == "input" and a.get("type") in ("submit", "button"):
            self.names["button"].append(a.get("aria-label") or a.get("value") or "")
        role = {"button": "button", "label": "field"}.get(tag)
        if tag == "a" and "href" in a:
            role = "link"
        if role is not None:
            self._open.append((role, a.get("aria-label"), []))
        elif tag in ("a", "button", "label"):
            self._open.append(("", None, []))

    def handle_endtag(self, tag: str) -> None:
        if tag in ("a", "button", "label") and self._open and not self._hidden_depth:
            role, label, text = self._open.pop()
            if role:
                self.names[role].append(label or " ".join("".join(text).split()))
        if self._stack:
            _, was_hidden = self._stack.pop()
            if was_hidden:
                self._hidden_depth -= 1

    def handle_data(self, data: str) -> None:
        if not self._hidden_depth:
            for _, _, text in self._open:
                text.append(data)


def names_by_role(html: str) -> dict[str, list[str]]:
    """``{"button": [...], "link": [...], "field": [...]}`` of the page's visible controls."""
    body = re.sub(r"<(script|style)\b.*?</\1>", "", html, flags=re.S)
    p = _Names()
    p.feed(body)
    return p.names


#: The web wallet's fixed accessible names (docs/web.md), by the role an outside test finds them with
FIXED = {
    "field": ("Username", "Passphrase", "Link", "Transaction code"),
    "button": ("Create wallet", "Unlock", "Lock", "Open", "Accept", "Decline", "Share",
               "Create share link", "Export", "Erase wallet"),
    "link": ("Credentials", "History", "My data", "English", "Español"),
}


def ambiguities(html: str) -> list[str]:
    """Each fixed name present on the page must be the only control of its role that a
    case-insensitive substring match (Playwright's default) or an exact match finds."""
    names = names_by_role(html)
    found = []
    for role, fixed in FIXED.items():
        for name in fixed:
            exact = [n for n in names[role] if n == name]
            loose = [n for n in names[role] if name.casefold() in n.casefold()]
            if exact and (len(exact) != 1 or len(loose) != 1):
                found.append(f"{role} {name!r}: exact {exact}, substring {loose}")
    return found


def exactly_once(html: str, role: str, name: str) -> bool:
    names = names_by_role(html)[role]
    return (names.count(name) == 1
            and sum(name.casefold() in n.casefold() for n in names) == 1)
