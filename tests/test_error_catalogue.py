"""docs/errors.md lists every problem ``code`` the service can answer, with its statuses.

The codes are found in the code (``tests/error_catalogue.py``: every ``SatchelError`` subclass's
``code`` and ``status``, and each literal ``code="..."`` with the status of the class raised
there), so a new error class or a new literal code fails here until the catalogue has its row;
a row for a code that no longer exists fails too. A code may have a row in more than one area
(``invalid_client`` from a verifier and from an issuer): its rows together name its statuses.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.error_catalogue import Code, catalogue_rows, every_code

DOC = Path(__file__).resolve().parents[1] / "docs" / "errors.md"


@pytest.fixture(scope="module")
def codes() -> dict[str, Code]:
    return every_code()


def documented() -> dict[str, set[int]]:
    rows = catalogue_rows(DOC.read_text(encoding="utf-8"))
    return {code: set().union(*statuses) for code, statuses in rows.items()}


def test_the_walk_finds_classes_and_literal_codes(codes: dict[str, Code]) -> None:
    assert len(codes) > 120
    assert codes["username_taken"].statuses == {409}  # a literal code, with Conflict's status
    assert codes["invalid_credentials"].statuses == {401}
    assert codes["unsupported_format"].statuses == {400, 415}  # a class, and a literal in BadInput
    assert codes["invalid_cursor"].statuses == {400}
    assert codes["invalid_token"].statuses == {422, 502}  # answered as the offer flow's 422


def test_every_code_has_a_row(codes: dict[str, Code]) -> None:
    assert sorted(codes.keys() - documented().keys()) == []


def test_every_row_is_a_code_that_exists(codes: dict[str, Code]) -> None:
    assert sorted(documented().keys() - codes.keys()) == []


def test_the_rows_name_each_codes_statuses(codes: dict[str, Code]) -> None:
    doc = documented()
    differ = {code: (sorted(doc[code]), sorted(entry.statuses))
              for code, entry in codes.items() if code in doc and doc[code] != entry.statuses}
    assert differ == {}, "code: (statuses in docs/errors.md, statuses in the code)"


def test_the_rows_are_read_as_written() -> None:
    text = ("| code | status | when |\n|---|---|---|\n| `a_code` | 409 | x |\n"
            "| `b_code` | 422 (class: 502); 400 from a verifier | y, 404 in prose |\n"
            "| `c_code` | 400 | z |\n| `c_code` | 502 | again |\n")
    rows = catalogue_rows(text)
    assert rows == {"a_code": [{409}], "b_code": [{422, 502, 400}], "c_code": [{400}, {502}]}


def test_wallet_errors_exports_every_class_it_defines() -> None:
    """``wallet.errors.__all__`` (and so ``from wallet.errors import *``) names each error class
    the module defines, the ones with their own code included."""
    import wallet.errors as module

    defined = {name for name, obj in vars(module).items()
               if isinstance(obj, type) and issubclass(obj, module.SatchelError)
               and obj.__module__ == module.__name__}
    assert sorted(defined - set(module.__all__)) == []
