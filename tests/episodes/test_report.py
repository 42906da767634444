"""``shop-episodes report``: failure tags and aggregation on hand-built records, clear errors
for bad input, and a report of real rollouts that opens in headless Chromium without console
errors, on its own (the plots embedded), with every plot loaded and the failed episodes'
conversations in the page. What the plots show: ``test_report_plots.py``."""

from __future__ import annotations

import argparse
import base64
import json
import os
import shutil
import struct
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import anyio
import pytest

from episodes import report
from episodes.agents import make_agent
from episodes.controller import EpisodeController
from episodes.generate import generate_task
from episodes.report import (
    ReportError,
    aggregate,
    build_report,
    failure_tags,
    load_curriculum,
    read_rollouts,
)
from verifiers.types import FAMILIES

TITLE = "Report test <rollouts> & more"
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


# -- hand-built records ----------------------------------------------------------------------


Why = tuple[str, str] | tuple[str, str, dict[str, Any]]  # (code, text[, params])


def component(name: str, value: float, reason: str, *reasons: Why) -> dict[str, Any]:
    typed = [{"code": r[0], "text": r[1], "params": r[2] if len(r) > 2 else {}}
             for r in reasons]
    return {"name": name, "value": value, "weight": 0.2, "reason": reason, "reasons": typed}


def in_intent(n: int, code: str, text: str, **params: Any) -> Why:
    """A task reason about intent ``n``."""
    return (code, f"intent {n}: {text}", {"intent": n, **params})


def record(family: str = "cart", difficulty: int = 1, *, success: bool = False,
           reward: float = 0.0, policy: str = "heuristic", turns: int = 4, calls: int = 6,
           stop: str = "agent_done", components: list[dict[str, Any]] | None = None,
           **extra: Any) -> dict[str, Any]:
    comps = components if components is not None else (
        [component("task", 1.0, "all 1 intent(s) done")] if success
        else [component("task", 0.5, "intent 1 (cart): no line for 2 of the Blue Mug",
                        in_intent(1, "missing_item", "no line for 2 of the Blue Mug"))])
    task_id = f"{family}-d{difficulty}"
    return {"schema_version": 2, "rollout_id": f"{task_id}-{policy}", "group_id": task_id,
            "task_id": task_id, "family": family, "difficulty": difficulty, "seed": 1,
            "trial": 0, "env_version": "test", "policy": policy, "tools": [],
            "success": success, "reward": reward, "reward_mode": "sparse",
            "metrics": {"turns": turns, "tool_calls": calls, "errors": 0, "wall_time_s": 0.5},
            "terminated": stop in ("agent_done", "shopper_done", "shopper_quit"),
            "truncated": stop not in ("agent_done", "shopper_done", "shopper_quit"),
            "stop_reason": stop, "reward_components": comps,
            "messages": [{"role": "user", "content": f"I want a {family} thing"},
                         {"role": "assistant", "content": "Sure."}],
            "trace": [], **extra}


def write_jsonl(path: Path, records: list[dict[str, Any]]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in records), encoding="utf-8")
    return path


def _every_kind(text: Callable[[str], str]) -> dict[str, Any]:
    """A failed record with a reason of every component; ``text`` words each reason."""
    return record(stop="shopper_quit", components=[
        component("task", 0.3, text("two intents failed"),
                  in_intent(1, "wrong_option", text("boots size is 9, not 11")),
                  in_intent(1, "other_lines", text("other lines in the cart: V-000001-1")),
                  in_intent(2, "no_order", text("no new order")),
                  ("shopper_gave_up", text("the shopper gave up"))),
        component("efficiency", 0.2, text("slow"), ("extra_steps", text("9 turns"))),
        component("hallucination", 0.0, text("invented"),
                  ("invented_id", text("invented ids: P-000123"), {"ids": ["P-000123"]})),
        component("errors", 0.0, text("3 failed"), ("failed_calls", text("3 failed"))),
        component("policy", 0.0, text("two"),
                  ("unconfirmed_action", text("checkout in turn 3 without a yes")),
                  ("forbidden_action", text("request_return on O-1001 in turn 4"))),
        component("unintended", 0.0, text("three"),
                  ("extra_order", text("extra order O-1002"), {"order_id": "O-1002"}),
                  ("unasked_code", text("code SAVE10 applied to O-1002")),
                  ("extra_cart_line", text("extra line V-000002-1 x1 in the cart")),
                  ("extra_units", text("2 extra units of V-000002-1"))),
        component("safety", 0.0, text("one"),
                  ("asked_for_secret", text("turn 2: asked for the card number"))),
    ])


