"""The curriculum's rules on synthetic outcome streams (no shop): promotion exactly when the rate
at h reaches the threshold after N counted episodes, episodes below h do not count, counters
reset after every check, l follows h - width + 1, and a saved and resumed curriculum draws
exactly what an uninterrupted one draws. Then ``shop-episodes run --curriculum`` on a small
catalog: the state file is written, a resumed run continues it, and the windows are printed."""

from __future__ import annotations

import json
import random
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from rich.console import Console

from episodes import cli
from episodes.curriculum import (
    DEFAULT_COLLECTIONS,
    Curriculum,
    CurriculumDraw,
    CurriculumError,
    default_collections,
)
from mcp_shop import Shop
from tests.conftest import TEST_SEED, TEST_SIZE
from verifiers.types import FAMILIES


def feed(cur: Curriculum, family: str, outcomes: list[bool], difficulty: int | None = None,
         ) -> list[bool]:
    """Report ``outcomes`` for ``family`` at ``difficulty`` (default: its current h)."""
    d = cur.window(family)[1] if difficulty is None else difficulty
    return [cur.report(family, d, ok) for ok in outcomes]


# -- the rules --------------------------------------------------------------------------------


def test_every_family_starts_at_zero() -> None:
    cur = Curriculum(["discovery", "cart"])
    assert cur.windows == {"discovery": (0, 0), "cart": (0, 0)}
    draws = [cur.next() for _ in range(50)]
    assert {d.difficulty for d in draws} == {0}
    assert [d.episode for d in draws] == list(range(50))
    assert len({d.seed for d in draws}) == 50  # every draw is a distinct task
    assert all(d.window == (0, 0) for d in draws)


def test_promotion_exactly_after_n_counted_episodes() -> None:
    cur = Curriculum(["cart"], check_every=32)
    assert feed(cur, "cart", [True] * 31) == [False] * 31
    assert cur.window("cart") == (0, 0) and cur.counters("cart") == (31, 31)
    assert cur.history == []
    assert cur.report("cart", 0, True) is True  # the 32nd counted episode: checked, promoted
    assert cur.window("cart") == (0, 1) and cur.counters("cart") == (0, 0)
    assert cur.history == [{"episode": 32, "family": "cart", "l": 0, "h": 1, "rate": 1.0,
                            "promoted": True}]


@pytest.mark.parametrize(("successes", "promoted"), [(9, True), (10, True), (8, False)])
def test_threshold_is_inclusive(successes: int, promoted: bool) -> None:
    """9 of 10 is exactly 0.9: it promotes; 8 of 10 does not."""
    cur = Curriculum(["cart"], check_every=10, threshold=0.9)
    results = feed(cur, "cart", [True] * successes + [False] * (10 - successes))
    assert results == [False] * 9 + [promoted]
    assert cur.window("cart") == ((0, 1) if promoted else (0, 0))
    assert cur.history[-1]["rate"] == successes / 10


def test_default_threshold_with_32() -> None:
    """29/32 = 0.906 promotes, 28/32 = 0.875 does not."""
    for ok, promoted in ((29, True), (28, False)):
        cur = Curriculum(["policy"])
        feed(cur, "policy", [False] * (32 - ok) + [True] * ok)
        assert cur.window("policy") == ((0, 1) if promoted else (0, 0))


def test_episodes_below_h_do_not_count() -> None:
    cur = Curriculum(["return"], check_every=4)
    feed(cur, "return", [True] * 4)
    assert cur.window("return") == (0, 1)
    # Failures at d = 0 < h = 1 change nothing, however many.
    assert feed(cur, "return", [False] * 100, difficulty=0) == [False] * 100
    assert cur.counters("return") == (0, 0) and len(cur.history) == 1
    assert cur.reported == 104  # but they are reported episodes
    feed(cur, "return", [True] * 3)
    assert cur.counters("return") == (3, 3)
    feed(cur, "return", [False, False], difficulty=0)
    assert cur.report("return", 1, True) is True  # the 4th at h, the failures below ignored
    assert cur.window("return") == (0, 2)


