"""Errors of accounts, sessions and the operator's sweep (docs/errors.md, "Accounts and
sessions"), below the classes of :mod:`wallet.errors` whose status they answer with.

::

    SatchelError (wallet.errors)
    ├── BadInput
    │   ├── InvalidUsername        400 invalid_username         not 3-64 letters, digits, . _ @ + -
    │   └── WeakPassphrase         400 weak_passphrase          (wallet.errors: the crypto layer's)
    ├── Unauthorized
    │   ├── InvalidCredentials     401 invalid_credentials      unknown username or wrong secret,
    │   │                                                       one answer for every case
    │   └── AccountErased          401 account_erased           a genuine token of an erased account
    ├── Conflict
    │   └── UsernameTaken          409 username_taken
    └── Unavailable
        ├── ErasurePending         503 erasure_pending          an erasure cut short cannot finish
        │                                                       yet (Retry-After: 30)
        └── WrongAccountsDatabase  503 wrong_accounts_database  operator command only (the sweep)
"""

from __future__ import annotations

from typing import Any

from wallet.errors import BadInput, Conflict, Unauthorized, Unavailable

__all__ = ["AccountErased", "ErasurePending", "InvalidCredentials", "InvalidUsername",
           "UsernameTaken", "WrongAccountsDatabase"]


class InvalidUsername(BadInput):
    """A username that is not 3-64 characters of letters, digits and ``. _ @ + -``."""

    code = "invalid_username"


class InvalidCredentials(Unauthorized):
    """An unknown username or a wrong passphrase (one answer for both), a wrong recovery code,
    or a wrong passphrase asked again under a token."""

    code = "invalid_credentials"


class AccountErased(Unauthorized):
    """A genuine token of an account that is erased (its erasure just finished, if it had been
    cut short): it opens nothing any more. ``POST /v1/me/erase`` answers it 204 (a retry)."""

    code = "account_erased"


class UsernameTaken(Conflict):
    """Sign-up with a name that exists (usernames are not secrets)."""

    code = "username_taken"


class ErasurePending(Unavailable):
    """The account's erasure was cut short and a store it needs to finish is still down."""

    code = "erasure_pending"

    def __init__(self, detail: str = "", *, retry_after: int = 30, **extra: Any) -> None:
        super().__init__(detail, retry_after=retry_after, **extra)


class WrongAccountsDatabase(Unavailable):
    """Stray adoption found every stored learner missing from the accounts database."""

    code = "wrong_accounts_database"
