"""Checks on raw input that no view should have to repeat (N4).

`bad_text` finds a character no Settle field may hold (NUL, a lone surrogate, a
non-character): PostgreSQL refuses them, so they would otherwise become a 500.
`checked_json` looks at a JSON body before anything parses it: too deep a
nesting (a recursion bomb) or a string with such a character is refused.
"""

import json
import re

_BAD_TEXT = re.compile("[\x00\ud800-\udfff\ufffe\uffff]")
_JSON_STRING = re.compile(rb'"(?:[^"\\]|\\.)*"', re.DOTALL)
_BRACKET = re.compile(rb"[\[\]{}]")

MAX_JSON_DEPTH = 32


def bad_text(value: str) -> bool:
    return bool(value) and bool(_BAD_TEXT.search(value))


def _depth(raw: bytes) -> int:
    """The deepest nesting of arrays and objects, strings left out; no recursion."""
    depth = deepest = 0
    for match in _BRACKET.finditer(_JSON_STRING.sub(b'""', raw)):
        if match.group() in (b"[", b"{"):
            depth += 1
            deepest = max(deepest, depth)
        else:
            depth -= 1
    return deepest


NOT_JSON = object()  # what `checked_json` gives for a body that is not JSON


def checked_json(raw: bytes, *, max_depth: int = MAX_JSON_DEPTH) -> tuple[str | None, object]:
    """(why `raw` must not be parsed, or None; the parsed body, or NOT_JSON).

    The body is parsed at most once, so a caller can hand the parsed value on instead of
    parsing the same bytes again. Invalid JSON itself is left to the view (no problem, NOT_JSON).
    """
    if _depth(raw) > max_depth:
        return "The JSON body is nested too deeply.", NOT_JSON
    try:
        data = json.loads(raw)
    except (ValueError, RecursionError):
        return None, NOT_JSON
    stack = [data]
    while stack:
        item = stack.pop()
        if isinstance(item, str):
            if bad_text(item):
                return "The JSON body holds characters that are not allowed.", NOT_JSON
        elif isinstance(item, dict):
            stack.extend(item.keys())
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
    return None, data