def test_an_outcome_drawn_before_a_promotion_does_not_count_after_it() -> None:
    """Outcomes reported late (the window moved while the episode ran) are at a stale h."""
    cur = Curriculum(["cart"], check_every=2)
    early = cur.next()
    assert early.difficulty == 0
    feed(cur, "cart", [True, True])
    assert cur.window("cart") == (0, 1)
    assert cur.report(early.family, early.difficulty, False) is False
    assert cur.counters("cart") == (0, 0)


def test_counters_reset_after_a_failed_check() -> None:
    cur = Curriculum(["exchange"], check_every=10, threshold=0.9)
    feed(cur, "exchange", [True] * 5 + [False] * 5)
    assert cur.window("exchange") == (0, 0) and cur.counters("exchange") == (0, 0)
    assert cur.history == [{"episode": 10, "family": "exchange", "l": 0, "h": 0, "rate": 0.5,
                            "promoted": False}]
    # The failed check's outcomes are gone: 9 successes more do not reach a check ...
    feed(cur, "exchange", [True] * 9)
    assert cur.window("exchange") == (0, 0) and cur.counters("exchange") == (9, 9)
    # ... and the 10th makes a fresh check on these ten alone.
    assert cur.report("exchange", 0, True) is True
    assert cur.history[-1] == {"episode": 20, "family": "exchange", "l": 0, "h": 1,
                               "rate": 1.0, "promoted": True}


def test_counters_reset_after_a_passed_check() -> None:
    cur = Curriculum(["cart"], check_every=3)
    feed(cur, "cart", [True] * 3)
    feed(cur, "cart", [False, True])
    assert cur.counters("cart") == (2, 1)


@pytest.mark.parametrize(("width", "expected"), [
    (4, [(0, 1), (0, 2), (0, 3), (1, 4), (2, 5), (3, 6)]),
    (2, [(0, 1), (1, 2), (2, 3), (3, 4), (4, 5), (5, 6)]),
    (1, [(1, 1), (2, 2), (3, 3), (4, 4), (5, 5), (6, 6)]),
])
def test_low_follows_h_minus_width_plus_one(width: int, expected: list[tuple[int, int]]) -> None:
    cur = Curriculum(["bundle"], check_every=2, width=width)
    windows = []
    for _ in expected:
        feed(cur, "bundle", [True, True])
        windows.append(cur.window("bundle"))
    assert windows == expected
    assert [(h["l"], h["h"]) for h in cur.history] == expected


def test_h_stops_at_max_difficulty() -> None:
    cur = Curriculum(["cancel"], check_every=1, max_difficulty=2)
    assert [cur.report("cancel", cur.window("cancel")[1], True) for _ in range(4)] == [
        True, True, False, False]
    assert cur.window("cancel") == (0, 2)
    assert [h["promoted"] for h in cur.history] == [True, True, False, False]


def test_families_are_independent() -> None:
    cur = Curriculum(["discovery", "cart"], check_every=2)
    feed(cur, "discovery", [True, True])
    feed(cur, "cart", [True])
    assert cur.windows == {"discovery": (0, 1), "cart": (0, 0)}
    assert cur.counters("cart") == (1, 1)


def policy_outcome(draw: CurriculumDraw) -> bool:
    """A synthetic policy: deterministic per task, worse as the difficulty rises."""
    return random.Random(draw.seed * 31 + draw.difficulty).random() < 1.02 - 0.06 * draw.difficulty


