"""What the report's plots and tables show: curriculum windows as table cells, integer
difficulty ticks, failures visible in the reward histogram, a colour-blind-safe palette with
markers and line styles, the number of episodes and intervals behind every plotted mean, and
plots embedded in the one HTML file."""

from __future__ import annotations

import base64
import itertools
import json
import math
import re
import shutil
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest

from episodes.curriculum import Curriculum
from episodes.report import ReportError, aggregate, build_report, load_curriculum
from episodes.report_aggregate import bin_outcomes, reward_bins, wilson_interval
from episodes.report_plots import (
    FAILURE_COLOR,
    PALETTE,
    SUCCESS_COLOR,
    figure_by_difficulty,
    figure_curricula,
    figure_rewards,
    style,
)
from tests.episodes.test_report import record, write_jsonl

pytest.importorskip("matplotlib")


class _Tables(HTMLParser):
    """Every table of a page as rows of cell texts, keyed by the table's class."""

    def __init__(self) -> None:
        super().__init__()
        self.tables: dict[str, list[list[str]]] = {}
        self._current: list[list[str]] | None = None
        self._cell: list[str] | None = None
        self.images: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        if tag == "table":
            self._current = self.tables.setdefault(a.get("class") or "", [])
        elif tag == "tr" and self._current is not None:
            self._current.append([])
        elif tag in ("td", "th") and self._current is not None:
            self._cell = []
        elif tag == "img":
            self.images.append(a.get("src") or "")

    def handle_endtag(self, tag: str) -> None:
        if tag in ("td", "th") and self._cell is not None and self._current is not None:
            self._current[-1].append("".join(self._cell).strip())
            self._cell = None
        elif tag == "table":
            self._current = None

    def handle_data(self, data: str) -> None:
        if self._cell is not None:
            self._cell.append(data)


def tables(page: str) -> _Tables:
    parser = _Tables()
    parser.feed(page)
    return parser


# -- 1. the curriculum table -----------------------------------------------------------------


def test_curriculum_windows_saved_by_the_curriculum_are_table_cells(tmp_path: Path) -> None:
    """A state written by ``episodes.curriculum`` (windows as {"l", "h", "counted",
    "successes"}) shows each number in its own cell, never the raw dict."""
    cur = Curriculum(["cart", "return"], check_every=2, threshold=0.5, width=4, seed=3)
    for _ in range(2):
        cur.report("cart", 0, True)  # a check at h=0: 2 of 2, promoted to [0, 1]
    cur.report("cart", 1, True)  # counted at the new h, no check yet
    for _ in range(2):
        cur.report("return", 0, False)  # a check at h=0: 0 of 2, not promoted
    state = tmp_path / "cur.json"
    cur.save(state)
    assert isinstance(json.loads(state.read_text())["windows"]["cart"], dict)

    rollouts = write_jsonl(tmp_path / "r.jsonl", [record(), record(success=True, reward=1.0)])
    page = build_report([rollouts], tmp_path / "out", curriculum_paths=[state]).read_text()
    rows = tables(page).tables["curriculum"]
    assert rows[2:] == [
        # family, l, h, succeeded at h, checks, promotions, last check episode, its rate
        ["cart", "0", "1", "1 of 1", "1", "1", "2", "100%"],
        ["return", "0", "0", "0 of 0", "1", "0", "5", "0%"],
    ]
    assert "&#x27;l&#x27;" not in page and "{'l'" not in page


def test_a_window_of_another_shape_is_refused(tmp_path: Path) -> None:
    state = tmp_path / "cur.json"
    state.write_text(json.dumps({"windows": {"cart": {"low": 0}}, "history": []}))
    with pytest.raises(ReportError, match=r"windows\['cart'\] must be .*or \[l, h\]"):
        load_curriculum(state)
    state.write_text(json.dumps({"windows": {"cart": [0, 2]}, "history": []}))
    assert load_curriculum(state)["windows"] == {"cart": [0, 2]}  # the older form


