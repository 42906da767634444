"""What a strict client checks, checked here in Python: every tool is called with valid
arguments in one realistic session (``tests/protocol/tour.py``) and each structured result
must validate against the tool's declared output schema with format checking on (as the MCP
Inspector does: a ``date-time`` must be RFC 3339, with its offset); every input schema is
valid JSON Schema and accepts the arguments sent; descriptions carry no source indentation;
every schema passes the Inspector's ``--strict`` portability rules.
"""

from __future__ import annotations

import inspect
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import anyio
import pytest
from jsonschema import Draft202012Validator, FormatChecker
from mcp import Client

from mcp_shop import Shop
from mcp_shop.server import build_server
from mcp_shop.tool_catalog import TOOLS
from mcp_shop.views import SessionView
from tests.protocol.journey import ToolFailed
from tests.protocol.portability import portability_problems
from tests.protocol.tour import tour_seed

Call = tuple[str, dict[str, Any], Any]


def _checker() -> FormatChecker:
    """jsonschema's format checker, failing when date-time would go unchecked (jsonschema
    checks it only with rfc3339-validator installed, which the test extra brings)."""
    checker = FormatChecker()
    if "date-time" not in checker.checkers:
        pytest.fail("jsonschema cannot check format date-time: pip install "
                    "rfc3339-validator (in the test extra)")
    return checker


@pytest.fixture(scope="module")
def surface(proto_shop: Shop) -> tuple[dict[str, Any], list[Call]]:
    """The listed tools by name, and every call of a whole tour with its structured result."""
    calls: list[Call] = []
    listed: dict[str, Any] = {}

    async def go() -> None:
        async with Client(build_server(proto_shop)) as client:
            listed.update({t.name: t for t in (await client.list_tools()).tools})

            async def call(tool: str, args: dict[str, Any]) -> Any:
                result = await client.call_tool(tool, args)
                if result.is_error:
                    raise ToolFailed(f"{tool}({args}): {result.content[0].text}")
                calls.append((tool, args, result.structured_content))
                return result.structured_content

            def fresh() -> Any:
                calls.clear()
                return call

            await tour_seed(fresh)

    anyio.run(go)
    return listed, calls


def test_the_tour_calls_every_tool(surface: tuple[dict[str, Any], list[Call]]) -> None:
    listed, calls = surface
    assert set(listed) == {t.name for t in TOOLS}
    assert {tool for tool, _, _ in calls} == set(listed)


def test_every_result_matches_its_output_schema_with_formats(
        surface: tuple[dict[str, Any], list[Call]]) -> None:
    listed, calls = surface
    checker = _checker()
    stamps = 0
    for tool, args, result in calls:
        schema = listed[tool].output_schema
        assert schema is not None, f"{tool} declares no output schema"
        errors = [f"{'/'.join(map(str, e.absolute_path))}: {e.message}" for e in
                  Draft202012Validator(schema, format_checker=checker).iter_errors(result)]
        assert not errors, (tool, args, errors)
        stamps += len(list(_date_times(schema, result)))
    assert stamps >= 30  # order views hold many, and every tool that declares one is called


def test_naive_date_times_fail_the_check(surface: tuple[dict[str, Any], list[Call]]) -> None:
    """The check above would catch the old results: the same text without its offset fails."""
    listed, calls = surface
    checker = _checker()
    seen = set()
    for tool, _, result in calls:
        schema = listed[tool].output_schema
        for path, text in _date_times(schema, result):
            assert text.endswith("Z"), (tool, path, text)
            naive = _replace(result, path, text.removesuffix("Z"))
            assert not Draft202012Validator(schema, format_checker=checker).is_valid(naive)
            seen.add(tool)
    assert seen >= {"open_session", "get_customer", "list_orders", "get_order", "checkout",
                    "cancel_order", "check_return_eligibility", "request_return",
                    "request_exchange"}