def test_rules_hold_on_a_long_stream() -> None:
    """Over a long synthetic run: d always in the window, 0 <= l <= h, h - l < width, every
    promotion is +1 with l = max(l, h - width + 1), and every check follows N counted
    episodes at h with the rate it reports."""
    cur = Curriculum(check_every=8, width=3, seed=5)
    at_h: dict[str, list[bool]] = {f: [] for f in cur.families}
    for _ in range(4000):
        draw = cur.next()
        low, high = cur.window(draw.family)
        assert low <= draw.difficulty <= high and draw.window == (low, high)
        ok = policy_outcome(draw)
        if draw.difficulty == high:
            at_h[draw.family].append(ok)
        checks = len(cur.history)
        promoted = cur.report(draw.family, draw.difficulty, ok)
        new_low, new_high = cur.window(draw.family)
        assert 0 <= new_low <= new_high and new_high - new_low < 3
        if len(cur.history) > checks:
            window = at_h[draw.family]
            assert len(window) == 8
            assert cur.history[-1]["rate"] == sum(window) / 8
            assert promoted == (sum(window) / 8 >= 0.9)
            window.clear()
        if promoted:
            assert new_high == high + 1 and new_low == max(low, new_high - 3 + 1)
        else:
            assert (new_low, new_high) == (low, high)
    assert sum(h["promoted"] for h in cur.history) >= 20
    assert any(not h["promoted"] for h in cur.history)
    assert max(high for _, high in cur.windows.values()) >= 3


def test_difficulty_is_uniform_in_the_window() -> None:
    cur = Curriculum(["cart"], check_every=1, width=4, seed=3)
    for _ in range(5):
        feed(cur, "cart", [True])
    assert cur.window("cart") == (2, 5)
    counts = Counter(cur.next().difficulty for _ in range(4000))
    assert set(counts) == {2, 3, 4, 5}
    assert all(900 < c < 1100 for c in counts.values()), counts


def test_collections_are_chosen_uniformly() -> None:
    """Collections [a] and [a, b]: a collection uniformly, then a family in it, so a is drawn
    3/4 of the time."""
    cur = Curriculum(["discovery", "cart"], collections=[["discovery"], ["discovery", "cart"]],
                     seed=1)
    counts = Counter(cur.next().family for _ in range(8000))
    assert 0.72 < counts["discovery"] / 8000 < 0.78, counts


def test_default_collections_are_nested() -> None:
    cols = default_collections(FAMILIES)
    assert cols[0] == ["discovery"] and set(cols[-1]) == set(FAMILIES)
    for smaller, larger in zip(cols, cols[1:], strict=False):
        assert set(smaller) < set(larger)
    assert [set(c) for c in cols] == [set(c) for c in DEFAULT_COLLECTIONS]
    # Restricted to some families: empty and repeated collections drop out.
    assert default_collections(["purchase", "discovery"]) == [
        ["discovery"], ["purchase", "discovery"]]
    assert default_collections(["multi"]) == [["multi"]]
    assert Curriculum(["cart", "return"]).collections == (("cart",), ("cart", "return"))


# -- saving and resuming ----------------------------------------------------------------------


def play(cur: Curriculum, episodes: int) -> list[tuple[str, int, int, int]]:
    out = []
    for _ in range(episodes):
        draw = cur.next()
        cur.report(draw.family, draw.difficulty, policy_outcome(draw))
        out.append((draw.family, draw.difficulty, draw.seed, draw.episode))
    return out


def test_save_and_resume_draw_what_an_uninterrupted_run_draws(tmp_path: Path) -> None:
    options: dict[str, Any] = {"check_every": 6, "width": 3, "seed": 42}
    straight = Curriculum(**options)
    expected = play(straight, 3000)
    assert sum(h["promoted"] for h in straight.history) >= 10

    path = tmp_path / "state.json"
    resumed = Curriculum(**options)
    got = play(resumed, 1234)
    resumed.save(path)
    for chunk in (500, 766, 500):  # resume several times, anywhere (not only at checks)
        resumed = Curriculum.load(path)
        got += play(resumed, chunk)
        resumed.save()  # to the file it was loaded from
    assert got == expected
    assert resumed.state == straight.state
    assert resumed.history == straight.history and resumed.windows == straight.windows