# -- 2. integer difficulty ticks ---------------------------------------------------------------


def _integral(values: Any) -> bool:
    return all(float(v).is_integer() for v in values)


def test_difficulty_axes_have_integer_ticks_only() -> None:
    agg = aggregate([("h", record("cart", d, success=d < 5, reward=1.0 if d < 5 else 0.0))
                     for d in (2, 5, 7)])
    for metric in ("success_rate", "mean_reward"):
        fig = figure_by_difficulty(agg, metric)
        ax = fig.axes[0]
        assert list(ax.get_xticks()) == [2, 3, 4, 5, 6, 7]
        fig.canvas.draw()
        assert all(re.fullmatch(r"\d+", t.get_text()) for t in ax.get_xticklabels()), [
            t.get_text() for t in ax.get_xticklabels()]
    single = figure_by_difficulty(aggregate([("h", record("cart", 3))]), "success_rate")
    assert list(single.axes[0].get_xticks()) == [3]

    history = [{"episode": 10 * k, "family": f, "l": 0, "h": h, "rate": 1.0, "promoted": True}
               for k, (f, h) in enumerate([("cart", 1), ("cart", 2), ("cart", 3), ("return", 1)])]
    fig = figure_curricula([(Path("c.json"), {"windows": {}, "history": history})])
    ax = fig.axes[0]
    assert list(ax.get_yticks()) == [0, 1, 2, 3]
    wide = [{**e, "h": 20 * k} for k, e in enumerate(history)]  # 0..60: a locator's ticks
    ticks = figure_curricula([(Path("c.json"), {"windows": {}, "history": wide})]).axes[0]
    assert _integral(ticks.get_yticks())


# -- 3. failures in the reward histogram -------------------------------------------------------


def test_reward_bins_keep_zero_apart_and_split_at_zero() -> None:
    exact = reward_bins([1.0, 1.0, 0.0, -0.0, -0.25, 0.666667])
    assert [(b.lo, b.hi) for b in exact] == [(-0.25, -0.25), (0, 0), (0.666667, 0.666667),
                                             (1, 1)]
    many = [k / 37 for k in range(-37, 38)]  # 75 distinct values in [-1, 1]
    bins = reward_bins(many)
    zero = [b for b in bins if b.holds(0.0)]
    assert zero == [b for b in bins if b.lo == b.hi == 0.0]  # 0 alone
    assert not [b for b in bins if b.lo < 0 < b.hi]  # nothing straddles 0
    assert [b.label for b in bins][:2] == ["[-1, -0.9)", "[-0.9, -0.8)"]
    assert bins[-1].label == "(+0.9, +1]"
    counts = bin_outcomes(bins, [(r, r > 0.5) for r in many])
    assert sum(s + f for s, f in counts) == len(many)
    assert counts[bins.index(zero[0])] == (0, 1)


def _bars(ax: Any, color: str) -> dict[int, int]:
    """Bar heights by x position of the bars of ``color``."""
    from matplotlib.colors import to_hex

    return {round(p.get_x() + p.get_width() / 2): round(p.get_height())
            for p in ax.patches if to_hex(p.get_facecolor()) == color.lower()
            and p.get_height() > 0}


def test_reward_histogram_shows_failures_apart_coloured_and_counted() -> None:
    recs = ([record(success=True, reward=1.0)] * 40 + [record(reward=0.0)] * 2
            + [record(reward=-0.25)] * 3)
    fig = figure_rewards(aggregate([("heuristic", r) for r in recs]))
    ax = fig.axes[0]
    labels = [t.get_text() for t in ax.get_xticklabels()]
    assert labels == ["-0.25", "0", "+1"]
    assert _bars(ax, SUCCESS_COLOR) == {2: 40}
    assert _bars(ax, FAILURE_COLOR) == {0: 3, 1: 2}  # reward 0 and -0.25: bars of their own
    assert all(p.get_hatch() for p in ax.patches
               if p.get_height() > 0 and p.get_x() < 1.5)  # failed bars hatched too
    texts = {t.get_text() for t in ax.texts}
    assert {"40", "3", "2"} <= texts
    assert "40 succeeded, 5 failed (2 at reward 0)" in ax.get_title(loc="left")


