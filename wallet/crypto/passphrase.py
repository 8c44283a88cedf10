"""The passphrase strength rule (NIST SP 800-63B §5.1.1.2): length over composition rules, refuse
the obvious.

A module of its own because it is policy, not cryptography: sign-up and passphrase change apply
it before any key is derived, and it changes for different reasons than the key hierarchy does.
"""

from __future__ import annotations

import unicodedata

from wallet.errors import BadInput, WeakPassphrase

_PASSPHRASE_MIN, _PASSPHRASE_MAX = 12, 1024
_OBVIOUS = ("password", "passphrase", "qwerty", "azerty", "letmein", "iloveyou", "satchel",
            "0123456789", "abcdefghij")


def check_passphrase_strength(p: str) -> None:
    """Raise :class:`BadInput` for a passphrase that is too short, too long or trivially guessable.

    The message never repeats the passphrase.
    """
    if not isinstance(p, str):
        raise BadInput("passphrase must be a string")
    # the lengths the API schema states (code points); the rest is WeakPassphrase
    if len(p) < _PASSPHRASE_MIN:
        raise BadInput(f"passphrase must have at least {_PASSPHRASE_MIN} characters")
    if len(p) > _PASSPHRASE_MAX:
        raise BadInput(f"passphrase must have at most {_PASSPHRASE_MAX} characters")
    if len(unicodedata.normalize("NFKC", p)) < _PASSPHRASE_MIN:
        raise WeakPassphrase(f"passphrase must have at least {_PASSPHRASE_MIN} characters once "
                             "normalised (NFKC)")
    low = p.casefold()
    if len(set(low)) < 5:
        raise WeakPassphrase("passphrase repeats too few different characters")
    if low.isdigit():
        raise WeakPassphrase("passphrase must not be only digits")
    rest = "".join(ch for ch in low if ch.isalnum())
    for word in _OBVIOUS:
        rest = rest.replace(word, "")
    if len("".join(ch for ch in rest if not ch.isdigit())) < 6:
        raise WeakPassphrase("passphrase is too common")
    steps = {ord(b) - ord(a) for a, b in zip(low, low[1:], strict=False)}
    if steps <= {1} or steps <= {-1}:
        raise WeakPassphrase("passphrase must not be a simple sequence")
