"""Every rate-limit scope, and the budgets that are fixed rather than settings.

A scope is part of every stored bucket's key (:class:`wallet.accounts.limits.RateLimiter` keeps a
keyed hash of ``scope|key``), so the values below are stored data: a changed value is a new budget
that starts empty, and the old rows simply lapse. Never rename a value; add a member for a new
budget. ``tests/wallet/test_budget_scopes.py`` pins them.
"""

from __future__ import annotations

from enum import StrEnum

__all__ = ["CLIENT_SCOPES", "PAIR_SCOPES", "PUBLIC_DOC_LIMIT", "PUBLIC_DOC_WINDOW", "Scope"]


class Scope(StrEnum):
    """What a budget counts (the two naming styles are as stored: ``share_link_view``)."""

    #: sign-ups that found the name taken, per client address (docs/operations.md, "Sign-up limits")
    SIGNUP_TAKEN = "signup-taken"
    #: sign-ups that succeeded, per client address
    SIGNUP_ADDRESS = "signup-address"
    #: attempts at a secret per (account, client) pair, with back-off, one per door
    #: (docs/operations.md, "Unlock limits")
    UNLOCK_PAIR = "unlock-pair"
    RECOVERY_PAIR = "recovery-pair"
    CONFIRM_PAIR = "confirm-pair"
    #: attempts at a secret per client address, across accounts
    UNLOCK_CLIENT = "unlock-client"
    RECOVERY_CLIENT = "recovery-client"
    #: the account's ceiling on passphrase attempts from clients it does not know
    UNLOCK_ACCOUNT = "unlock-account"
    #: (account, client) pairs that opened the account lately: not held by its ceiling
    KNOWN_CLIENT = "known-client"
    #: pushes to inbox links, per client address
    INBOX_CLIENT = "inbox-client"
    #: views of share links, per client address
    SHARE_LINK_VIEW = "share_link_view"
    #: the public documents (ledger keys, the bundle schema), per client address
    PUBLIC_DOC = "public-doc"
    #: bundle imports a learner starts
    GDPR_IMPORT = "gdpr-import"
    #: large uploads a learner starts: PDFs, the web wallet's credential file and QR photo
    #: (wallet.large_bodies)
    UPLOAD = "upload"


#: per door (``unlock``, ``recovery``, ``confirm``): the (account, client) pair's back-off
PAIR_SCOPES = {"unlock": Scope.UNLOCK_PAIR, "recovery": Scope.RECOVERY_PAIR,
               "confirm": Scope.CONFIRM_PAIR}
#: per door: the client address's budget (``confirm`` has none: its client is the session)
CLIENT_SCOPES = {"unlock": Scope.UNLOCK_CLIENT, "recovery": Scope.RECOVERY_CLIENT}

#: The public documents' budget per client address: generous (they are small and cached by
#: clients), only a bound on a loop hammering them
PUBLIC_DOC_LIMIT, PUBLIC_DOC_WINDOW = 600, 60