# -- 4. the palette --------------------------------------------------------------------------


def _lab(hex_color: str, cvd: str | None = None) -> tuple[float, float, float]:
    """CIELAB of an sRGB colour, as seen with protanopia or deuteranopia when ``cvd`` says
    (Viénot, Brettel & Mollon 1999, in linear RGB)."""
    def lin(c: float) -> float:
        return c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4

    rgb = [lin(int(hex_color.lstrip("#")[i:i + 2], 16) / 255) for i in (0, 2, 4)]
    matrix = {"protan": [[0.11238, 0.88762, 0], [0.11238, 0.88762, 0], [0.00401, -0.00401, 1]],
              "deutan": [[0.29275, 0.70725, 0], [0.29275, 0.70725, 0],
                         [-0.02234, 0.02234, 1]]}.get(cvd or "")
    if matrix:
        rgb = [min(1.0, max(0.0, sum(m * c for m, c in zip(row, rgb, strict=True))))
               for row in matrix]
    r, g, b = rgb
    x = (0.4124 * r + 0.3576 * g + 0.1805 * b) / 0.95047
    y = 0.2126 * r + 0.7152 * g + 0.0722 * b
    z = (0.0193 * r + 0.1192 * g + 0.9505 * b) / 1.08883

    def f(t: float) -> float:
        return t ** (1 / 3) if t > 0.008856 else 7.787 * t + 16 / 116

    return 116 * f(y) - 16, 500 * (f(x) - f(y)), 200 * (f(y) - f(z))


def test_palette_hues_differ_and_stay_apart_with_colour_blindness() -> None:
    for a, b in itertools.combinations(PALETTE, 2):
        for cvd in (None, "protan", "deutan"):
            assert math.dist(_lab(a, cvd), _lab(b, cvd)) > 15, (a, b, cvd)
        la, lb = _lab(a), _lab(b)
        if math.hypot(*la[1:]) > 20 and math.hypot(*lb[1:]) > 20:  # both chromatic
            hue = abs(math.degrees(math.atan2(la[2], la[1]) - math.atan2(lb[2], lb[1]))) % 360
            assert min(hue, 360 - hue) > 20, (a, b)  # no light/dark pairs of one hue
    assert math.dist(_lab(SUCCESS_COLOR, "deutan"), _lab(FAILURE_COLOR, "deutan")) > 15


def test_lines_that_share_a_colour_differ_in_marker_and_line_style() -> None:
    fams = ["discovery", "substitution", "cart", "purchase", "return", "exchange",
            "order_status", "cancel", "policy", "bundle", "price_compare", "multi"]
    history = [{"episode": k, "family": f, "l": 0, "h": 1, "rate": 1.0, "promoted": True}
               for k, f in enumerate(fams)]
    fig = figure_curricula([(Path("c.json"), {"windows": {}, "history": history})])
    lines = [ln for ln in fig.axes[0].get_lines() if ln.get_label() in fams]
    assert len(lines) == len(fams)
    for a, b in itertools.combinations(lines, 2):
        if a.get_color() == b.get_color():
            assert a.get_marker() != b.get_marker(), (a.get_label(), b.get_label())
            assert a.get_linestyle() != b.get_linestyle(), (a.get_label(), b.get_label())
    assert len({style(i)[:3] for i in range(24)}) == 24

    series = [(name, record("cart", 1)) for name in ("run-a", "run-b", "run-c")]
    fig = figure_by_difficulty(aggregate(series), "success_rate")
    drawn = [c.lines[0] for c in fig.axes[0].containers  # each series' error-bar line
             if c.get_label() in ("run-a", "run-b", "run-c")]
    assert len(drawn) == 3
    assert len({(ln.get_color(), ln.get_marker()) for ln in drawn}) == 3
    assert len({ln.get_marker() for ln in drawn}) == 3


