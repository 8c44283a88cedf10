"""What one credential would reveal in answer to a DCQL credential query (OpenID4VP 1.0 §6.4).

https://openid.net/specs/openid-4-verifiable-presentations-1_0.html#name-selecting-claims-and-creden

Why the option is so explicit: the response builder must never send a claim that was not selected
(§6.4: "Wallets MUST NOT send selectively disclosable claims that have not been selected"). Every
option therefore carries the exact claims and SD-JWT disclosure paths to reveal, and the
presentation code reveals those and nothing else.

Why it is built lazily: a query over a large vault yields one option per matching credential
(10,000 in the bench), yet the learner looks at a few and presents one. The matcher records only
what it read (the selected values, in the order of the compiled claim paths) and a reference to
the credential's immutable disclosure set; :attr:`CredentialOption.claims` and
:attr:`CredentialOption.disclosure_paths` are computed from that on first use and cached, so the
answer is the same as if it had been computed eagerly, at a fraction of the allocations.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, NamedTuple, Protocol

from wallet.formats.model import ClaimPath

__all__ = ["ClaimSource", "CredentialOption", "SelectedClaim"]

_EMPTY: frozenset[ClaimPath] = frozenset()


class SelectedClaim(NamedTuple):
    """A claim that would be disclosed: its concrete path, value and the query entry asking."""

    path: ClaimPath
    value: Any
    claim_id: str | None = None
    query_path: ClaimPath = ()


class ClaimSource(Protocol):
    """What a lazy option was matched by (a compiled claim set): it turns the values read at
    match time back into the selected claims and the disclosures they need."""

    def expand(self, found: tuple[Any, ...]) -> tuple[SelectedClaim, ...]: ...

    def disclosures(self, sd: frozenset[ClaimPath], found: tuple[Any, ...]
                    ) -> frozenset[ClaimPath]: ...


class CredentialOption:
    """One credential able to answer a credential query, and exactly what it would reveal.

    ``claims`` are the selected claims (each listed once); ``disclosure_paths`` the SD-JWT
    disclosures to reveal (ancestors needed by recursive disclosures included);
    ``claim_set`` the ``claim_sets`` entry that was satisfied; ``full_credential`` is true for
    formats without selective disclosure, whose presentation carries every claim.

    Immutable, compared by value, and constructed like the named tuple it used to be
    (``CredentialOption(credential_id, claims, disclosure_paths, claim_set, full_credential)``);
    it still unpacks into, and indexes, those five fields.
    """

    __slots__ = ("_claim_set", "_claims", "_disclosures", "_found", "_full", "_id", "_sd",
                 "_source")

    _id: str
    _claim_set: tuple[str, ...] | None
    _full: bool
    _claims: tuple[SelectedClaim, ...] | None
    _disclosures: frozenset[ClaimPath] | None
    #: lazy form: the compiled claim set that matched, and what it read at match time
    _source: ClaimSource | None
    _found: tuple[Any, ...] | None
    #: the candidate's disclosable paths, to compute ``disclosure_paths`` from
    _sd: frozenset[ClaimPath] | None

    def __init__(self, credential_id: str, claims: tuple[SelectedClaim, ...],
                 disclosure_paths: frozenset[ClaimPath], claim_set: tuple[str, ...] | None = None,
                 full_credential: bool = False) -> None:
        self._id, self._claim_set, self._full = credential_id, claim_set, full_credential
        self._claims, self._disclosures = tuple(claims), frozenset(disclosure_paths)
        self._source = self._found = self._sd = None

    @classmethod
    def _lazy(cls, credential_id: str, source: ClaimSource | None, found: tuple[Any, ...],
              claim_set: tuple[str, ...] | None, sd: frozenset[ClaimPath] | None
              ) -> CredentialOption:
        """An option whose claims (``source`` expanding ``found``; none when ``source`` is None)
        and disclosures (from ``sd``; none when ``sd`` is None: a format without selective
        disclosure) are computed on first use."""
        self = cls.__new__(cls)
        self._id, self._claim_set, self._full = credential_id, claim_set, sd is None
        self._source, self._found, self._sd = source, found, sd
        if source is None:
            self._claims, self._disclosures = (), _EMPTY
        else:
            self._claims, self._disclosures = None, _EMPTY if sd is None else None
        return self

    @property
    def credential_id(self) -> str:
        return self._id

    @property
    def claim_set(self) -> tuple[str, ...] | None:
        return self._claim_set

    @property
    def full_credential(self) -> bool:
        return self._full

    @property
    def claims(self) -> tuple[SelectedClaim, ...]:
        claims = self._claims
        if claims is None:
            assert self._source is not None and self._found is not None
            claims = self._claims = self._source.expand(self._found)
        return claims

    @property
    def disclosure_paths(self) -> frozenset[ClaimPath]:
        paths = self._disclosures
        if paths is None:
            assert self._source is not None and self._found is not None and self._sd is not None
            paths = self._disclosures = self._source.disclosures(self._sd, self._found)
        return paths

    def _fields(self) -> tuple[str, tuple[SelectedClaim, ...], frozenset[ClaimPath],
                               tuple[str, ...] | None, bool]:
        return (self._id, self.claims, self.disclosure_paths, self._claim_set, self._full)

    def __iter__(self) -> Iterator[Any]:
        return iter(self._fields())

    def __len__(self) -> int:
        return 5

    def __getitem__(self, index: int) -> Any:
        return self._fields()[index]

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, CredentialOption):
            return NotImplemented
        return self._fields() == other._fields()

    def __hash__(self) -> int:
        return hash(self._fields())

    def __repr__(self) -> str:  # values are the learner's claims: names and paths only
        return (f"CredentialOption(credential_id={self._id!r}, claims="
                f"{[c.path for c in self.claims]!r}, claim_set={self._claim_set!r}, "
                f"full_credential={self._full!r})")
