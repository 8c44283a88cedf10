"""What every resource's JSON shares: how a time is written (:func:`wallet.clock.iso`, the one
formatter the core uses too)."""

from __future__ import annotations

from wallet.clock import iso

__all__ = ["iso", "iso_or_none"]

#: the same formatter: it passes ``None`` through
iso_or_none = iso