# -- 5. the episodes behind each point ---------------------------------------------------------


def test_each_point_has_its_n_and_a_95_percent_interval(tmp_path: Path) -> None:
    recs = [("h", record("cart", 2, success=ok, reward=1.0 if ok else 0.0))
            for ok in (True, True, True, False)]
    recs += [("h", record("return", 4, success=True, reward=1.0))]
    recs += [("r", record("cart", 2, reward=-0.5, policy="random"))] * 2
    agg = aggregate(recs)
    # Wilson's interval of 3 of 4 is 0.301 to 0.954 (tables of the Wilson score interval)
    low, high = wilson_interval(3, 4)
    assert (round(low, 3), round(high, 3)) == (0.301, 0.954)
    assert all(math.isnan(v) for v in wilson_interval(0, 0))  # no episodes, no interval

    fig = figure_by_difficulty(agg, "success_rate")
    cart = next(ax for ax in fig.axes if ax.get_title() == "cart")
    notes = sorted((round(t.xy[0]), t.get_text(), t.get_color()) for t in cart.texts
                   if t.get_text() != "n")
    assert notes == sorted([(2, "4", style(0).color), (2, "2", style(1).color)])
    bars = [c for c in cart.containers if c.__class__.__name__ == "ErrorbarContainer"]
    segments = bars[0].lines[2][0].get_segments()  # the vertical error bar of series "h"
    (_, y0), (_, y1) = segments[0]
    assert (round(y0, 3), round(y1, 3)) == (0.301, 0.954)

    rewards = figure_by_difficulty(agg, "mean_reward")
    cart = next(ax for ax in rewards.axes if ax.get_title() == "cart")
    bars = [c for c in cart.containers if c.__class__.__name__ == "ErrorbarContainer"]
    (_, y0), (_, y1) = bars[0].lines[2][0].get_segments()[0]
    # rewards 1, 1, 1, 0: mean 0.75, sd 0.5, 1.96 * 0.5 / 2 = 0.49
    assert (round(y0, 2), round(y1, 2)) == (0.26, 1.24)

    page = build_report([write_jsonl(tmp_path / "r.jsonl", [r for _, r in recs])],
                        tmp_path / "out").read_text()
    row = next(r for r in tables(page).tables["by-difficulty"] if r[1] == "cart")
    assert row[:2] == ["heuristic", "cart"]
    assert row[2:] == ["75%4", "–"]  # 3 of 4 at difficulty 2, with n = 4; none at 4


# -- 6. one self-contained file ----------------------------------------------------------------


def test_plots_are_embedded_so_the_html_file_stands_alone(tmp_path: Path) -> None:
    rollouts = write_jsonl(tmp_path / "r.jsonl", [record(), record(success=True, reward=1.0)])
    index = build_report([rollouts], tmp_path / "out")
    page = index.read_text()
    images = tables(page).images
    assert len(images) == 4  # success and reward by difficulty, rewards, failure reasons
    for src in images:
        assert src.startswith("data:image/png;base64,"), src[:60]
        data = base64.b64decode(src.split(",", 1)[1])
        assert data[:8] == b"\x89PNG\r\n\x1a\n"
        assert data in {p.read_bytes() for p in index.parent.glob("*.png")}  # and as files
    # nothing else is referenced: the page alone, elsewhere, is the whole report
    refs = re.findall(r'(?:src|href)="([^"]*)"', page)
    assert all(r.startswith(("data:", "#")) for r in refs), refs
    alone = tmp_path / "elsewhere"
    alone.mkdir()
    shutil.copy(index, alone / "report.html")
    assert tables((alone / "report.html").read_text()).images == images
