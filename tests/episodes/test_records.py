"""The rollout record (``episodes.records.Rollout``): the published JSON schema is the model's,
real records validate against both, ``report`` and ``export`` read lines through the one
validation with file:line errors that say what is wrong, version 1 lines still read and
unknown versions are refused with the versions known."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import anyio
import jsonschema
import pytest

from episodes import cli
from episodes.agents import make_agent
from episodes.controller import EpisodeController
from episodes.export import ExportError, export_sft, load_rollouts
from episodes.records import (
    READABLE_SCHEMA_VERSIONS,
    ROLLOUT_SCHEMA_VERSION,
    RecordError,
    Rollout,
    parse_record,
    rollout_schema,
)
from episodes.report import ReportError, read_rollouts

CASES = [("purchase", 2, 3), ("return", 1, 4), ("discovery", 3, 5)]
SCHEMA_FILE = Path(__file__).resolve().parents[2] / "docs" / "rollout.schema.json"


@pytest.fixture(scope="module")
def played(ep_shop: Any, tasks: list[Any]) -> list[dict[str, Any]]:
    """Records of the oracle and the random agent (successes and failures)."""

    async def run() -> list[dict[str, Any]]:
        async with EpisodeController(ep_shop) as controller:
            out = []
            for name in ("oracle", "random"):
                out += await controller.run(make_agent(name), tasks, concurrency=3)
            return out

    return anyio.run(run)


def write(path: Path, lines: list[Any]) -> Path:
    path.write_text("".join((x if isinstance(x, str) else json.dumps(x)) + "\n"
                            for x in lines), encoding="utf-8")
    return path


def test_the_published_schema_is_the_models(capsys: pytest.CaptureFixture[str]) -> None:
    published = json.loads(SCHEMA_FILE.read_text(encoding="utf-8"))
    assert published == rollout_schema(), (
        "docs/rollout.schema.json is stale: shop-episodes records --schema > "
        "docs/rollout.schema.json")
    assert cli.main(["records", "--schema"]) == 0
    assert json.loads(capsys.readouterr().out) == published
    assert set(published["required"]) >= {
        "rollout_id", "group_id", "task_id", "family", "difficulty", "seed", "trial",
        "env_version", "policy", "messages", "tools", "reward", "reward_mode",
        "reward_components", "success", "metrics", "terminated", "truncated", "stop_reason",
        "trace"}
    assert published["additionalProperties"] is False


def test_real_records_are_rollouts_and_match_the_schema(played: list[dict[str, Any]]) -> None:
    validator = jsonschema.Draft202012Validator(rollout_schema())
    assert {r["success"] for r in played} == {True, False}
    for record in played:
        assert record["schema_version"] == ROLLOUT_SCHEMA_VERSION == 2
        errors = sorted(validator.iter_errors(record), key=str)
        assert not errors, errors[0].message
        rollout = parse_record(record, "here")
        assert rollout.to_record() == record  # the record is exactly the model's dump
        assert "curriculum" not in record
        assert record["terminated"] != record["truncated"]


def test_run_writes_rollouts_that_report_and_export_read(
        tmp_path: Path, played: list[dict[str, Any]]) -> None:
    path = write(tmp_path / "runs.jsonl", played)
    read = [r for _, _, r in read_rollouts([path])]
    assert read == played
    assert load_rollouts([path]) == played
    assert export_sft(played)  # in-memory records go through the same check
    assert cli.main(["records", str(path)]) == 0


BAD = [
    (lambda r: r.update(reward="high"), "'reward' must be a number"),
    (lambda r: r.update(reward=10 ** 400), "'reward' must be a number"),
    (lambda r: r.update(difficulty="hard"), "'difficulty' must be an integer"),
    (lambda r: r.update(success=1), "'success' must be true or false"),
    (lambda r: r.update(stop_reason="bored"), "'stop_reason' must be 'shopper_done'"),
    (lambda r: r.update(truncated=r["terminated"]), "exactly one of 'terminated' and"),
    (lambda r: r.update(colour="red"), "'colour' is not a field of a rollout record"),
    (lambda r: r.pop("tools") and r.pop("seed"), "not a rollout record: missing seed, tools"),
    (lambda r: r["metrics"].pop("errors"), "metrics.errors: missing"),
    (lambda r: r["messages"].append({"role": "tool", "content": "x"}),
     "]: a tool message needs 'tool_call_id'"),
    (lambda r: r["messages"].__setitem__(0, {"role": "robot", "content": "hi"}),
     "messages[0].role: must be 'system', 'user', 'assistant' or 'tool'"),
    (lambda r: r.update(schema_version=3),
     "schema_version 3 is not one this reader knows (it reads 1 and 2)"),
]


@pytest.mark.parametrize("case", range(len(BAD)), ids=[m for _, m in BAD])
def test_malformed_lines_name_file_line_and_problem(tmp_path: Path,
                                                    played: list[dict[str, Any]],
                                                    case: int) -> None:
    spoil, message = BAD[case]
    bad = copy.deepcopy(played[0])
    spoil(bad)
    path = write(tmp_path / "bad.jsonl", [played[1], "", bad])
    with pytest.raises(ReportError) as report_error:
        list(read_rollouts([path]))
    with pytest.raises(ExportError) as export_error:
        load_rollouts([path])
    for exc in (report_error.value, export_error.value):
        assert str(exc).startswith(f"{path}:3: "), str(exc)
        assert message in str(exc), str(exc)
    with pytest.raises(ExportError, match=r"^record 1 \(rollout .*\): "):
        export_sft([bad])


def test_tool_call_arguments_must_be_a_json_object(played: list[dict[str, Any]]) -> None:
    record = copy.deepcopy(next(r for r in played if r["policy"] == "oracle"))
    at = next(i for i, m in enumerate(record["messages"]) if m.get("tool_calls"))
    record["messages"][at]["tool_calls"][0]["function"]["arguments"] = "[1, 2]"
    with pytest.raises(RecordError, match=rf"^f:9: messages\[{at}\]\.tool_calls\[0\]: "
                                          "tool-call arguments must be a JSON object, got list"):
        parse_record(record, "f:9")


def test_version_1_lines_still_read(tmp_path: Path, played: list[dict[str, Any]]) -> None:
    """A version 1 line: the same fields, components without typed reasons."""
    old = copy.deepcopy(played[0])
    old["schema_version"] = 1
    for component in old["reward_components"]:
        component.pop("reasons", None)
    assert 1 in READABLE_SCHEMA_VERSIONS
    (_, _, read), = read_rollouts([write(tmp_path / "v1.jsonl", [old])])
    assert read["schema_version"] == 1 and read["reward"] == old["reward"]
    assert all(c["reasons"] == [] for c in read["reward_components"])


def test_curriculum_runs_carry_their_mark(played: list[dict[str, Any]]) -> None:
    marked = {**played[0], "curriculum": {"window": [1, 3], "episode": 12}}
    rollout = Rollout.model_validate(marked)
    assert rollout.curriculum is not None and rollout.curriculum.window == (1, 3)
    assert rollout.to_record()["curriculum"] == {"window": [1, 3], "episode": 12}
    with pytest.raises(RecordError, match="curriculum.window"):
        parse_record({**marked, "curriculum": {"window": [1], "episode": 12}}, "x")
