"""The design lives in the repository: no tracked file points at a guide a clone does not contain.

The team's working guides sit outside the repository, next to it; a comment citing one of them
(or the folder they sit in) sends a new engineer to a page they cannot open. Code and docs cite
``docs/`` instead; the docs the README links to exist, and so do the sections and anchors quoted.
"""

from __future__ import annotations

import importlib
import re
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

#: Names of the out-of-tree guides, spelled so that this file does not match its own pattern.
_GUIDES = ("DESIGN", "API", "STYLE", "STANDARDS", "UI")
_SHARED_FOLDERS = (".." + "/shared", "/work" + "/shared")
GUIDE_REFERENCE = re.compile(
    r"(?<![\w./-])(?:" + "|".join(_GUIDES) + r")\.md\b"  # a guide by its file name
    + r"|\b(?:DESIGN|STYLE|STANDARDS)\b(?: ?§| \"| JOSE\b)"  # or by its name and a section
    + "".join(r"|(?<![.\w])" + re.escape(folder) + r"\b" for folder in _SHARED_FOLDERS))


def guide_references(text: str) -> list[str]:
    return [m.group(0) for m in GUIDE_REFERENCE.finditer(text)]


def tracked_files() -> list[Path]:
    """Files git tracks (a clean clone's view); without git, every file outside hidden folders."""
    try:
        out = subprocess.run(["git", "ls-files", "-z"], cwd=ROOT, capture_output=True, check=True,
                             timeout=60).stdout
    except (OSError, subprocess.SubprocessError):
        return [p for p in ROOT.rglob("*") if p.is_file()
                and not any(part.startswith(".") for part in p.relative_to(ROOT).parts)]
    return [ROOT / name for name in out.decode().split("\0") if name]


def test_no_tracked_file_points_at_an_out_of_tree_guide() -> None:
    files = tracked_files()
    assert any(p.name == "README.md" for p in files) and len(files) > 100  # the walk saw the tree
    found: dict[str, list[str]] = {}
    for path in files:
        try:
            text = path.read_text(encoding="utf-8")
        except (UnicodeDecodeError, FileNotFoundError, IsADirectoryError):
            continue  # binary, or deleted in the work tree
        if refs := guide_references(text):
            found[str(path.relative_to(ROOT))] = refs
    assert found == {}


@pytest.mark.parametrize("text", [
    "see " + "DESIGN" + ".md §3", "(" + "API" + ".md \"Receiving\")", "STYLE" + ".md: ACA-Py",
    "STANDARDS" + ".md", "UI" + ".md", "(" + "DESIGN" + " §7: Askar)", "STANDARDS" + " JOSE: never",
    "STANDARDS" + ' "Security"', "vectors in " + _SHARED_FOLDERS[0] + "/vectors",
    _SHARED_FOLDERS[1] + "/x",
])
def test_the_pattern_fires_on_every_way_a_guide_was_cited(text: str) -> None:
    assert guide_references(text)


@pytest.mark.parametrize("text", [
    "docs/http-api.md", "the API answers 404", "the design of DESIGNATED", "openapi.md",
    "tests/vectors/README.md", "shared by every replica", "UI state", "GET .../shared (reload)",
])
def test_the_pattern_leaves_ordinary_words_alone(text: str) -> None:
    assert guide_references(text) == []


def test_every_page_the_readme_and_docs_link_to_exists() -> None:
    pages = [ROOT / "README.md", ROOT / "CONTRIBUTING.md", *sorted((ROOT / "docs").glob("*.md"))]
    assert len(pages) >= 4
    link = re.compile(r"\]\(([^)#\s]+\.md)(?:#[^)]*)?\)")
    missing = [f"{page.name} -> {target}" for page in pages
               for target in link.findall(page.read_text(encoding="utf-8"))
               if not (page.parent / target).resolve().is_file()]
    assert missing == []


#: ``"Section" in docs/x.md`` or ``"A" and "B" in [docs/x.md](...)``: sections of that page.
_QUOTED_IN = re.compile(r'((?:"[^"\n]{2,80}"(?:,?\s+and\s+|,\s+))*"[^"\n]{2,80}")'
                        r'\s+in\s+\[?((?:docs/)?[\w-]+\.md|README)')
#: ``docs/x.md, "Section"``, ``[docs/x.md](docs/x.md), "Section"`` or ``docs/x.md "Section"``,
#: further sections joined by "and" (``docs/operations.md, "Unlock limits" and "Sign-up limits"``).
_PAGE_THEN_QUOTED = re.compile(
    r'((?:docs/)?[\w-]+\.md|README)(?:\]\([^)\s]+\))?\)?,?\s+'
    r'((?:"[^"\n]{2,80}"(?:,?\s+and\s+|,\s+)?)+)')
