"""Plain messages for numbers a tool's input schema rejects for their size or for not being
finite (``10**400`` where a float goes, ``1e308`` where an integer goes, NaN, Infinity): what
is wrong and the range the schema allows, instead of pydantic's parser wording."""

from __future__ import annotations

from typing import Any

__all__ = ["explain_number"]

# pydantic error types that, for a numeric input, mean "too large" or "not finite"
_SIZE_ERRORS = {"int_parsing_size", "float_parsing", "float_type", "finite_number", "int_parsing",
                "int_from_float"}


def explain_number(schema: dict[str, Any], loc: tuple[int | str, ...], kind: str,
                   value: Any) -> str | None:
    """A message for ``value`` rejected at ``loc`` with pydantic error type ``kind``, or None
    when the error is not about an unusable number (then pydantic's own message is clear).

    Args:
        schema: the tool's input JSON schema.
        loc: where the error is, as pydantic gives it (``('items', 0, 'quantity')``).
        kind: the pydantic error type, e.g. ``'int_parsing_size'``.
        value: the rejected input.
    """
    if kind not in _SIZE_ERRORS or isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    if kind in ("int_parsing", "int_from_float") and _finite_float(value):
        return None  # a fraction where a whole number goes: pydantic says so plainly
    node = _field(schema, loc)
    valid = _valid_numbers(schema, node) if node is not None else None
    if valid is None:
        valid = "a finite number"
    return f"not a usable number (too large, or not finite); give {valid}"


def _finite_float(value: int | float) -> bool:
    try:
        return abs(float(value)) < float("inf")
    except OverflowError:
        return False


def _resolve(schema: dict[str, Any], node: dict[str, Any]) -> dict[str, Any]:
    ref = node.get("$ref")
    if isinstance(ref, str) and ref.startswith("#/$defs/"):
        return dict(schema.get("$defs", {}).get(ref.removeprefix("#/$defs/"), {}))
    return node


def _field(schema: dict[str, Any], loc: tuple[int | str, ...]) -> dict[str, Any] | None:
    """The schema of the value at ``loc`` (union branches named in ``loc`` are skipped)."""
    node = _resolve(schema, schema)
    for part in loc:
        branches = [_resolve(schema, b) for b in node.get("anyOf", [node])]
        nxt = None
        for b in branches:
            if isinstance(part, int) and isinstance(b.get("items"), dict):
                nxt = b["items"]
            elif isinstance(part, str) and part in b.get("properties", {}):
                nxt = b["properties"][part]
            elif isinstance(part, str) and isinstance(b.get("additionalProperties"), dict):
                nxt = b["additionalProperties"]
            if nxt is not None:
                break
        if nxt is None:
            if part in ("int", "float", "str", "bool"):  # pydantic's name of a union branch
                continue
            return None
        node = _resolve(schema, nxt)
    return node


def _valid_numbers(schema: dict[str, Any], node: dict[str, Any]) -> str | None:
    """'a whole number from 1 to 10', 'a number from 0 to 5', ... for a numeric schema."""
    branches = [_resolve(schema, b) for b in node.get("anyOf", [node])]
    for b in sorted(branches, key=lambda b: b.get("type") != "number"):  # floats first
        kind = b.get("type")
        if kind not in ("integer", "number"):
            continue
        what = "a whole number" if kind == "integer" else "a number"
        low, high = b.get("minimum"), b.get("maximum")
        if low is not None and high is not None:
            return f"{what} from {low} to {high}"
        if low is not None:
            return f"{what} of at least {low}"
        if high is not None:
            return f"{what} of at most {high}"
        return f"a finite {what.removeprefix('a ')}" if kind == "number" else what
    return None
