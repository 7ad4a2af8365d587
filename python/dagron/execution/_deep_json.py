"""JSON text nested deeper than ``json.loads`` can go: an iterative decoder.

``json.loads`` recurses once per nesting level and raises ``RecursionError`` near
the interpreter's recursion limit (about 1,000), though ``to_json`` writes what
``json.dumps`` can write, which is as deep. :func:`loads` decodes the same text to
the same values with its own stack (so any depth, within memory), with the
``json`` module's pieces for strings and numbers; it is only used once
``json.loads`` gave up, so its speed matters little. Errors are
``json.JSONDecodeError`` with the character position, as from ``json.loads``.
"""

from __future__ import annotations

import json
import re
from json.decoder import scanstring  # type: ignore[attr-defined]
from json.scanner import NUMBER_RE  # type: ignore[attr-defined]
from typing import Any, Union

__all__ = ["loads"]

_SPACE = re.compile(r"[ \t\n\r]*")
_CONSTANTS = (
    ("null", None),
    ("true", True),
    ("false", False),
    ("NaN", float("nan")),
    ("Infinity", float("inf")),
    ("-Infinity", float("-inf")),
)

_Container = Union[dict[str, Any], list[Any]]


def loads(text: str) -> Any:
    """The value of JSON ``text``, as ``json.loads(text)`` gives it."""
    # Open containers, innermost last, each with the key its next value goes to.
    stack: list[tuple[_Container, str]] = []
    pos = _SPACE.match(text, 0).end()  # type: ignore[union-attr]
    while True:
        value, pos, opened = _value(text, pos)
        if opened is not None:
            pos = _SPACE.match(text, pos).end()  # type: ignore[union-attr]
            closing = "}" if isinstance(opened, dict) else "]"
            if text.startswith(closing, pos):
                value, pos = opened, pos + 1
            else:
                key, pos = _key(text, pos) if isinstance(opened, dict) else ("", pos)
                stack.append((opened, key))
                continue
        # A whole value: into the innermost open container, closing those it ends.
        while stack:
            container, key = stack[-1]
            if isinstance(container, dict):
                container[key] = value
            else:
                container.append(value)
            pos = _SPACE.match(text, pos).end()  # type: ignore[union-attr]
            closing = "}" if isinstance(container, dict) else "]"
            if text.startswith(",", pos):
                pos = _SPACE.match(text, pos + 1).end()  # type: ignore[union-attr]
                if isinstance(container, dict):
                    key, pos = _key(text, pos)
                    stack[-1] = (container, key)
                break
            if text.startswith(closing, pos):
                stack.pop()
                value, pos = container, pos + 1
                continue
            raise json.JSONDecodeError("Expecting ',' delimiter", text, pos)
        else:
            end = _SPACE.match(text, pos).end()  # type: ignore[union-attr]
            if end != len(text):
                raise json.JSONDecodeError("Extra data", text, end)
            return value


def _value(text: str, pos: int) -> tuple[Any, int, Any]:
    """``(value, end, None)`` for a scalar at ``pos``, ``(None, pos + 1, container)``
    for the start of an object or array."""
    char = text[pos : pos + 1]
    if char == "{":
        return None, pos + 1, {}
    if char == "[":
        return None, pos + 1, []
    if char == '"':
        string, end = scanstring(text, pos + 1, True)
        return string, end, None
    number = NUMBER_RE.match(text, pos)
    if number is not None and not text.startswith("-Infinity", pos):
        integer, fraction, exponent = number.groups()
        if fraction or exponent:
            return float(integer + (fraction or "") + (exponent or "")), number.end(), None
        return int(integer), number.end(), None
    for word, constant in _CONSTANTS:
        if text.startswith(word, pos):
            return constant, pos + len(word), None
    raise json.JSONDecodeError("Expecting value", text, pos)


def _key(text: str, pos: int) -> tuple[str, int]:
    """An object's key and the ``:`` after it: ``(key, position of its value)``."""
    if not text.startswith('"', pos):
        raise json.JSONDecodeError("Expecting property name enclosed in double quotes", text, pos)
    key, pos = scanstring(text, pos + 1, True)
    pos = _SPACE.match(text, pos).end()  # type: ignore[union-attr]
    if not text.startswith(":", pos):
        raise json.JSONDecodeError("Expecting ':' delimiter", text, pos)
    return key, _SPACE.match(text, pos + 1).end()  # type: ignore[union-attr]