_QUOTE = re.compile(r'"([^"\n]+)"')
_HEADING = re.compile(r"^#+\s+(.+?)\s*$", re.MULTILINE)
#: a paragraph or bullet that opens with a bold name: ``**Overload.**``, ``- **Health.** ...``
_BOLD_LEAD = re.compile(r"^\s*(?:- )?\*\*(.+?)\*\*", re.MULTILINE)


def _plain(name: str) -> str:
    return " ".join(name.replace("`", "").split()).rstrip(".:").casefold()


def sections(text: str) -> set[str]:
    """The names a reference may quote: the page's headings and its bold leads."""
    return {_plain(m) for m in _HEADING.findall(text)} | {_plain(m) for m in _BOLD_LEAD.findall(text)}


def quoted_sections(text: str) -> list[tuple[str, str]]:
    """``(page, section)`` for each section name the text quotes after or before a page (a
    quote before ``in page`` belongs to that page, not to a page named before it)."""
    found, taken = [], set()
    for m in _QUOTED_IN.finditer(text):
        found += [(m.group(2), name) for name in _QUOTE.findall(m.group(1))]
        taken |= set(range(*m.span(1)))
    for m in _PAGE_THEN_QUOTED.finditer(text):
        found += [(m.group(1), q.group(1)) for q in _QUOTE.finditer(m.group(2))
                  if m.start(2) + q.start() not in taken]
    return found


def anchor(heading: str) -> str:
    """GitHub's anchor of a heading: lower case, punctuation but ``-`` and ``_`` dropped, spaces
    as ``-``."""
    return re.sub(r"[^\w\- ]", "", heading.replace("`", "").strip().lower()).replace(" ", "-")


def _pages() -> list[Path]:
    return [ROOT / "README.md", ROOT / "CONTRIBUTING.md", *sorted((ROOT / "docs").glob("*.md")),
            ROOT / "holder_api" / "settings.toml"]


def _target(page: Path, name: str) -> Path:
    if name == "README":
        return ROOT / "README.md"
    return (ROOT / name) if name.startswith("docs/") else page.parent / name


def test_every_quoted_section_is_a_heading_or_bold_lead_of_its_page() -> None:
    stale = []
    for page in _pages():
        for name, section in quoted_sections(page.read_text(encoding="utf-8")):
            target = _target(page, name)
            if not target.is_file() or _plain(section) not in sections(
                    target.read_text(encoding="utf-8")):
                stale.append(f'{page.name}: {name}, "{section}"')
    assert stale == []


def test_every_anchor_link_is_a_heading_of_its_page() -> None:
    link = re.compile(r"\]\(((?:[^)#\s]+\.md)?)#([^)\s]+)\)")
    stale = []
    for page in _pages()[:-1]:
        for name, fragment in link.findall(page.read_text(encoding="utf-8")):
            target = _target(page, name) if name else page
            headings = _HEADING.findall(target.read_text(encoding="utf-8")) if target.is_file() \
                else []
            if fragment not in {anchor(h) for h in headings}:
                stale.append(f"{page.name} -> {name}#{fragment}")
    assert stale == []


@pytest.mark.parametrize(("text", "expected"), [
    ('docs/operations.md, "Unlock limits"', [("docs/operations.md", "Unlock limits")]),
    ('[docs/web.md](docs/web.md), "Tests"', [("docs/web.md", "Tests")]),
    ('docs/operations.md "Overload")', [("docs/operations.md", "Overload")]),
    ('(docs/operations.md, "Unlock limits" and "Sign-up limits")',
     [("docs/operations.md", "Unlock limits"), ("docs/operations.md", "Sign-up limits")]),
    ('"`x5c` anchors" in [docs/verification.md](docs/verification.md), "Receiving and presenting" '
     'in [docs/receiving.md](docs/receiving.md)',
     [("docs/verification.md", "`x5c` anchors"), ("docs/receiving.md", "Receiving and presenting")]),
    ('"Expiry" in [docs/receiving.md](docs/receiving.md),\n"Crashed sign-ups" and "Erasures cut '
     'short" in [docs/operations.md](docs/operations.md)',
     [("docs/receiving.md", "Expiry"), ("docs/operations.md", "Crashed sign-ups"),
      ("docs/operations.md", "Erasures cut short")]),
    ('(README, "Known limits")', [("README", "Known limits")]),
    ("a quote \"like this\" and docs/x.md alone", []),
])
def test_quoted_sections_are_read_as_written(text: str, expected: list[tuple[str, str]]) -> None:
    assert sorted(quoted_sections(text)) == sorted(expected)


def test_anchors_are_githubs() -> None:
    assert anchor("Quick start: two commands") == "quick-start-two-commands"
    assert anchor("`bench_api.py`: HTTP hot paths") == "bench_apipy-http-hot-paths"
    assert anchor("Targets not met") == "targets-not-met"


