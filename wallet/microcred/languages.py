"""The languages of a credential's language-tagged texts, so that a text shown in another language
than the page's can say so (WCAG 3.1.2, ``lang``).

Specs: JSON-LD 1.1 language maps (§4.6.2) and value objects with ``@language`` (§4.2.4).

Why here: the list shows a title and an awarding body from the sealed summary, which never holds
the claims, so their languages are recorded when the credential is stored
(:meth:`wallet.vault.model.StoredCredential.summary`); the credential page finds the languages of
its texts from the claims (``holder_api.web.show.TextLanguages``). Both read the claims with
:func:`tagged_texts` and judge a language against the page's with :func:`foreign_language`.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from functools import cache
from typing import Any

from babel.localedata import locale_identifiers

__all__ = ["foreign_language", "language_tag", "tagged_texts", "text_language"]

_TAG = re.compile(r"([A-Za-z]{2,3})(?:-[A-Za-z0-9]{1,8})*")
_MAX_DEPTH = 12


@cache
def _languages() -> frozenset[str]:
    # "id" is Indonesian, but in a credential's JSON it is an identifier
    return frozenset(i.split("_")[0] for i in locale_identifiers()) - {"id"}


def language_tag(key: Any) -> str | None:
    """``key`` when it is a BCP 47 tag of a known language (a language map's key), else None."""
    m = _TAG.fullmatch(key) if isinstance(key, str) else None
    return key if m is not None and m.group(1).lower() in _languages() else None


def tagged_texts(claims: Any) -> dict[str, set[str]]:
    """Every language-tagged text of ``claims`` with its tags (a text may be the same in several
    languages): value objects' ``@value`` and the values of language maps (objects whose every
    key is a language tag). Only well-formed tags of known languages count (they end up in a
    stored summary and a ``lang`` attribute). Bounded by depth."""
    tags: dict[str, set[str]] = {}

    def walk(node: Any, depth: int) -> None:
        if depth > _MAX_DEPTH:
            return
        if isinstance(node, dict):
            value, lang = node.get("@value"), language_tag(node.get("@language"))
            if isinstance(value, str) and lang is not None:  # a BCP 47 tag, nothing else
                tags.setdefault(value, set()).add(lang)
            tagged = {k: v for k, v in node.items() if isinstance(v, str) and language_tag(k)}
            if tagged and len(tagged) == len(node):  # a language map: every key a language
                for k, v in tagged.items():
                    tags.setdefault(v, set()).add(k)
            for v in node.values():
                walk(v, depth + 1)
        elif isinstance(node, list):
            for v in node:
                walk(v, depth + 1)

    walk(claims, 0)
    return tags


def _primary(tag: str) -> str:
    return tag.split("-")[0].lower()


def foreign_language(tags: Iterable[str] | None, page_language: str) -> str | None:
    """The language to put in ``lang`` for a text tagged ``tags`` on a page in
    ``page_language``: None when the text is (also) in the page's language or its language is
    unknown, else one of its tags."""
    found = sorted(tags or ())
    page = _primary(page_language)
    if not found or any(_primary(t) == page for t in found):
        return None
    return found[0]


def text_language(text: str | None, tags: dict[str, set[str]],
                  preferred: Sequence[str]) -> str | None:
    """The language to record for ``text`` (from :func:`tagged_texts`): of its tags, the first
    in ``preferred`` (the languages it was picked in), else the first in order; None when the
    text carries no language."""
    found = sorted(tags.get(text) or ()) if text is not None else []
    for want in preferred:
        for tag in found:
            if _primary(tag) == _primary(want):
                return tag
    return found[0] if found else None
