"""The ``Accept-Language`` header, parsed once in holder_api (RFC 9110 §12.5.4)."""

from __future__ import annotations

from holder_api.languages import accept_languages


def test_accept_language_header() -> None:
    assert accept_languages("fr-CH, fr;q=0.9, en;q=0.8, de;q=0.7, *;q=0.5") == (
        "fr-CH", "fr", "en", "de")
    assert accept_languages("en;q=0.1, es") == ("es", "en")
    assert accept_languages("de;q=0, x y, ;;;") == ("en",)
    assert accept_languages(None, ("it",)) == ("it",)
    assert accept_languages("es-ES,es;q=0.9") == ("es-ES", "es")
