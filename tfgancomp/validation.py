"""Argument checks shared by layers and models: a ValueError that repeats the bad value and what is expected."""

from __future__ import annotations

import math


def check_choice(what: str, value, choices) -> None:
    """Raise a ``ValueError`` naming ``what``, the bad ``value`` and the accepted ``choices``."""
    if value not in choices:
        raise ValueError(f"{what} must be one of {', '.join(map(repr, choices))}; got {value!r}")


def check_positive_int(what: str, value) -> int:
    """Return ``value`` as an int, or raise a ``ValueError`` if it is not a positive integer."""
    if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
        raise ValueError(f"{what} must be a positive integer, got {value!r}")
    return value


def check_positive_number(what: str, value) -> float:
    """Return ``value`` as a float, or raise a ``ValueError`` if it is not a finite positive number (NaN, inf, 0)."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) or value <= 0:
        raise ValueError(f"{what} must be a finite positive number, got {value!r}")
    return float(value)
