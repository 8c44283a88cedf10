"""docs/web.md's ``## Pages`` table against the pages the view modules declare (``PAGES``).

Every GET page is named in the first column of a row; every path that column names (a bare path
is a GET, `POST /path` a form) is a declared page. Each declaration says in one line what it is
for."""

from __future__ import annotations

import re
from pathlib import Path

from holder_api.web import all_pages

DOC = Path(__file__).resolve().parents[2] / "docs" / "web.md"
#: a code span naming a page: `/credentials/{id}` (a GET) or `POST /open`
NAMED = re.compile(r"`(?:(GET|POST) )?(/[^`\s]*)`")


def named_pages(text: str) -> list[tuple[str, str]]:
    """The (method, path) pairs the first column of the ``## Pages`` table names."""
    section = text.split("\n## Pages\n", 1)[1].split("\n## ", 1)[0]
    rows = [line for line in section.splitlines() if line.startswith("| ")][1:]  # no header
    assert rows, "docs/web.md has no ## Pages table"
    return [(m.group(1) or "GET", m.group(2))
            for row in rows for m in NAMED.finditer(row.split(" | ", 1)[0])]


def test_named_pages_reads_the_first_column_only() -> None:
    text = ("# t\n\n## Pages\n\n| page | what |\n|---|---|\n| `/a`, `POST /b` | see `/c` |\n"
            "| Box (`POST /d`) | x |\n\n## Next\n\n| `/e` | y |\n")
    assert named_pages(text) == [("GET", "/a"), ("POST", "/b"), ("POST", "/d")]


def test_every_page_is_in_the_table_and_the_table_names_only_pages() -> None:
    declared = {(p.method, p.path) for p in all_pages()}
    named = named_pages(DOC.read_text(encoding="utf-8"))
    assert len(named) == len(set(named)), "a page is listed twice"
    missing = {page for page in declared if page[0] == "GET"} - set(named)
    assert not missing, f"served and not in docs/web.md's ## Pages: {sorted(missing)}"
    unknown = set(named) - declared
    assert not unknown, f"in docs/web.md's ## Pages and not served: {sorted(unknown)}"


def test_every_page_says_what_it_is_for_in_one_line() -> None:
    for p in all_pages():
        assert p.method in ("GET", "POST"), p
        assert p.purpose.strip() and "\n" not in p.purpose, p
