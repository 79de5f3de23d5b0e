"""Stripe's form encoding: bracket notation into nested dicts and lists.

Stripe clients send ``application/x-www-form-urlencoded`` bodies (and query
strings) such as::

    line_items[0][price_data][currency]=usd&expand[]=payment_intent

``parse_params`` turns them into plain Python values::

    {"line_items": [{"price_data": {"currency": "usd"}}], "expand": ["payment_intent"]}

Contract:
- every leaf value is a ``str`` (callers convert integers and booleans with
  ``as_int`` / ``as_bool``, which raise ``ParamError`` naming the parameter);
- ``key[]`` appends to a list; ``key[0]``, ``key[1]`` ... become a list ordered
  by index when every sub-key of that dict is a decimal integer;
- a key repeated without brackets keeps its last value.
"""

from __future__ import annotations

import re
from urllib.parse import parse_qsl

_SEGMENT = re.compile(r"\[([^\[\]]*)\]")


class ParamError(Exception):
    """A request parameter is malformed; ``param`` names it Stripe-style."""

    def __init__(self, message: str, param: str | None = None):
        super().__init__(message)
        self.message = message
        self.param = param


def split_key(key: str) -> list[str]:
    """``"a[b][0][]"`` -> ``["a", "b", "0", ""]`` (``""`` means append)."""
    head, _, rest = key.partition("[")
    parts = [head]
    if rest:
        parts.extend(_SEGMENT.findall("[" + rest))
    return parts


def _insert(root: dict, parts: list[str], value: str, full_key: str) -> None:
    node = root
    for i, part in enumerate(parts):
        last = i == len(parts) - 1
        if part == "":
            # key[] -> append; represented as a dict with synthetic indices.
            part = str(len(node))
            while part in node:
                part = str(int(part) + 1)
        if last:
            node[part] = value
            return
        child = node.get(part)
        if child is None or isinstance(child, str):
            child = {}
            node[part] = child
        node = child


def _listify(value):
    if not isinstance(value, dict):
        return value
    converted = {k: _listify(v) for k, v in value.items()}
    if converted and all(k.isdigit() for k in converted):
        return [converted[k] for k in sorted(converted, key=int)]
    return converted


def parse_params(encoded: str) -> dict:
    """Parse a form body or query string in Stripe's bracket notation."""
    root: dict = {}
    for key, value in parse_qsl(encoded, keep_blank_values=True):
        parts = split_key(key)
        if not parts[0]:
            raise ParamError(f"Invalid parameter name: {key}", key)
        _insert(root, parts, value, key)
    return _listify(root)


def as_int(value, param: str, *, minimum: int | None = None) -> int:
    """Convert a form value to ``int`` or raise ``ParamError`` like Stripe."""
    if isinstance(value, int) and not isinstance(value, bool):
        number = value
    elif isinstance(value, str) and re.fullmatch(r"-?\d+", value.strip()):
        number = int(value.strip())
    else:
        raise ParamError(f"Invalid integer: {value}", param)
    if minimum is not None and number < minimum:
        raise ParamError(
            f"Invalid {param}: must be greater than or equal to {minimum}", param
        )
    return number


def as_bool(value, param: str) -> bool:
    """Convert ``"true"``/``"false"`` to ``bool`` or raise ``ParamError``."""
    if isinstance(value, bool):
        return value
    if value in ("true", "false"):
        return value == "true"
    raise ParamError(f"Invalid boolean: {value}", param)


def as_list(value, param: str) -> list:
    """A list parameter: accepts ``x[]=a``/``x[0]=a`` forms (already lists)."""
    if value is None or value == "":
        return []
    if isinstance(value, list):
        return value
    if isinstance(value, str):
        return [value]
    raise ParamError(f"Invalid array: {param}", param)


def as_metadata(value, param: str = "metadata") -> dict:
    """Validate a metadata hash (Stripe limits: 50 keys, 40/500 chars).

    ``metadata=""`` clears all keys (returned as ``{}``); a key whose value is
    ``""`` is returned with value ``None`` so an update can delete it.
    """
    if value is None or value == "":
        return {}
    if not isinstance(value, dict):
        raise ParamError("Invalid hash", param)
    if len(value) > 50:
        raise ParamError(
            "Invalid metadata: metadata can have up to 50 keys.", param
        )
    result = {}
    for key, item in value.items():
        if not isinstance(item, str):
            raise ParamError(
                f"Invalid value for metadata key {key}: must be a string", f"{param}[{key}]"
            )
        if len(key) > 40:
            raise ParamError(
                f"Invalid metadata: keys can be no longer than 40 characters ({key!r}).",
                f"{param}[{key}]",
            )
        if len(item) > 500:
            raise ParamError(
                f"Invalid metadata: values can be no longer than 500 characters ({key!r}).",
                f"{param}[{key}]",
            )
        result[key] = item if item != "" else None
    return result


def expand_paths(params: dict) -> list[str]:
    """The ``expand[]`` list of a request (empty when absent)."""
    return [p for p in as_list(params.get("expand"), "expand") if isinstance(p, str)]
