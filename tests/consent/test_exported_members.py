"""``consent.__all__`` is honest, and the pure modules stay free of storage imports."""

from __future__ import annotations

import subprocess
import sys

import consent


def test_all_names_resolve() -> None:
    for name in consent.__all__:
        assert getattr(consent, name) is not None, name
    assert consent.Ledger.__module__ == "consent.ledger"
    assert consent.ConsentService.__module__ == "consent.service"


def test_pure_modules_do_not_import_storage() -> None:
    code = ("import sys, consent.events, consent.chain, consent.receipts, consent.portability, "
            "consent.entries, consent.chain_transfer, consent.ledger_keys; "
            "bad = [m for m in ('sqlalchemy', 'aiohttp', 'aries_askar') if m in sys.modules]; "
            "print(','.join(bad))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ""


def test_consent_imports_only_allowed_wallet_modules() -> None:
    code = ("import sys, consent, consent.ledger, consent.service; "
            "print(','.join(sorted(m for m in sys.modules if m.startswith('wallet.'))))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    # wallet.ports: the event kinds (ActivityKind, consent's EventKind) and the ports consent
    # implements (docs/architecture.md, rule 3); wallet.jsontext is what that pure module needs
    allowed = ("wallet.clock", "wallet.crypto", "wallet.errors", "wallet.jose", "wallet.ports",
               "wallet.jsontext")
    # wallet.crypto is a package: its modules (wallet.crypto.aead, ...) are part of it
    imported = out.stdout.strip().split(",")
    assert [m for m in imported if not any(m == a or m.startswith(a + ".") for a in allowed)] == []
    assert "wallet.crypto.aead" in imported
