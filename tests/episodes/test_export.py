"""``shop-episodes export``: SFT, DPO and KTO rows from real rollouts of the oracle, heuristic
and random agents (several trials each, so a task has successes and failures), checked
against the rollouts they came from and the documented field lists; ``validate`` on broken
rows; the command line; and a round trip through ``datasets`` when it is installed."""

from __future__ import annotations

import argparse
import copy
import json
import re
from collections import Counter
from pathlib import Path
from typing import Any

import anyio
import pytest

from episodes import export
from episodes.agents import make_agent
from episodes.controller import EpisodeController
from episodes.export import (
    FIELDS,
    METADATA_FIELDS,
    ExportError,
    add_export_command,
    chat_messages,
    export_dpo,
    export_kto,
    export_sft,
    load_rollouts,
    read_rows,
    row_problems,
    validate,
)
from episodes.generate import generate_task

TASKS = [("discovery", 1), ("cart", 2), ("purchase", 3), ("return", 1), ("order_status", 2)]
TRIALS = {"oracle": 2, "heuristic": 2, "random": 3}
SYSTEM = "You are a shop assistant. Use the tools."


@pytest.fixture(scope="module")
def rollout_files(ep_shop: Any, tmp_path_factory: pytest.TempPathFactory) -> list[Path]:
    """One rollout file per agent, over the same few tasks."""
    tasks = [generate_task(ep_shop, family, difficulty, 11) for family, difficulty in TASKS]

    async def play() -> dict[str, list[dict[str, Any]]]:
        async with EpisodeController(ep_shop) as controller:
            return {name: await controller.run(make_agent(name), tasks, concurrency=8,
                                               trials=trials)
                    for name, trials in TRIALS.items()}

    played = anyio.run(play)
    out = tmp_path_factory.mktemp("rollouts")
    paths = []
    for name, records in played.items():
        path = out / f"{name}.jsonl"
        path.write_text("".join(json.dumps(r) + "\n" for r in records), encoding="utf-8")
        paths.append(path)
    return paths


@pytest.fixture(scope="module")
def records(rollout_files: list[Path]) -> list[dict[str, Any]]:
    return load_rollouts(rollout_files)


