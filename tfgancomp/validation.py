"""Argument checks shared by layers and models: a ValueError that repeats the bad value and what is expected."""

from __future__ import annotations

import math
import re


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


# What a settings dataclass field's annotation accepts from a config file or a flag: Python types, and the words
# an error message uses for them. The annotations are strings (``from __future__ import annotations``).
_KINDS = {"int": ((int,), "an integer"), "float": ((float, int), "a number"), "str": ((str,), "text"),
          "bool": ((bool,), "true or false"), "list": ((list, tuple), "a list")}  # fmt: skip


def field_kinds(field) -> list[str]:
    """The kinds (``int``, ``float``, ``str``, ``bool``, ``list``) a dataclass field's annotation names.

    ``None`` is left out: ``"float | str | None"`` → ``["float", "str"]``, ``"tuple[str, ...]"`` → ``["list"]``.
    """
    words = re.sub(r"\[.*\]", "", str(field.type)).replace("None", "").replace("|", " ").split()
    return ["list" if w.startswith(("tuple", "list")) else w for w in words]


def check_field_type(field, value) -> None:
    """Raise a ``ValueError`` naming the field and the expected form when ``value`` does not fit its annotation.

    ``None`` fits an optional field; booleans are not numbers (TOML / JSON / YAML ``true`` is not ``1``).
    """
    kinds = [k for k in field_kinds(field) if k in _KINDS]
    if not kinds or (value is None and "None" in str(field.type)):
        return
    types = tuple(t for k in kinds for t in _KINDS[k][0])
    fits = (bool in types) if isinstance(value, bool) else isinstance(value, types)
    if not fits:
        expected = " or ".join(_KINDS[k][1] for k in kinds)
        raise ValueError(f"{field.name} must be {expected}, got {value!r}")
