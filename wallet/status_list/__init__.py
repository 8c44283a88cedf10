"""Credential status lists: IETF Token Status List and W3C Bitstring Status List (+ StatusList2021).

Pure decoders (:mod:`.token`, :mod:`.bitstring`, :mod:`.codec`) and the :class:`StatusChecker`,
which reaches the network only through :class:`wallet.ports.Fetcher`. Specs and sections are named
in each module.
"""

from __future__ import annotations

from wallet.status_list.bitstring import (
    BitstringStatusList,
    credential_from_vc_jwt,
    decode_encoded_list,
    parse_bitstring_credential,
)
from wallet.status_list.checker import KeyResolver, LdVerifier, StatusChecker, StatusOutcome
from wallet.status_list.errors import (
    InvalidStatusList,
    StatusIndexOutOfRange,
    StatusListNotFromIssuer,
)
from wallet.status_list.token import (
    StatusListToken,
    TokenStatusList,
    decode_status_list,
    verify_status_list_token,
)

__all__ = [
    "BitstringStatusList",
    "InvalidStatusList",
    "KeyResolver",
    "LdVerifier",
    "StatusChecker",
    "StatusIndexOutOfRange",
    "StatusListNotFromIssuer",
    "StatusListToken",
    "StatusOutcome",
    "TokenStatusList",
    "credential_from_vc_jwt",
    "decode_encoded_list",
    "decode_status_list",
    "parse_bitstring_credential",
    "verify_status_list_token",
]