@pytest.fixture(scope="module")
def by_rollout(records: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {r["rollout_id"]: r for r in records}


def trimmed(record: dict[str, Any], system: str | None = None) -> list[dict[str, Any]]:
    """The record's conversation as the export writes it, by this test's own reading of the
    documented rules: the shopper's messages after the agent's last one dropped."""
    messages = chat_messages(record["messages"])
    while messages[-1]["role"] == "user":
        messages.pop()
    return ([{"role": "system", "content": system}] if system else []) + messages


def test_the_rollouts_have_successes_and_failures_in_each_task(
        records: list[dict[str, Any]]) -> None:
    outcomes: dict[str, set[bool]] = {}
    for r in records:
        outcomes.setdefault(r["group_id"], set()).add(r["success"])
    assert len(outcomes) == len(TASKS)
    assert all(seen == {True, False} for seen in outcomes.values()), outcomes


def test_chat_messages_convert_arguments_to_dicts_equal_to_the_rollout_json(
        records: list[dict[str, Any]]) -> None:
    calls = 0
    for record in records:
        converted = chat_messages(record["messages"])
        as_text = chat_messages(record["messages"], arguments="json")
        assert len(converted) == len(record["messages"])
        for original, msg, text in zip(record["messages"], converted, as_text, strict=True):
            assert msg["role"] == original["role"]
            if original.get("tool_calls"):
                assert msg["content"] == "" and set(msg) == {"role", "content", "tool_calls"}
                for call, new, old in zip(original["tool_calls"], msg["tool_calls"],
                                          text["tool_calls"], strict=True):
                    calls += 1
                    args = new["function"]["arguments"]
                    assert isinstance(args, dict)
                    assert args == json.loads(call["function"]["arguments"])
                    assert old["function"]["arguments"] == call["function"]["arguments"]
                    assert new["id"] == call["id"] and new["type"] == "function"
                    assert new["function"]["name"] == call["function"]["name"]
            elif original["role"] == "tool":
                assert msg == {k: original[k] for k in ("role", "tool_call_id", "name",
                                                        "content")}
            else:
                assert msg == {"role": original["role"], "content": original["content"]}
    assert calls > 50


# -- SFT ------------------------------------------------------------------------------------


def test_sft_rows_are_the_successful_episodes_above_the_threshold(
        records: list[dict[str, Any]], by_rollout: dict[str, dict[str, Any]]) -> None:
    skipped: Counter[str] = Counter()
    rows = export_sft(records, min_reward=0.5, with_metadata=True, skipped=skipped)
    assert validate(rows, "sft") == len(rows) > 0
    wanted = {json.dumps(trimmed(r)) for r in records if r["success"] and r["reward"] >= 0.5}
    assert {json.dumps(row["messages"]) for row in rows} == wanted  # each once
    assert len(rows) == len(wanted)
    for row in rows:
        source = by_rollout[row["rollout_id"]]
        assert source["success"] and source["reward"] >= 0.5
        assert row["messages"] == trimmed(source)
        assert row["messages"][-1]["role"] != "user"
        assert row["tools"] == source["tools"]
        assert list(row) == [*FIELDS["sft"], *METADATA_FIELDS["sft"]]
        assert {k: row[k] for k in METADATA_FIELDS["sft"]} == {
            k: source[k] for k in METADATA_FIELDS["sft"]}
    failed = sum(1 for r in records if not r["success"])
    assert skipped["failed episodes"] == failed
    assert skipped["duplicate conversations"] == len(records) - failed - len(rows)


def test_sft_without_metadata_has_exactly_the_documented_fields(
        records: list[dict[str, Any]]) -> None:
    rows = export_sft(records)
    assert rows and all(list(row) == ["messages", "tools"] for row in rows)
    assert export_sft(records, min_reward=2.0) == []  # rewards are at most 1
    everything = export_sft(records, require_success=False, min_reward=-10)
    assert len(everything) > len(rows)
    only_oracle = export_sft(records, policies=["oracle"], with_metadata=True)
    assert only_oracle and {r["policy"] for r in only_oracle} == {"oracle"}


def test_sft_system_prompt_and_json_arguments(records: list[dict[str, Any]]) -> None:
    rows = export_sft(records, system_prompt=SYSTEM, arguments="json")
    assert all(row["messages"][0] == {"role": "system", "content": SYSTEM} for row in rows)
    validate(rows, "sft", arguments="json")
    with pytest.raises(ExportError, match=r"arguments: must be a JSON object \(dict\), got str"):
        validate(rows, "sft")


# -- DPO ------------------------------------------------------------------------------------


def test_dpo_pairs_share_a_task_a_prefix_and_a_reward_margin(
        records: list[dict[str, Any]], by_rollout: dict[str, dict[str, Any]]) -> None:
    rows = export_dpo(records, margin=0.5, max_pairs_per_group=3, with_metadata=True)
    assert validate(rows, "dpo") == len(rows) > 0
    per_task = Counter(row["task_id"] for row in rows)
    assert len(per_task) == len(TASKS) and max(per_task.values()) <= 3
    for row in rows:
        chosen = by_rollout[row["chosen_rollout_id"]]
        rejected = by_rollout[row["rejected_rollout_id"]]
        assert chosen["group_id"] == rejected["group_id"] == row["task_id"]
        assert chosen["reward"] - rejected["reward"] >= 0.5
        assert (row["chosen_reward"], row["rejected_reward"]) == (chosen["reward"],
                                                                  rejected["reward"])
        assert row["prompt"] + row["chosen"] == trimmed(chosen)
        assert row["prompt"] + row["rejected"] == trimmed(rejected)
        assert row["chosen"] and row["rejected"] and row["chosen"] != row["rejected"]
        assert row["chosen"][0]["role"] == row["rejected"][0]["role"] == "assistant"
        assert row["prompt"][0]["role"] == "user"
        assert row["tools"] == chosen["tools"] == rejected["tools"]
    # the best episode of each task comes first, against the worst
    first: dict[str, dict[str, Any]] = {}
    for row in rows:
        first.setdefault(row["task_id"], row)
    for task, row in first.items():
        rewards = [r["reward"] for r in records if r["group_id"] == task]
        assert (row["chosen_reward"], row["rejected_reward"]) == (max(rewards), min(rewards))


def test_dpo_is_deterministic_and_respects_the_options(records: list[dict[str, Any]]) -> None:
    rows = export_dpo(records)
    assert rows == export_dpo(copy.deepcopy(records))
    assert all(list(row) == ["prompt", "chosen", "rejected", "tools"] for row in rows)
    one = export_dpo(records, max_pairs_per_group=1, system_prompt=SYSTEM)
    assert len(one) == len(TASKS)
    assert all(row["prompt"][0] == {"role": "system", "content": SYSTEM} for row in one)
    skipped: Counter[str] = Counter()
    assert export_dpo(records, margin=5.0, skipped=skipped) == []
    assert skipped["tasks without a reward gap of 5"] == len(TASKS)
    with pytest.raises(ExportError, match="margin must be above 0"):
        export_dpo(records, margin=0)


def test_dpo_pairs_conversations_that_part_after_the_opening() -> None:
    def rollout(rid: str, reward: float, tail: list[dict[str, Any]]) -> dict[str, Any]:
        opening = [{"role": "user", "content": "I need socks."},
                   {"role": "assistant", "content": "What size?"},
                   {"role": "user", "content": "Size 9."}]
        return {"rollout_id": rid, "group_id": "g", "task_id": "g", "reward": reward,
                "success": reward > 0, "tools": [], "messages": opening + tail,
                "family": "discovery", "difficulty": 1, "seed": 1, "trial": 0,
                "env_version": "test", "policy": rid, "reward_mode": "sparse",
                "reward_components": [], "metrics": {"turns": 2, "tool_calls": 1, "errors": 0,
                                                     "wall_time_s": 0.0},
                "terminated": True, "truncated": False, "stop_reason": "agent_done",
                "trace": []}

    call = {"role": "assistant", "tool_calls": [{"id": "c1", "type": "function", "function": {
        "name": "search_products", "arguments": '{"query": "socks"}'}}]}
    good = rollout("a", 1.0, [call, {"role": "tool", "tool_call_id": "c1",
                                     "name": "search_products", "content": "[]"},
                              {"role": "assistant", "content": "None in size 9."},
                              {"role": "user", "content": "Thanks, bye."}])
    bad = rollout("b", 0.0, [{"role": "assistant", "content": "Bye."},
                             {"role": "user", "content": "Hm."}])
    # same opening, but an extra turn: one is a prefix of the other up to its end
    short = rollout("c", -0.5, [])
    rows = export_dpo([good, bad, short], max_pairs_per_group=None, with_metadata=True)
    pairs = {(r["chosen_rollout_id"], r["rejected_rollout_id"]): r for r in rows}
    assert set(pairs) == {("a", "c"), ("a", "b"), ("b", "c")}
    ab = pairs[("a", "b")]
    assert [m["role"] for m in ab["prompt"]] == ["user", "assistant", "user"]
    assert ab["chosen"][0]["tool_calls"][0]["function"]["arguments"] == {"query": "socks"}
    assert ab["rejected"] == [{"role": "assistant", "content": "Bye."}]
    # 'c' ends where the others go on: the prompt is cut back to the last shared assistant turn
    ac = pairs[("a", "c")]
    assert ac["prompt"] == [{"role": "user", "content": "I need socks."}]
    assert ac["rejected"] == [{"role": "assistant", "content": "What size?"}]
    validate(rows, "dpo")


# -- KTO ------------------------------------------------------------------------------------


def test_kto_labels_follow_success_or_the_threshold(
        records: list[dict[str, Any]], by_rollout: dict[str, dict[str, Any]]) -> None:
    rows = export_kto(records, with_metadata=True)
    assert validate(rows, "kto") == len(rows)
    assert {json.dumps([r["prompt"], r["completion"]]) for r in rows} == {
        json.dumps([trimmed(r)[:1], trimmed(r)[1:]]) for r in records}
    labels = Counter(row["label"] for row in rows)
    assert labels[True] and labels[False]
    for row in rows:
        source = by_rollout[row["rollout_id"]]
        assert row["label"] is source["success"]
        assert row["prompt"] == [{"role": "user", "content": source["messages"][0]["content"]}]
        assert row["prompt"] + row["completion"] == trimmed(source)
        assert row["completion"][0]["role"] == "assistant"
    for row in export_kto(records, threshold=-0.3, with_metadata=True, system_prompt=SYSTEM):
        assert row["label"] is (by_rollout[row["rollout_id"]]["reward"] >= -0.3)
        assert [m["role"] for m in row["prompt"]] == ["system", "user"]
    assert all(list(row) == ["prompt", "completion", "label", "tools"]
               for row in export_kto(records))


# -- validate -------------------------------------------------------------------------------


CALL = {"id": "c1", "type": "function", "function": {"name": "get_product",
                                                     "arguments": {"product_id": "P-1"}}}
TOOLS = [{"type": "function", "function": {"name": "get_product", "description": "",
                                           "parameters": {"type": "object"}}}]
OPENING = [{"role": "user", "content": "Is P-1 in stock?"}]
COMPLETION = [{"role": "assistant", "content": "", "tool_calls": [CALL]},
              {"role": "tool", "tool_call_id": "c1", "name": "get_product", "content": "{}"},
              {"role": "assistant", "content": "Yes."}]
GOOD = {
    "sft": {"messages": OPENING + COMPLETION, "tools": TOOLS},
    "dpo": {"prompt": OPENING, "chosen": COMPLETION,
            "rejected": [{"role": "assistant", "content": "No idea."}], "tools": TOOLS},
    "kto": {"prompt": OPENING, "completion": COMPLETION, "label": True, "tools": TOOLS},
}


def broken(kind: str, path: tuple[Any, ...], value: Any = None, *, delete: bool = False
           ) -> dict[str, Any]:
    row = copy.deepcopy(GOOD[kind])
    target: Any = row
    for step in path[:-1]:
        target = target[step]
    if delete:
        del target[path[-1]]
    else:
        target[path[-1]] = value
    return row


def test_validate_accepts_the_documented_shapes() -> None:
    for kind, row in GOOD.items():
        assert row_problems(row, kind) == []
        assert validate([row, row], kind) == 2


@pytest.mark.parametrize(("kind", "row", "message"), [
    ("sft", broken("sft", ("tools",), delete=True), "missing field 'tools'"),
    ("sft", broken("sft", ("reward_mode",), "sparse"), "unexpected field 'reward_mode'"),
    ("sft", broken("sft", ("messages", 1, "tool_calls", 0, "function", "arguments"),
                   '{"product_id": "P-1"}'),
     r"messages\[1\]\.tool_calls\[0\]\.function\.arguments: must be a JSON object"),
    ("sft", broken("sft", ("messages", 2, "tool_call_id"), "c9"),
     r"messages\[2\]: tool_call_id 'c9' answers no call"),
    ("sft", broken("sft", ("messages", 2, "name"), "search_products"),
     r"messages\[2\]\.name: 'search_products' is not the name of call 'c1'"),
    ("sft", broken("sft", ("messages", 2), {"role": "assistant", "content": "Done."}),
     r"messages\[2\]: tool call\(s\) c1 of the assistant message before have no tool message"),
    ("sft", broken("sft", ("messages", 0, "role"), "shopper"), r"messages\[0\]: must be a "
     "message with a role"),
    ("sft", broken("sft", ("messages", 3, "content"), ""),
     r"messages\[3\]: an assistant message needs content or tool_calls"),
    ("sft", broken("sft", ("messages", 1, "tool_calls", 0, "type"), "tool"),
     r"tool_calls\[0\]\.type: must be 'function'"),
    ("sft", broken("sft", ("messages", 1, "tool_calls", 0, "function", "arguments"),
                   delete=True), r"function: must have exactly 'name' and 'arguments'"),
    ("sft", broken("sft", ("messages", 3, "weight"), 1.0),
     r"messages\[3\]: unexpected keys for a assistant message: weight"),
    ("sft", {**GOOD["sft"], "messages": [{"role": "user", "content": "hi"},
                                          {"role": "system", "content": "be nice"},
                                          {"role": "assistant", "content": "Hello."}]},
     r"messages\[1\]: a system message may only come first"),
    ("sft", {**GOOD["sft"], "messages": [{"role": "user", "content": "hi"}]},
     "messages: no assistant message"),
    ("sft", broken("sft", ("tools", 0, "function", "parameters"), "object"),
     r"tools\[0\]: must be"),
    ("dpo", broken("dpo", ("chosen",), []), "chosen: must be a non-empty list of messages"),
    ("dpo", broken("dpo", ("rejected", 0, "role"), "user"),
     r"rejected\[0\]: must be an assistant message"),
    ("dpo", broken("dpo", ("rejected",), COMPLETION), "chosen and rejected are the same"),
    ("dpo", broken("dpo", ("prompt",), [{"role": "tool", "tool_call_id": "c1",
                                         "name": "get_product", "content": "{}"}]),
     r"prompt\[0\]: tool_call_id 'c1' answers no call"),
    ("kto", broken("kto", ("label",), "yes"), "label: must be true or false"),
    ("kto", broken("kto", ("completion", 2, "content"), None), r"completion\[2\]\.content: "
     "must be a string"),
    ("kto", broken("kto", ("prompt",), "Is P-1 in stock?"),
     "prompt: must be a non-empty list of messages"),
])
def test_validate_names_what_is_wrong(kind: str, row: dict[str, Any], message: str) -> None:
    problems = row_problems(row, kind)
    assert any(re.search(message, p) for p in problems), problems
    with pytest.raises(ExportError, match=r"not valid \w+ rows: row 2: "):
        validate([GOOD[kind], row], kind)


def test_validate_rejects_unknown_kinds() -> None:
    with pytest.raises(ExportError, match="unknown kind 'ppo'"):
        validate([GOOD["sft"]], "ppo")


# -- reading rollouts -----------------------------------------------------------------------


def test_malformed_rollouts_are_named_by_file_and_line(tmp_path: Path,
                                                       rollout_files: list[Path]) -> None:
    lines = rollout_files[0].read_text(encoding="utf-8").splitlines()
    record = json.loads(lines[1])
    call_at = next(i for i, m in enumerate(record["messages"]) if m.get("tool_calls"))
    record["messages"][call_at]["tool_calls"][0]["function"]["arguments"] = "[1, 2]"
    bad = tmp_path / "bad.jsonl"
    bad.write_text("\n".join([lines[0], json.dumps(record), *lines[2:]]) + "\n",
                   encoding="utf-8")
    with pytest.raises(ExportError, match=rf"bad\.jsonl:2: messages\[{call_at}\]\.tool_calls"
                                          r"\[0\]: tool-call arguments must be a JSON object"):
        load_rollouts([bad])
    bad.write_text(lines[0] + "\n{not json\n", encoding="utf-8")
    with pytest.raises(ExportError, match=r"bad\.jsonl:2: not valid JSON"):
        load_rollouts([bad])
    record = json.loads(lines[0])
    del record["tools"]
    bad.write_text(json.dumps(record) + "\n", encoding="utf-8")
    with pytest.raises(ExportError, match=r"bad\.jsonl:1: not a rollout record: missing tools"):
        load_rollouts([bad])
    with pytest.raises(ExportError, match="no such file"):
        load_rollouts([tmp_path / "missing.jsonl"])


# -- command line ---------------------------------------------------------------------------


def run_cli(*argv: str) -> int:
    parser = argparse.ArgumentParser(prog="shop-episodes")
    add_export_command(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(["export", *argv])
    return int(args.fn(args))


def test_cli_writes_what_the_functions_return(
        tmp_path: Path, rollout_files: list[Path], records: list[dict[str, Any]],
        capsys: pytest.CaptureFixture[str]) -> None:
    files = [str(p) for p in rollout_files]
    expected = {
        "sft": (["--min-reward", "0.5"], export_sft(records, min_reward=0.5)),
        "dpo": (["--margin", "0.5", "--max-pairs-per-group", "2", "--with-metadata"],
                export_dpo(records, margin=0.5, max_pairs_per_group=2, with_metadata=True)),
        "kto": (["--threshold", "0", "--system-prompt", SYSTEM, "--arguments", "json"],
                export_kto(records, threshold=0.0, system_prompt=SYSTEM, arguments="json")),
    }
    for kind, (options, rows) in expected.items():
        out = tmp_path / "data" / f"{kind}.jsonl"
        assert run_cli(kind, *files, "--out", str(out), *options) == 0
        err = capsys.readouterr().err
        assert f"read {len(records)} episodes from 3 path(s)" in err
        assert f"wrote {len(rows)} {kind} rows" in err
        written = read_rows(out)
        assert written == rows
        validate(written, kind, arguments="json" if kind == "kto" else "dict")


def test_cli_errors_exit_2_with_a_message(tmp_path: Path, rollout_files: list[Path],
                                          capsys: pytest.CaptureFixture[str]) -> None:
    out = str(tmp_path / "x.jsonl")
    assert run_cli("sft", str(tmp_path / "none.jsonl"), "--out", out) == 2
    assert "none.jsonl: no such file" in capsys.readouterr().err
    bad = tmp_path / "bad.jsonl"
    bad.write_text("{}\n", encoding="utf-8")
    assert run_cli("kto", str(bad), "--out", out) == 2
    assert "bad.jsonl:1: not a rollout record" in capsys.readouterr().err
    random_file = next(str(p) for p in rollout_files if p.stem == "random")
    assert run_cli("sft", random_file, "--out", out) == 2
    err = capsys.readouterr().err
    assert "error: no sft rows to write (" in err and "failed episodes" in err
    assert run_cli("dpo", *map(str, rollout_files), "--out", out, "--margin", "9") == 2
    assert "tasks without a reward gap of 9" in capsys.readouterr().err
    assert not Path(out).exists()
    with pytest.raises(SystemExit):
        run_cli("dpo", random_file, "--out", out, "--margin", "-1")
    with pytest.raises(SystemExit):
        run_cli("ppo", random_file, "--out", out)


def test_module_documents_every_field() -> None:
    doc = export.__doc__ or ""
    for kind in FIELDS:
        for name in (*FIELDS[kind], *METADATA_FIELDS[kind]):
            assert f"``{name}``" in doc, name


# -- datasets -------------------------------------------------------------------------------


def test_files_round_trip_through_datasets(tmp_path: Path, records: list[dict[str, Any]],
                                           monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HF_DATASETS_OFFLINE", "1")
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    datasets = pytest.importorskip("datasets", minversion="4.7",
                                   reason="needs datasets >= 4.7 (its Json type)")
    exports = {
        "sft": export_sft(records, with_metadata=True),
        "dpo": export_dpo(records, with_metadata=True),
        "kto": export_kto(records, system_prompt=SYSTEM),
    }
    for kind, rows in exports.items():
        path = tmp_path / f"{kind}.jsonl"
        export.write_rows(rows, path)
        loaded = datasets.load_dataset("json", data_files=str(path), split="train",
                                       cache_dir=str(tmp_path / "cache"))
        assert loaded.num_rows == len(rows)
        assert list(loaded.column_names)[:len(FIELDS[kind])] == list(FIELDS[kind])
        back = list(loaded)
        assert back == rows
        validate(back, kind)
