"""The design lives in the repository: no tracked file points at a guide a clone does not contain.

The team's working guides sit outside the repository, next to it; a comment citing one of them
(or the folder they sit in) sends a new engineer to a page they cannot open. Code and docs cite
``docs/`` instead, and the docs the README links to exist.
"""

from __future__ import annotations

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