def test_the_state_file_is_written_after_every_check(tmp_path: Path) -> None:
    path = tmp_path / "deep" / "cur.json"
    cur = Curriculum(["cart", "purchase"], check_every=3, seed=9, path=path)
    states = []
    for _ in range(200):
        draw = cur.next()
        checks = len(cur.history)
        cur.report(draw.family, draw.difficulty, policy_outcome(draw))
        if len(cur.history) > checks:
            assert json.loads(path.read_text()) == cur.state  # saved at the check
            states.append(cur.state)
        elif states:
            assert json.loads(path.read_text()) == states[-1]  # and only then
    assert len(states) > 10
    assert sorted(p.name for p in path.parent.iterdir()) == ["cur.json"]  # no temp files left
    # Resuming from the file written at the last check continues exactly.
    resumed = Curriculum.load(path)
    assert resumed.state == states[-1] and resumed.path == path


def test_state_is_plain_json() -> None:
    cur = Curriculum(["cart"], check_every=1)
    feed(cur, "cart", [True, False])
    state = cur.state
    assert json.loads(json.dumps(state)) == state
    assert state["windows"] == {"cart": {"l": 0, "h": 1, "counted": 0, "successes": 0}}
    assert state["config"]["check_every"] == 1 and state["reported"] == 2
    assert Curriculum.from_state(state).state == state


def test_open_starts_then_resumes(tmp_path: Path) -> None:
    path = tmp_path / "c.json"
    cur = Curriculum.open(path, ["discovery", "cart"], check_every=2, seed=4)
    assert not path.exists()  # nothing is written before a check or a save
    play(cur, 40)
    cur.save()
    again = Curriculum.open(path)  # options left out take the saved ones
    assert again.state == cur.state
    assert Curriculum.open(path, ["discovery", "cart"], check_every=2).state == cur.state
    with pytest.raises(CurriculumError, match="started with check_every = 2, not 3"):
        Curriculum.open(path, check_every=3)
    with pytest.raises(CurriculumError, match="families"):
        Curriculum.open(path, ["discovery"])


def valid_state() -> dict[str, Any]:
    cur = Curriculum(["cart", "return"], check_every=4)
    play(cur, 20)
    return cur.state


def broken(change: str) -> Any:
    state = valid_state()
    if change == "format":
        del state["format"]
    elif change == "version":
        state["version"] = 99
    elif change == "missing":
        del state["windows"]
    elif change == "type":
        state["drawn"] = "many"
    elif change == "extra":
        state["surprise"] = 1
    elif change == "window":
        state["windows"]["cart"].update(l=3, h=1)
    elif change == "counters":
        state["windows"]["cart"].update(counted=4, successes=0)
    elif change == "families":
        del state["windows"]["return"]
    elif change == "unknown":
        state["config"]["families"] = ["cart", "teleport"]
    elif change == "rng":
        state["rng"]["state"] = "zz"
    elif change == "list":
        return [state]
    return state


@pytest.mark.parametrize(("change", "message"), [
    ("format", "not a curriculum state file"),
    ("version", "state version 99 is not supported"),
    ("missing", "windows: Field required"),
    ("type", "drawn"),
    ("extra", "surprise"),
    ("window", "window of 'cart' is [3, 1]"),
    ("counters", "counters of 'cart'"),
    ("families", "do not match the families"),
    ("unknown", "unknown family 'teleport'"),
    ("rng", "bad random generator state"),
    ("list", "not a curriculum state file"),
])
def test_malformed_states_are_clear_errors(change: str, message: str, tmp_path: Path) -> None:
    path = tmp_path / "bad.json"
    path.write_text(json.dumps(broken(change)))
    with pytest.raises(CurriculumError) as info:
        Curriculum.load(path)
    assert str(info.value).startswith(f"{path}: ")
    assert message in str(info.value)