def test_every_input_schema_is_valid_and_accepts_the_tour_arguments(
        surface: tuple[dict[str, Any], list[Call]]) -> None:
    listed, calls = surface
    checker = _checker()
    for tool in listed.values():
        Draft202012Validator.check_schema(tool.input_schema)
        if tool.output_schema is not None:
            Draft202012Validator.check_schema(tool.output_schema)
    for tool, args, _ in calls:
        validator = Draft202012Validator(listed[tool].input_schema, format_checker=checker)
        assert validator.is_valid(args), (tool, args)


def test_descriptions_carry_no_source_indentation(
        surface: tuple[dict[str, Any], list[Call]]) -> None:
    listed, _ = surface
    for name, tool in listed.items():
        text = tool.description or ""
        assert text == inspect.cleandoc(text), name
        assert not [line for line in text.splitlines() if line != line.strip()], name
        assert "\n\n\n" not in text and len(text) > 60, name


def test_every_schema_is_portable(surface: tuple[dict[str, Any], list[Call]]) -> None:
    listed, _ = surface
    problems = []
    for name, tool in listed.items():
        problems += [f"{name} input {p}" for p in portability_problems(tool.input_schema)]
        if tool.output_schema is not None:
            problems += [f"{name} output {p}" for p in portability_problems(tool.output_schema)]
    assert not problems, "\n".join(problems)


def test_the_portability_rules_catch_each_problem() -> None:
    ok = {"type": "object", "properties": {"a": {"anyOf": [{"type": "string"}, {"type": "null"}]},
                                           "b": {"type": "object", "additionalProperties": True},
                                           "c": {"not": {}}, "d": {"$ref": "#/$defs/D"}},
          "$defs": {"D": {"type": "integer"}}}
    assert portability_problems(ok) == []
    bad = {"type": "object", "properties": {"a": {"type": ["string", "null"]}, "b": True,
                                            "c": {"description": "anything"},
                                            "d": {"$ref": "https://example.com/s.json"}}}
    found = portability_problems(bad)
    assert [p.split(":")[0] for p in found] == ["$.properties.a", "$.properties.b",
                                                "$.properties.c", "$.properties.d"]


def test_views_write_times_with_their_offset_and_keep_them_naive_in_python() -> None:
    view = SessionView(session_id="s", seed=1, clock=datetime(2026, 3, 2, 9), customer_id="C-1")
    assert view.model_dump(mode="json")["clock"] == "2026-03-02T09:00:00Z"
    assert view.clock.tzinfo is None  # the shop's own arithmetic stays on naive UTC times
    aware = view.model_copy(update={"clock": datetime(2026, 3, 2, 11,
                                                      tzinfo=timezone(timedelta(hours=2)))})
    assert aware.model_dump(mode="json")["clock"] == "2026-03-02T09:00:00Z"
    back = datetime.fromisoformat(view.model_dump(mode="json")["clock"])
    assert back == datetime(2026, 3, 2, 9, tzinfo=UTC)


def _date_times(schema: dict[str, Any], value: Any, path: tuple[Any, ...] = ()
                ) -> list[tuple[tuple[Any, ...], str]]:
    """``(path, text)`` of every string in ``value`` that ``schema`` declares a date-time."""
    found: list[tuple[tuple[Any, ...], str]] = []
    branches = [schema, *schema.get("anyOf", [])]
    if isinstance(value, str) and any(b.get("format") == "date-time" for b in branches):
        return [(path, value)]
    for branch in branches:
        if isinstance(value, dict):
            for key, sub in branch.get("properties", {}).items():
                if key in value:
                    found += _date_times(sub, value[key], (*path, key))
        elif isinstance(value, list) and isinstance(branch.get("items"), dict):
            for i, item in enumerate(value):
                found += _date_times(branch["items"], item, (*path, i))
    return found


def _replace(value: Any, path: tuple[Any, ...], new: Any) -> Any:
    if not path:
        return new
    head, *rest = path
    if isinstance(value, list):
        return [_replace(v, tuple(rest), new) if i == head else v for i, v in enumerate(value)]
    return {**value, head: _replace(value[head], tuple(rest), new)}