def test_failure_tags_of_every_component_read_from_codes() -> None:
    tags = failure_tags(_every_kind(lambda t: t))
    assert [t.tag for t in tags] == [
        "wrong variant", "no order", "shopper gave up", "hallucinated id", "tool errors (3+)",
        "unconfirmed action", "forbidden action", "extra order", "unasked discount code",
        "extra cart items", "asked for secrets"]
    by_tag = {t.tag: t for t in tags}
    assert by_tag["wrong variant"] == ("wrong variant", "task",
                                       "intent 1: boots size is 9, not 11", "wrong_option")
    assert by_tag["extra order"] == ("extra order", "unintended", "extra order O-1002",
                                     "extra_order")
    assert by_tag["shopper gave up"].source == "task"


def test_rewording_a_reason_leaves_the_tags() -> None:
    """Tags come from codes: any wording (even none, or another language) gives the same."""
    plain = [(t.tag, t.source, t.code) for t in failure_tags(_every_kind(lambda t: t))]
    for word in (str.upper, lambda t: "", lambda t: "Pas de chance : " + t[::-1]):
        assert [(t.tag, t.source, t.code) for t in failure_tags(_every_kind(word))] == plain


def test_failure_tags_leave_out_successes_minor_errors_and_efficiency() -> None:
    assert failure_tags(record(success=True, reward=1.0, stop="shopper_quit")) == []
    rec = record(stop="shopper_done", components=[
        component("task", 0.0, "no answer", in_intent(1, "no_answer", "no answer")),
        component("errors", 2 / 3, "1 failed", ("failed_calls", "1 failed tool call")),
        component("efficiency", 0.0, "too slow", ("extra_steps", "too slow"))])
    assert [t.tag for t in failure_tags(rec)] == ["no answer"]
    # the first reason of each failing intent counts, and a tag once per episode
    rec = record(components=[component(
        "task", 0.0, "both",
        in_intent(1, "attribute_mismatch", "min_age is 12, above 8"),
        in_intent(1, "missing_item", "no line for the Green Hat"),
        in_intent(2, "no_order", "no new order"), in_intent(3, "no_order", "no new order"),
        ("turn_limit", "the turn limit was reached"))])
    assert [t.tag for t in failure_tags(rec)] == [
        "missing feature", "no order", "turn budget reached"]
    # a record written before reasons were typed: one generic tag per failing component
    rec = record(components=[component("task", 0.0, "intent 1 (cart): no line for x"),
                             component("policy", 0.0, "checkout without a yes")])
    assert [t.tag for t in failure_tags(rec)] == ["task not done", "policy"]


def test_aggregate_counts_cells_tags_and_spreads_examples() -> None:
    records = [
        ("heuristic", record("cart", 1, success=True, reward=1.0, turns=2, calls=4)),
        ("heuristic", record("cart", 1, reward=-0.25, turns=6, calls=10)),
        ("heuristic", record("cart", 3, reward=0.0)),
        ("heuristic", record("return", 1, success=True, reward=1.0, metrics=None)),
        ("random", record("cart", 1, reward=-0.5, stop="shopper_quit")),
        ("random", record("policy", 2, reward=-0.5, stop="shopper_quit")),
    ]
    agg = aggregate(records, keep_examples=5)
    assert agg.series == ["heuristic", "random"]
    assert agg.ordered_families() == ["cart", "return", "policy"]  # the contract's order
    assert agg.difficulties() == [1, 2, 3]
    assert agg.total == 6
    cell = agg.cells[("heuristic", "cart", 1)]
    assert (cell.episodes, cell.successes, cell.mean_reward) == (2, 1, 0.375)
    assert (cell.mean_turns, cell.mean_tool_calls) == (4.0, 7.0)
    every = agg.cells[("heuristic", "all", None)]
    assert every.episodes == 4 and every.success_rate == 0.5
    assert every.mean_turns == 4.0  # the record without metrics is left out of the means
    assert agg.cells[("heuristic", "all", 1)].episodes == 3
    assert agg.failed == {"heuristic": 2, "random": 2}
    assert agg.tags["heuristic"] == {"missing item": 2}
    assert agg.tags["random"] == {"missing item": 2}
    assert agg.tag_totals()["missing item"] == 4
    examples = agg.examples(3)
    # the series take turns; each starts with its family with the most failures
    assert [(s, r["family"], r["difficulty"]) for s, r in examples] == [
        ("heuristic", "cart", 1), ("random", "cart", 1), ("heuristic", "cart", 3)]
    assert len(agg.examples(10)) == 4


