"""docs/errors.md lists every problem ``code`` the service can answer, with its statuses.

The codes are found in the code (``tests/error_catalogue.py``: every ``SatchelError`` subclass's
``code`` and ``status``, and each literal ``code="..."`` with the status of the class raised
there), so a new error class or a new literal code fails here until the catalogue has its row;
a row for a code that no longer exists fails too. A code may have a row in more than one area
(``invalid_client`` from a verifier and from an issuer): its rows together name its statuses.

Every code is also a class of an errors module: a class defined elsewhere, or a code written as
a literal where an error is raised or answered (``code="..."``), fails here, so that each
package's one tree (its ``errors.py``, documented there) names every code it can answer.
"""

from __future__ import annotations

import importlib
from pathlib import Path
from textwrap import dedent

import pytest

from tests.error_catalogue import (
    Code,
    catalogue_rows,
    every_code,
    literal_code_sites,
    misplaced_classes,
)

DOC = Path(__file__).resolve().parents[1] / "docs" / "errors.md"


@pytest.fixture(scope="module")
def codes() -> dict[str, Code]:
    return every_code()


def documented() -> dict[str, set[int]]:
    rows = catalogue_rows(DOC.read_text(encoding="utf-8"))
    return {code: set().union(*statuses) for code, statuses in rows.items()}


def test_the_walk_finds_classes_and_literal_codes(codes: dict[str, Code]) -> None:
    assert len(codes) > 120
    assert codes["username_taken"].statuses == {409}  # a class below Conflict
    assert codes["weak_passphrase"].statuses == {400}  # a class, and a literal in a web page's
    assert codes["invalid_credentials"].statuses == {401}
    assert codes["unsupported_format"].statuses == {400, 415}  # two classes
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


#: Error classes still defined outside an errors module: never add one (define it in the
#: package's ``errors.py``, and re-export it where it was public); remove a line as it moves.
#: Those left are the settings' (``holder_api.settings.SettingsError`` is public where it is)
#: and the web pages', each module another branch's at the time of the move.
CLASSES_LEFT = {
    "holder_api.settings:KeyringInData",
    "holder_api.settings:SettingsError",
    "holder_api.web.pages:_NoSuchPage",
    "holder_api.web.pages:_WrongMethod",
    "holder_api.web.problems:Refused",
    "holder_api.web.security:CsrfRefused",
    "holder_api.web.views.receiving:OfferNotWaiting",
}

#: Codes still written as literals outside an errors module: never add one (give the code its
#: class); remove a line as it moves.
LITERAL_CODES_LEFT = {
    ("holder_api/web/problems.py", "weak_passphrase"),
}


def test_every_error_class_is_in_an_errors_module() -> None:
    misplaced = set(misplaced_classes())
    assert sorted(misplaced - CLASSES_LEFT) == [], "define these in the package's errors.py"
    assert sorted(CLASSES_LEFT - misplaced) == [], "moved: drop them from CLASSES_LEFT"


def test_no_code_is_a_literal_outside_the_errors_modules() -> None:
    sites = set(literal_code_sites())
    assert sorted(sites - LITERAL_CODES_LEFT) == [], "give each code a class in an errors.py"
    assert sorted(LITERAL_CODES_LEFT - sites) == [], "moved: drop them from LITERAL_CODES_LEFT"


def test_a_literal_code_in_a_handler_is_found(tmp_path: Path) -> None:
    routes = tmp_path / "holder_api" / "routes"
    routes.mkdir(parents=True)
    (routes / "things.py").write_text(dedent("""
        async def handler(request):
            if request.query:
                raise Conflict("taken", code="thing_taken")
            err = BadInput("bad")
            err.code = "thing_bad"
            return json_response({"code": "thing_gone", "status": 410}, status=410)
    """), encoding="utf-8")
    (tmp_path / "holder_api" / "errors.py").write_text(dedent("""
        class ThingTaken(Conflict):
            code = "thing_taken"
        def made(): return Conflict("x", code="made_here")
    """), encoding="utf-8")
    assert literal_code_sites(tmp_path, ("holder_api",)) == [
        ("holder_api/routes/things.py", "thing_bad"), ("holder_api/routes/things.py", "thing_gone"),
        ("holder_api/routes/things.py", "thing_taken")]


#: Error classes that moved into an errors module, by the public module they were defined in:
#: each is still importable there, the same class (callers and pickled names keep working).
MOVED_FROM = {
    "wallet.accounts.service": ("wallet.accounts.errors", ["AccountErased"]),
    "wallet.accounts.sweep": ("wallet.accounts.errors", ["WrongAccountsDatabase"]),
    "wallet.crypto": ("wallet.errors", ["DecryptionFailed", "RecordUnreadable"]),
    "wallet.crypto.aead": ("wallet.errors", ["DecryptionFailed", "RecordUnreadable"]),
    "wallet.db": ("wallet.errors", ["Contended"]),
    "wallet.jose": ("wallet.errors", ["InvalidJws"]),
    "wallet.intake": ("wallet.errors", ["CredentialExpired", "CredentialNotYetValid",
                                        "InvalidProof"]),
    "wallet.x509": ("wallet.errors", ["CertificateError", "MalformedCertificate",
                                      "CertificateNotValidAtTime", "UntrustedChain"]),
    "wallet.dids": ("wallet.errors", ["DidError", "InvalidDid", "DidMethodNotSupported",
                                      "DidResolutionFailed", "VerificationMethodNotFound"]),
    "wallet.trust": ("wallet.errors", ["TrustListError"]),
    "wallet.formats.jsonld.loader": ("wallet.formats.jsonld.errors", ["UnknownContext"]),
    "wallet.formats.jsonld.canon": ("wallet.formats.jsonld.errors", [
        "CanonicalizationFailed", "CanonicalizationBudgetExceeded", "TermNotCovered",
        "NotAbsoluteIri", "LanguageTagMalformed"]),
    "wallet.formats.jsonld.compact_form": ("wallet.formats.jsonld.errors",
                                           ["NotCompactForm", "InlineContext"]),
    "wallet.formats.jsonld.timestamps": ("wallet.formats.jsonld.errors", ["TimestampInvalid"]),
    "wallet.formats.jsonld.di_signing": ("wallet.formats.jsonld.errors",
                                         ["DataIntegrityNotSignable"]),
    "sharing.presentations": ("sharing.errors", ["StoredCredentialUnusable"]),
    "holder_api.compose.keyring_move": ("holder_api.errors", ["ReplicasRunning"]),
}


@pytest.mark.parametrize("old", sorted(MOVED_FROM))
def test_a_moved_class_is_still_importable_where_it_was(old: str) -> None:
    new, names = MOVED_FROM[old]
    was, now = importlib.import_module(old), importlib.import_module(new)
    assert [name for name in names if getattr(was, name, None) is not getattr(now, name)] == []
