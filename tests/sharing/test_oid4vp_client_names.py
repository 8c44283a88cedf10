"""``client_name#<tag>`` in a request's ``client_metadata`` (RFC 7591 §2.2, OpenID Connect Dynamic
Client Registration §2.1): the verifier's name in other languages, kept as untrusted text."""

from __future__ import annotations

from sharing.oid4vp import parse_client_metadata


def test_language_variants_of_the_name_are_kept_by_tag() -> None:
    meta = parse_client_metadata({
        "client_name": "Acme", "client_name#es-ES": "Acme España", "client_name#de": "Acme DE",
        "client_name#": "no tag", "client_name#not a tag": "x", "client_name#fr": 7,
        "client_name#it": "", "logo_uri#es": "https://x/logo.png", "client_names": "x"})
    assert meta.client_name == "Acme"
    assert dict(meta.client_names) == {"es-ES": "Acme España", "de": "Acme DE"}


def test_variants_are_bounded() -> None:
    many = {f"client_name#en-a{i:03d}": "n" * 300 for i in range(100)}
    meta = parse_client_metadata({"client_name": "Acme", **many})
    assert len(meta.client_names) == 32 and {len(v) for v in meta.client_names.values()} == {200}
    assert dict(parse_client_metadata({"client_name": "Acme"}).client_names) == {}