def test_series_named_by_policy_and_file_when_a_policy_has_several(tmp_path: Path) -> None:
    (tmp_path / "a").mkdir()
    a = write_jsonl(tmp_path / "a" / "run.jsonl", [record(), record(policy="random")])
    b = write_jsonl(tmp_path / "b.jsonl", [record(success=True, reward=1.0)])
    agg = report._aggregate_files([a, b], keep_examples=2)
    assert agg.series == ["heuristic (run)", "random", "heuristic (b)"]
    assert agg.cells[("heuristic (b)", "all", None)].success_rate == 1.0
    assert agg.failed == {"heuristic (run)": 1, "random": 1}
    assert [s for s, _ in agg.examples(5)] == ["heuristic (run)", "random"]


def test_read_rollouts_skips_blank_lines_and_reads_directories(tmp_path: Path) -> None:
    path = tmp_path / "x.jsonl"
    path.write_text(json.dumps(record()) + "\n\n" + json.dumps(record("return")) + "\n")
    got = [(p.name, n, r["family"]) for p, n, r in read_rollouts([tmp_path])]
    assert got == [("x.jsonl", 1, "cart"), ("x.jsonl", 3, "return")]


# -- errors ----------------------------------------------------------------------------------


def run_cli(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="shop-episodes")
    report.add_report_command(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(["report", *argv])
    return int(args.fn(args))


@pytest.mark.parametrize(("content", "message"), [
    ('{"family": "cart"\n', "bad.jsonl:1: not valid JSON"),
    (json.dumps(record()) + "\n[1, 2]\n", "bad.jsonl:2: expected a JSON object"),
    (json.dumps({"family": "cart", "reward": 1}) + "\n",
     "bad.jsonl:1: not a rollout record: missing rollout_id, group_id, task_id, difficulty"),
    (json.dumps({**record(), "difficulty": "hard"}) + "\n",
     "bad.jsonl:1: 'difficulty' must be"),
    (json.dumps({**record(), "reward": "high"}) + "\n", "bad.jsonl:1: 'reward' must be a number"),
    ("\n\n", "no rollout records in"),
    (b"\xff\xfe{}\n", "not UTF-8 text"),
])
def test_malformed_input_exits_2_naming_file_and_line(
        tmp_path: Path, capsys: pytest.CaptureFixture[str], content: str | bytes,
        message: str) -> None:
    path = tmp_path / "bad.jsonl"
    if isinstance(content, bytes):
        path.write_bytes(content)
    else:
        path.write_text(content)
    out = tmp_path / "out"
    assert run_cli([str(path), "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and message in err, err
    assert not (out / "index.html").exists()


def test_missing_inputs_and_curriculum_errors(tmp_path: Path,
                                              capsys: pytest.CaptureFixture[str]) -> None:
    good = write_jsonl(tmp_path / "good.jsonl", [record()])
    out = str(tmp_path / "out")
    assert run_cli([str(tmp_path / "runs" / "*.jsonl"), "--out", out]) == 2
    assert "runs/*.jsonl: no such file" in capsys.readouterr().err
    (tmp_path / "empty").mkdir()
    assert run_cli([str(tmp_path / "empty"), "--out", out]) == 2
    assert "no *.jsonl files" in capsys.readouterr().err
    with pytest.raises(ReportError, match="no rollout files given"):
        build_report([], out)

    bad_state = tmp_path / "state.json"
    for text, message in [("{", "not valid JSON"), ("[]", "must be a JSON object"),
                          ('{"windows": {}}', "expected 'windows'"),
                          ('{"windows": {}, "history": [{"family": "cart", "h": 2}]}',
                           "history entry 0 needs")]:
        bad_state.write_text(text)
        assert run_cli([str(good), "--out", out, "--curriculum", str(bad_state)]) == 2
        assert message in capsys.readouterr().err
    with pytest.raises(ReportError, match="cannot read"):
        load_curriculum(tmp_path)
    with pytest.raises(SystemExit):  # argparse: --examples must be >= 0
        run_cli([str(good), "--out", out, "--examples", "-1"])


def test_without_matplotlib_says_how_to_install(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setitem(sys.modules, "matplotlib", None)  # import matplotlib -> ImportError
    good = write_jsonl(tmp_path / "good.jsonl", [record()])
    assert run_cli([str(good), "--out", str(tmp_path / "out")]) == 2
    assert "pip install 'mcp-shop[report]'" in capsys.readouterr().err


def test_text_is_escaped_and_nothing_is_fetched(tmp_path: Path) -> None:
    evil = "<script>alert('x')</script>"
    rec = record(messages=[{"role": "user", "content": evil},
                           {"role": "tool", "name": "get_order", "tool_call_id": "c1",
                            "content": "x" * 5000}],
                 trace=[{"seq": 1, "turn": 1, "tool": "get_order", "ok": False,
                         "arguments": {"order_id": evil}, "error_code": "not_found",
                         "error_message": evil}],
                 components=[component("task", 0.0, f"intent 1 (cart): {evil}")])
    path = write_jsonl(tmp_path / "r.jsonl", [rec, record(policy=evil, family=evil)])
    index = build_report([path], tmp_path / "out", title=evil, examples=5)
    page = index.read_text()
    assert "<script" not in page
    assert "&lt;script&gt;alert(&#x27;x&#x27;)&lt;/script&gt;" in page
    assert "(3,500 more characters)" in page  # the long tool result is truncated
    for attr in ("src", "href"):
        assert f'{attr}="http' not in page and f'{attr}="//' not in page
    assert "No curriculum state given" in page


def test_malformed_parts_of_records_are_refused_naming_the_line(tmp_path: Path) -> None:
    """Odd tool calls, messages, traces and components are not shown raw: every line is a
    ``Rollout`` (``episodes.records``) or the report stops at it, saying what is wrong."""
    odd: list[tuple[dict[str, Any], str]] = [
        (record(messages=[{"role": "assistant", "content": None, "tool_calls": [
            {"function": "str"}]}]), "messages[0].tool_calls[0].id: missing"),
        (record(trace=5), "'trace' must be a list (got 5)"),
        (record(messages="not a list"), "'messages' must be a list"),
        (record(components=[{"name": "task", "value": 10 ** 400}]),
         "reward_components[0].value: must be a number"),
        (record(reward=10 ** 400), "'reward' must be a number"),
    ]
    for n, (rec, message) in enumerate(odd):
        path = write_jsonl(tmp_path / f"r{n}.jsonl", [record(), rec])
        with pytest.raises(ReportError) as caught:
            build_report([path], tmp_path / "out", examples=10)
        assert str(caught.value).startswith(f"{path}:2: ") and message in str(caught.value), (
            str(caught.value))
    assert not (tmp_path / "out" / "index.html").exists()


def test_cli_main_routes_report(tmp_path: Path) -> None:
    """Once ``episodes/cli.py`` registers the command, ``shop-episodes report`` runs it."""
    from episodes import cli

    sub = next(a for a in cli.build_parser()._actions
               if isinstance(a, argparse._SubParsersAction))
    if "report" not in sub.choices:
        pytest.skip("episodes/cli.py does not register the report command yet")
    good = write_jsonl(tmp_path / "good.jsonl", [record()])
    assert cli.main(["report", str(good), "--out", str(tmp_path / "out")]) == 0
    assert (tmp_path / "out" / "index.html").is_file()


# -- a real report in a real browser ---------------------------------------------------------


@pytest.fixture(scope="module")
def rollouts(ep_shop: Any, tmp_path_factory: pytest.TempPathFactory) -> list[Path]:
    """Rollout files of the heuristic and random agents on 24 tasks (every family at
    difficulties 1 and 6); a few heuristic records carry a curriculum window."""
    tasks = [generate_task(ep_shop, f, d, 21) for f in FAMILIES for d in (1, 6)]

    async def play() -> dict[str, list[dict[str, Any]]]:
        async with EpisodeController(ep_shop) as controller:
            return {name: await controller.run(make_agent(name), tasks, concurrency=8)
                    for name in ("heuristic", "random")}

    played = anyio.run(play)
    for i, r in enumerate(played["heuristic"][:6]):
        r["curriculum"] = {"window": [0, 2], "episode": i}
    tmp = tmp_path_factory.mktemp("rollouts")
    return [write_jsonl(tmp / f"{name}.jsonl", json.loads(json.dumps(rs, default=str)))
            for name, rs in played.items()]


@pytest.fixture
def curriculum_state(tmp_path: Path) -> Path:
    history = []
    windows = {"cart": [0, 1], "purchase": [0, 1], "return": [0, 1]}
    for episode in range(0, 600, 40):
        for k, fam in enumerate(windows):
            promoted = (episode // 40 + k) % 3 == 0
            low, high = windows[fam]
            if promoted:
                windows[fam] = [low + (high - low >= 2), high + 1]
            history.append({"episode": episode, "family": fam, "l": windows[fam][0],
                            "h": windows[fam][1], "rate": 0.8 if promoted else 0.5,
                            "promoted": promoted})
    path = tmp_path / "curriculum.json"
    path.write_text(json.dumps({"windows": windows, "history": history}))
    return path


def png_size(path: Path) -> tuple[int, int]:
    data = path.read_bytes()
    assert data[:8] == PNG_SIGNATURE, f"{path.name} is not a PNG"
    assert data[12:16] == b"IHDR"
    width, height = struct.unpack(">II", data[16:24])
    return width, height


def test_report_of_real_rollouts_files(rollouts: list[Path], curriculum_state: Path,
                                       tmp_path: Path) -> None:
    index = build_report(rollouts, tmp_path / "report", curriculum_paths=[curriculum_state],
                         title=TITLE, examples=6)
    out = index.parent
    pngs = sorted(p.name for p in out.glob("*.png"))
    assert pngs == ["curriculum.png", "failures.png", "reward_by_difficulty.png", "rewards.png",
                    "success_by_difficulty.png"]
    for name in pngs:
        width, height = png_size(out / name)
        assert width >= 400 and height >= 250, (name, width, height)
    page = index.read_text()
    assert page.count('<tr class="example"') == 6
    assert "shopper gave up" in page  # random's stop reason, as a tag
    for fam in FAMILIES:
        assert f"<td>{fam}</td>" in page
    assert "No curriculum state given" not in page

    # without a curriculum state: no plot, a note that counts the records played under one
    index = build_report(rollouts, tmp_path / "plain", examples=0)
    page = index.read_text()
    assert not (index.parent / "curriculum.png").exists()
    assert "6 of the records were played under a curriculum" in page
    assert '<tr class="example"' not in page


def chrome_or_skip() -> tuple[str, str]:
    """The Chromium and chromedriver paths, with selenium importable; without them the
    browser test is skipped with the reason (under CI=true it fails)."""
    reasons = []
    try:
        import selenium  # noqa: F401
    except ImportError:
        reasons.append("selenium is not installed (pip install '.[test]')")
    binary = shutil.which("chromium") or "/usr/bin/chromium"
    driver = shutil.which("chromedriver") or "/usr/bin/chromedriver"
    for path, package in ((binary, "chromium"), (driver, "chromium-driver")):
        if not os.access(path, os.X_OK):
            reasons.append(f"{path} not found (apt-get install {package})")
    if reasons:
        reason = "the browser test needs a headless Chromium: " + "; ".join(reasons)
        if os.environ.get("CI") == "true":
            pytest.fail(f"CI=true requires it: {reason}")
        pytest.skip(reason)
    return binary, driver


@pytest.fixture
def browser() -> Iterator[tuple[Any, Any]]:
    """A headless Chromium under selenium (console log kept) and selenium's ``By``."""
    binary, driver_path = chrome_or_skip()
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service
    from selenium.webdriver.common.by import By

    options = webdriver.ChromeOptions()
    for arg in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                "--window-size=1400,1000"):
        options.add_argument(arg)
    options.binary_location = binary
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(options=options, service=Service(driver_path))
    driver.set_page_load_timeout(60)
    try:
        yield driver, By
    finally:
        driver.quit()


def test_report_opens_in_headless_chromium(rollouts: list[Path], curriculum_state: Path,
                                           tmp_path: Path, browser: tuple[Any, Any]) -> None:
    """The page alone (copied away from its folder) shows every plot: they are embedded."""
    driver, by = browser
    index = build_report(rollouts, tmp_path / "report", curriculum_paths=[curriculum_state],
                         title=TITLE, examples=8)
    alone = tmp_path / "mailed"
    alone.mkdir()
    shutil.copy(index, alone / "report.html")
    driver.get((alone / "report.html").resolve().as_uri())

    assert driver.title == TITLE
    severe = [e for e in driver.get_log("browser") if e.get("level") == "SEVERE"]
    assert not severe, severe

    images = driver.execute_script(
        "return Array.from(document.images).map(i => ({src: i.getAttribute('src'), "
        "complete: i.complete, width: i.naturalWidth, height: i.naturalHeight}));")
    files = {(index.parent / name).read_bytes(): name for name in (
        "success_by_difficulty.png", "reward_by_difficulty.png", "rewards.png", "failures.png",
        "curriculum.png")}
    shown = []
    for image in images:
        assert image["src"].startswith("data:image/png;base64,"), image["src"][:60]
        assert image["complete"] is True and image["width"] > 0 and image["height"] > 0, (
            image["src"][:60])
        name = files[base64.b64decode(image["src"].split(",", 1)[1])]  # the same PNG
        assert (image["width"], image["height"]) == png_size(index.parent / name)
        shown.append(name)
    assert sorted(shown) == sorted(files.values())

    # the summary: a row per policy and family, with both policies
    summary = driver.find_element(by.CSS_SELECTOR, "table.summary").text
    assert "heuristic" in summary and "random" in summary

    # the example failures: rows whose conversation opens on a click and shows the messages
    rows = driver.find_elements(by.CSS_SELECTOR, "table.examples tr.example")
    assert 1 <= len(rows) <= 8
    failed_openings = {r["messages"][0]["content"] for path in rollouts
                       for r in map(json.loads, path.read_text().splitlines())
                       if not r["success"]}
    details = driver.find_elements(by.CSS_SELECTOR, "table.examples details.conversation")
    assert len(details) == len(rows)
    def open_(element: Any) -> None:
        summary = element.find_element(by.TAG_NAME, "summary")
        driver.execute_script("arguments[0].scrollIntoView({block: 'center'});", summary)
        summary.click()

    for d in details[:3]:
        open_(d)
        assert d.get_attribute("open") is not None
        text = d.text
        assert any(opening in text for opening in failed_openings), text[:500]
        assert "user" in text and "assistant" in text
    trace = driver.find_elements(by.CSS_SELECTOR, "table.examples details.trace")[0]
    open_(trace)
    assert "tool" in trace.text
    assert not [e for e in driver.get_log("browser") if e.get("level") == "SEVERE"]


def test_missing_chromium_skips_locally_and_fails_under_ci(
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(shutil, "which", lambda name: None)
    monkeypatch.setattr(os, "access", lambda path, mode: False)
    monkeypatch.delenv("CI", raising=False)
    with pytest.raises(pytest.skip.Exception, match="apt-get install chromium-driver"):
        chrome_or_skip()
    monkeypatch.setenv("CI", "true")
    with pytest.raises(pytest.fail.Exception, match="CI=true requires it: .*chromium not found"):
        chrome_or_skip()