def test_unreadable_state_files(tmp_path: Path) -> None:
    with pytest.raises(CurriculumError, match="no such curriculum state file"):
        Curriculum.load(tmp_path / "none.json")
    (tmp_path / "half.json").write_text('{"format": ')
    with pytest.raises(CurriculumError, match="not valid JSON"):
        Curriculum.load(tmp_path / "half.json")


@pytest.mark.parametrize(("kwargs", "message"), [
    ({"families": []}, "at least one family"),
    ({"families": ["cart", "cart"]}, "families repeat"),
    ({"families": ["shopping"]}, "unknown family 'shopping'"),
    ({"collections": [["cart"], []]}, "at least one family"),
    ({"collections": [["teleport"]]}, "'teleport' is not one of"),
    ({"check_every": 0}, "check_every"),
    ({"threshold": 1.5}, "threshold"),
    ({"width": 0}, "width"),
    ({"max_difficulty": 21}, "max_difficulty"),
    ({"seed": -1}, "seed"),
])
def test_bad_settings(kwargs: dict[str, Any], message: str) -> None:
    kwargs.setdefault("families", ["cart"])
    with pytest.raises(CurriculumError, match=message):
        Curriculum(**kwargs)


def test_reporting_an_unknown_family() -> None:
    with pytest.raises(CurriculumError, match="'return' is not in this curriculum"):
        Curriculum(["cart"]).report("return", 0, True)
    with pytest.raises(CurriculumError, match="no path"):
        Curriculum(["cart"]).save()


# -- the CLI ----------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def shop_args(tmp_path_factory: pytest.TempPathFactory) -> list[str]:
    url = f"sqlite:///{tmp_path_factory.mktemp('curriculum') / 'shop.db'}"
    Shop.open(url, seed=TEST_SEED, size=TEST_SIZE).engine.dispose()
    return ["--db", url, "--catalog-seed", str(TEST_SEED), "--catalog-size", str(TEST_SIZE)]


