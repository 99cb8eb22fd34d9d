"""Reading Kotlin source for the static checks: code without comments and strings, and its numeric literals."""

from __future__ import annotations

import re

# A Kotlin numeric literal: hex, binary, or decimal with optional fraction / exponent, then an optional type suffix.
_NUMBER = re.compile(
    r"(?<![\w])(?P<text>0[xX][0-9a-fA-F_]+|0[bB][01_]+|\d[\d_]*(?:\.\d[\d_]*)?(?:[eE][+-]?\d[\d_]*)?)"
    r"(?P<suffix>[uU]?[lL]|[uU]|[fF])?(?![\w])"
)
# What may stand right before a minus that makes it a sign, not a subtraction.
_SIGN_CONTEXT = set("=(,[{:+-*/%<>!&|?") | {""}
_SIGN_WORDS = ("return", "in", "to", "until", "downTo", "step", "else", "->")


def code_only(source: str, keep_strings: bool = False) -> str:
    """``source`` with comments, string and char literals blanked (newlines kept), template expressions kept.

    With ``keep_strings``, only the comments are blanked (to read Gradle scripts, whose content is in strings).
    """
    out = []
    n = len(source)

    def blank(text: str, literal: bool = True) -> str:
        if keep_strings and literal:
            return text
        return "".join("\n" if c == "\n" else " " for c in text)

    def skip_string(i: int, raw: bool) -> int:
        """From just after the opening quote(s); returns the index after the closing quote(s)."""
        quote = '"""' if raw else '"'
        while i < n:
            if source.startswith(quote, i):
                out.append(blank(quote))
                return i + len(quote)
            if not raw and source[i] == "\\":
                out.append(blank(source[i : i + 2]))
                i += 2
                continue
            if source.startswith("${", i):  # a template expression is code
                out.append("${" if keep_strings else "  ")
                i = skip_code(i + 2, stop="}")
                out.append("}" if keep_strings else " ")
                i += 1
                continue
            out.append(blank(source[i]))
            i += 1
        return i

    def skip_code(i: int, stop: str | None = None) -> int:
        depth = 0
        while i < n:
            c = source[i]
            if stop and c == "}" and depth == 0:
                return i
            if source.startswith("//", i):
                end = source.find("\n", i)
                end = n if end < 0 else end
                out.append(blank(source[i:end], literal=False))
                i = end
            elif source.startswith("/*", i):
                level, j = 1, i + 2
                while j < n and level:
                    if source.startswith("/*", j):
                        level, j = level + 1, j + 2
                    elif source.startswith("*/", j):
                        level, j = level - 1, j + 2
                    else:
                        j += 1
                out.append(blank(source[i:j], literal=False))
                i = j
            elif source.startswith('"""', i):
                out.append(blank('"""'))
                i = skip_string(i + 3, raw=True)
            elif c == '"':
                out.append(blank('"'))
                i = skip_string(i + 1, raw=False)
            elif c == "'":
                match = re.match(r"'(\\u[0-9a-fA-F]{4}|\\.|[^'\\])'", source[i:])
                length = match.end() if match else 1
                out.append(blank(source[i : i + length]))
                i += length
            else:
                if c == "{":
                    depth += 1
                elif c == "}":
                    depth -= 1
                out.append(c)
                i += 1
        return i

    skip_code(0)
    return "".join(out)


def _value(text: str, suffix: str | None) -> float:
    digits = text.replace("_", "")
    if digits[:2].lower() == "0x":
        return float(int(digits, 16))
    if digits[:2].lower() == "0b":
        return float(int(digits, 2))
    return float(digits)


def numeric_literals(source: str) -> list[tuple[int, str, float]]:
    """Every numeric literal in the code of ``source``: ``(line, text as written, value)``, a leading sign minus
    included (``-1.0`` is -1, ``x - 1`` is 1)."""
    code = code_only(source)
    found = []
    for match in _NUMBER.finditer(code):
        start = match.start()
        text = match.group(0)
        value = _value(match.group("text"), match.group("suffix"))
        before = code[:start].rstrip()
        if before.endswith("-") and not before.endswith("--"):
            prior = before[:-1].rstrip()
            if prior[-1:] in _SIGN_CONTEXT or prior.endswith(_SIGN_WORDS):
                value, text = -value, "-" + text
        found.append((code.count("\n", 0, start) + 1, text, value))
    return found