def _section(text: str, heading: str) -> str:
    """The body of ``heading`` (a ``## `` or ``### `` line), up to the next heading of its level
    or above."""
    level = heading.split(" ", 1)[0]
    body = text.split(f"\n{heading}\n", 1)[1]
    return re.split(rf"\n#{{1,{len(level)}}} ", body, maxsplit=1)[0]


def readme_performance_problems(text: str) -> list[str]:
    """The README keeps Performance short: one table of targets, each target not met in at most
    four lines; the detail lives in docs/performance.md."""
    section = _section(text, "## Performance")
    problems = []
    tables = len(re.findall(r"^\|[-| ]+\|$", section, re.MULTILINE))
    if tables != 1:
        problems.append(f"Performance has {tables} tables")
    for entry in re.split(r"\n(?=- )", _section(section, "### Targets not met")):
        if entry.startswith("- ") and len(entry.strip().splitlines()) > 4:
            problems.append(f"a target not met takes {len(entry.strip().splitlines())} lines: "
                            f"{entry[:60]}")
    return problems


def test_the_readme_performance_section_stays_one_table() -> None:
    assert readme_performance_problems((ROOT / "README.md").read_text(encoding="utf-8")) == []


def test_the_performance_check_catches_a_long_entry_and_a_second_table() -> None:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    longer = text.replace("\n### Targets not met\n", "\n| a | b |\n|---|---|\n\n### Targets not met\n"
                          "\n- *x*\n  1\n  2\n  3\n  4\n")
    assert len(readme_performance_problems(longer)) == 2


#: The project's packages: a name cited in backticks that starts with one is a module, class,
#: function or attribute a reader will look up (``wallet.intake.CredentialIntake.trusted``).
_PACKAGES = ("wallet", "sharing", "consent", "holder_api")
_CITED_NAME = re.compile(r"`+(?P<name>(?:" + "|".join(_PACKAGES) + r")(?:\.[A-Za-z_]\w*)+)"
                         r"(?:\(\))?`+")


def cited_names(text: str) -> list[str]:
    return [m["name"] for m in _CITED_NAME.finditer(text)]


def resolves(dotted: str) -> bool:
    """Does ``dotted`` import: the longest module prefix that imports, then attributes."""
    parts = dotted.split(".")
    for cut in range(len(parts), 0, -1):
        try:
            found: object = importlib.import_module(".".join(parts[:cut]))
        except ImportError:
            continue
        for attribute in parts[cut:]:
            if not hasattr(found, attribute):
                return False
            found = getattr(found, attribute)
        return True
    return False


def test_every_cited_name_in_docs_and_docstrings_exists() -> None:
    """A docstring or page naming code that was renamed or moved sends a reader nowhere (the
    review found ``wallet.intake.Intake.trusted`` and ``wallet.credentials.detail``)."""
    pages = [*ROOT.glob("docs/*.md"), ROOT / "README.md", ROOT / "CONTRIBUTING.md"]
    sources = [p for package in _PACKAGES for p in (ROOT / package).rglob("*.py")]
    cited = [(path.relative_to(ROOT), name) for path in pages + sources
             for name in cited_names(path.read_text(encoding="utf-8"))]
    assert len(cited) > 100  # the pattern still finds what the tree cites
    assert [(str(path), name) for path, name in cited if not resolves(name)] == []


def test_cited_names_are_read_as_written() -> None:
    text = ("see ``wallet.intake.Intake.trusted`` and :func:`holder_api.serialise.credentials"
            ".credential_detail`, `consent.events.EventKind()`, not wallet.vault or `wallet`")
    assert cited_names(text) == ["wallet.intake.Intake.trusted",
                                 "holder_api.serialise.credentials.credential_detail",
                                 "consent.events.EventKind"]
    assert not resolves("wallet.intake.Intake.trusted")
    assert resolves("wallet.intake.CredentialIntake.trusted") and resolves("wallet.intake")


def contents_problems(text: str) -> list[str]:
    """A long page opens with a contents list linking each of its ``##`` sections, in order."""
    headings = re.findall(r"^## (.+?)\s*$", text, re.MULTILINE)
    first = text.index("\n## ")
    listed = re.findall(r"^- \[[^\]]+\]\(#([^)]+)\)$", text[:first], re.MULTILINE)
    wanted = [anchor(h) for h in headings]
    return [] if listed == wanted else [f"contents {listed} != sections {wanted}"]


def test_the_operations_page_lists_its_sections_at_the_top() -> None:
    assert contents_problems((ROOT / "docs" / "operations.md").read_text(encoding="utf-8")) == []


def test_the_contents_check_catches_a_section_left_out() -> None:
    text = (ROOT / "docs" / "operations.md").read_text(encoding="utf-8")
    assert contents_problems(text + "\n## Appendix\n\ntext\n")