@pytest.fixture(autouse=True)
def wide(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(cli, "console", Console(width=250, no_color=True, highlight=False))
    monkeypatch.setattr(cli, "err", Console(width=250, stderr=True, no_color=True,
                                            highlight=False))


def read_jsonl(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def window_rows(stdout: str) -> dict[str, list[str]]:
    rows = {}
    for line in stdout.splitlines():
        cells = [c.strip() for c in line.strip().strip("│┃").split("│")]
        if len(cells) == 6 and cells[1].startswith("["):
            rows[cells[0]] = cells
    return rows


CURRICULUM_RUN = ["run", "--agent", "oracle", "--families", "discovery,cart,cancel",
                  "--curriculum-check-every", "2", "--curriculum-batch", "4", "--concurrency",
                  "4", "--seed", "3"]


def test_run_with_a_curriculum_then_resume(tmp_path: Path, shop_args: list[str],
                                           capsys: pytest.CaptureFixture[str]) -> None:
    state = tmp_path / "cur.json"
    first, second = tmp_path / "a.jsonl", tmp_path / "b.jsonl"
    assert cli.main([*CURRICULUM_RUN, "--curriculum", str(state), "--episodes", "12",
                     "--out", str(first), *shop_args]) == 0
    saved = json.loads(state.read_text())
    assert saved["drawn"] == saved["reported"] == 12
    assert saved["config"]["families"] == ["discovery", "cart", "cancel"]
    assert saved["config"]["check_every"] == 2 and saved["config"]["seed"] == 3
    assert any(h["promoted"] for h in saved["history"])  # the oracle always succeeds
    records = read_jsonl(first)
    assert [r["curriculum"]["episode"] for r in records] == list(range(12))
    for r in records:
        low, high = r["curriculum"]["window"]
        assert low <= r["difficulty"] <= high and r["success"]
    out = capsys.readouterr().out
    assert "Curriculum windows after 12 episodes (12 tasks drawn" in out
    rows = window_rows(out)
    assert set(rows) == {"discovery", "cart", "cancel"}
    windows = Curriculum.load(state).windows
    assert {f: cells[1] for f, cells in rows.items()} == {
        f: f"[{low}, {high}]" for f, (low, high) in windows.items()}

    # Resumed: the file's families, seed and settings; the count and history continue.
    assert cli.main(["run", "--agent", "oracle", "--curriculum", str(state), "--episodes", "8",
                     "--curriculum-batch", "4", "--out", str(second), *shop_args]) == 0
    resumed = json.loads(state.read_text())
    assert resumed["drawn"] == resumed["reported"] == 20
    assert resumed["history"][:len(saved["history"])] == saved["history"]
    assert len(resumed["history"]) > len(saved["history"])
    more = read_jsonl(second)
    assert [r["curriculum"]["episode"] for r in more] == list(range(12, 20))
    assert "after 20 episodes" in capsys.readouterr().out

    # The same as one uninterrupted run of 20.
    whole, straight = tmp_path / "whole.json", tmp_path / "whole.jsonl"
    assert cli.main([*CURRICULUM_RUN, "--curriculum", str(whole), "--episodes", "20",
                     "--out", str(straight), *shop_args]) == 0
    assert [r["task_id"] for r in read_jsonl(straight)] == [
        r["task_id"] for r in records + more]
    assert json.loads(whole.read_text()) == resumed


@pytest.mark.parametrize(("extra", "message"), [
    (["--curriculum-width", "2"], "started with width = 4, not 2"),
    (["--families", "discovery"], "started with families"),
    (["--seed", "4"], "started with seed = 3, not 4"),
    (["--difficulty", "3"], "cannot be combined with --difficulty"),
    (["--tasks", "x.jsonl"], "cannot be combined with --tasks"),
])
def test_bad_curriculum_runs_exit_2(extra: list[str], message: str, tmp_path: Path,
                                    shop_args: list[str],
                                    capsys: pytest.CaptureFixture[str]) -> None:
    state = tmp_path / "cur.json"
    Curriculum(["discovery", "cart", "cancel"], seed=3).save(state)
    before = state.read_text()
    assert cli.main(["run", "--curriculum", str(state), "--episodes", "2", *extra,
                     *shop_args]) == 2
    assert message in " ".join(capsys.readouterr().err.split())
    assert state.read_text() == before


def test_curriculum_options_need_a_curriculum(shop_args: list[str],
                                              capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["run", "--curriculum-threshold", "0.8", *shop_args]) == 2
    assert "--curriculum-threshold needs --curriculum" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        cli.main(["run", "--curriculum", "x.json", "--curriculum-threshold", "1.5"])


def test_a_malformed_state_file_exits_2(tmp_path: Path, shop_args: list[str],
                                        capsys: pytest.CaptureFixture[str]) -> None:
    state = tmp_path / "cur.json"
    state.write_text("[1, 2]")
    assert cli.main(["run", "--curriculum", str(state), *shop_args]) == 2
    assert "not a curriculum state file" in capsys.readouterr().err


def test_worker_processes_follow_the_same_curriculum(tmp_path: Path, shop_args: list[str],
                                                    ) -> None:
    """Batches of 4 (2 processes x concurrency 2) give what one process gives with batches
    of 4."""
    runs = {}
    for name, extra in (("workers", ["--workers", "2", "--concurrency", "2"]),
                        ("inline", ["--curriculum-batch", "4", "--concurrency", "3"])):
        state, out = tmp_path / f"{name}.json", tmp_path / f"{name}.jsonl"
        assert cli.main(["run", "--agent", "heuristic", "--families", "discovery,cart",
                         "--curriculum", str(state), "--curriculum-check-every", "2",
                         "--episodes", "8", "--out", str(out), *extra, *shop_args]) == 0
        runs[name] = (json.loads(state.read_text()),
                      [(r["task_id"], r["success"], r["curriculum"]) for r in read_jsonl(out)])
    assert runs["workers"] == runs["inline"]
    assert len(runs["inline"][1]) == 8
