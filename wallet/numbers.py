"""JSON numbers used as times, lifetimes and sizes (RFC 7519 §2 NumericDate and kin).

JSON has no bounds on numbers, and Python parses them faithfully: ``1e400`` becomes infinity and
``10**400`` an integer that overflows every float conversion (``float()``, ``math.isfinite()``,
``datetime.fromtimestamp()``). Every untrusted number that is compared with a clock goes through
:func:`finite_number` first, so such values end as the caller's typed error, never an
``OverflowError``.
"""

from __future__ import annotations

import math

__all__ = ["finite_number"]


def finite_number(value: object) -> float | None:
    """``value`` as a finite float, or ``None`` when it is not a number (``bool`` is not one),
    is NaN or infinite, or lies beyond the float range."""
    if type(value) is not int and type(value) is not float:
        return None
    try:
        number = float(value)  # int or float, checked above
    except OverflowError:
        return None
    return number if math.isfinite(number) else None
