"""The report's plots (matplotlib on the Agg backend): success and mean reward by difficulty,
the reward distribution, the most common failure tags and the curriculum windows.

Each ``figure_*`` function builds a matplotlib ``Figure`` (tests read its axes); ``png`` turns
one into PNG bytes. Colours come from the Okabe-Ito palette (distinguishable with the common
colour-vision deficiencies); each series or family also has its own marker, and a line style
of its own once the palette's hues repeat, so no two lines differ by colour alone.
"""

from __future__ import annotations

import io
import math
from collections import defaultdict
from pathlib import Path
from typing import Any, NamedTuple

from episodes.report_aggregate import Aggregate, ReportError, bin_outcomes, reward_bins
from verifiers.types import FAMILIES

__all__ = ["FAILURE_COLOR", "INSTALL_HINT", "PALETTE", "SUCCESS_COLOR", "Style",
           "figure_by_difficulty", "figure_curricula", "figure_failures", "figure_rewards",
           "png", "require_matplotlib", "style"]

INSTALL_HINT = "pip install 'mcp-shop[report]'"

# Okabe & Ito (2008), "Color Universal Design": hues that stay apart under deuteranopia,
# protanopia and tritanopia. Their yellow (fades on white) and sky blue (blue's hue, lighter:
# a pair) are left out.
PALETTE = ("#0072B2", "#E69F00", "#009E73", "#D55E00", "#CC79A7", "#000000")
MARKERS = ("o", "s", "^", "D", "v", "P", "X", "*")
LINE_STYLES = ("-", "--", ":", "-.")
HATCHES = ("", "//", "..", "xx")
SUCCESS_COLOR = "#009E73"  # bluish green
FAILURE_COLOR = "#D55E00"  # vermillion; failed bars are hatched as well
N_ROWS_MAX = 4  # series whose n per point is written under each difficulty panel


class Style(NamedTuple):
    """How the i-th series (or family) is drawn: colour, marker, line style, bar hatch."""

    color: str
    marker: str
    linestyle: str
    hatch: str


def style(i: int) -> Style:
    """The i-th style: every (colour, marker, line style) triple differs for i < 24; styles
    that share a colour differ in marker and line style (or hatch)."""
    cycle = (i // len(PALETTE)) % len(LINE_STYLES)
    return Style(PALETTE[i % len(PALETTE)], MARKERS[i % len(MARKERS)], LINE_STYLES[cycle],
                 HATCHES[cycle])


def require_matplotlib() -> Any:
    """matplotlib on the Agg backend, or a ``ReportError`` saying how to install it."""
    try:
        import matplotlib
    except ImportError:
        raise ReportError(f"the report's plots need matplotlib: {INSTALL_HINT}") from None
    matplotlib.use("Agg")
    return matplotlib


def png(fig: Any) -> bytes:
    """The figure as PNG bytes (100 dpi, white background)."""
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=100, bbox_inches="tight", facecolor="white",
                metadata={"Software": None})  # no version stamp: same input, same bytes
    return buf.getvalue()


def _integer_ticks(axis: Any, values: list[int]) -> None:
    """Difficulty is an integer: a tick at each value (at most 11), else integer ticks."""
    from matplotlib.ticker import MaxNLocator

    if values and len(values) <= 11 and max(values) - min(values) <= 11:
        axis.set_ticks(range(min(values), max(values) + 1))
    else:
        axis.set_major_locator(MaxNLocator(integer=True))


# -- by difficulty -------------------------------------------------------------------------


def _gap(upper: float, lower: float) -> float:
    """An error bar's length (0 when the interval is undefined; never negative)."""
    return 0.0 if math.isnan(upper) or math.isnan(lower) else max(0.0, upper - lower)


def figure_by_difficulty(agg: Aggregate, metric: str) -> Any:
    """``metric`` ("success_rate" or "mean_reward") by difficulty: a panel per family (every
    family together first), a line per series with its 95% interval (Wilson for the success
    rate, mean +- 1.96 SE for the reward) as error bars, and the number of episodes behind
    each point written under the panel, in the series' colour (up to four series)."""
    from matplotlib.figure import Figure
    from matplotlib.transforms import blended_transform_factory

    if metric not in ("success_rate", "mean_reward"):
        raise ValueError(f"metric must be success_rate or mean_reward, not {metric!r}")
    panels = ["all", *agg.ordered_families()]
    diffs = agg.difficulties()
    series = agg.series
    annotate = len(series) <= N_ROWS_MAX
    ncols = min(4, len(panels))
    nrows = math.ceil(len(panels) / ncols)
    extra = 0.16 * len(series) if annotate else 0.0
    fig = Figure(figsize=(3.9 * ncols, (2.7 + extra) * nrows + 0.6), layout="constrained")
    axes = fig.subplots(nrows, ncols, squeeze=False, sharex=True, sharey=True)
    interval = "success_interval" if metric == "success_rate" else "reward_interval"
    for ax, fam in zip(axes.flat, panels, strict=False):
        ax.xaxis.set_tick_params(labelbottom=True)
        below = blended_transform_factory(ax.transData, ax.transAxes)
        for i, name in enumerate(series):
            st = style(i)
            shift = (i - (len(series) - 1) / 2) * 0.09
            points = [(d, agg.cells[(name, fam, d)]) for d in diffs
                      if (name, fam, d) in agg.cells and agg.cells[(name, fam, d)].episodes]
            if not points:
                continue
            xs = [d + shift for d, _ in points]
            ys = [getattr(c, metric) for _, c in points]
            bounds = [getattr(c, interval) for _, c in points]
            err = [[_gap(y, lo) for y, (lo, _) in zip(ys, bounds, strict=True)],
                   [_gap(hi, y) for y, (_, hi) in zip(ys, bounds, strict=True)]]
            ax.errorbar(xs, ys, yerr=err, color=st.color, marker=st.marker, markersize=4,
                        linestyle=st.linestyle, linewidth=1.4, capsize=2, elinewidth=0.9,
                        label=name)
            if annotate:
                for (d, cell) in points:
                    ax.annotate(str(cell.episodes), (d, 0), xycoords=below,
                                xytext=(0, -24 - 9 * i), textcoords="offset points",
                                ha="center", va="top", fontsize=6.5, color=st.color)
        if annotate:
            ax.annotate("n", (0, 0), xycoords="axes fraction", xytext=(-4, -24),
                        textcoords="offset points", ha="right", va="top", fontsize=6.5,
                        color="#5b6475")
        ax.set_title("all families" if fam == "all" else fam, fontsize=10,
                     fontweight="bold" if fam == "all" else "normal")
        ax.grid(alpha=0.3)
        if metric == "success_rate":
            ax.set_ylim(-0.05, 1.05)
        else:
            ax.axhline(0, color="grey", linewidth=0.8)
        ax.set_xlabel("difficulty", labelpad=2 + (9 * len(series) + 10 if annotate else 0),
                      fontsize=8)
    for ax in list(axes.flat)[len(panels):]:
        ax.set_visible(False)
    if diffs:
        _integer_ticks(axes[0][0].xaxis, diffs)
        axes[0][0].set_xlim(min(diffs) - 0.5, max(diffs) + 0.5)
    label = "success rate" if metric == "success_rate" else "mean reward"
    for row in axes:
        row[0].set_ylabel(label)
    how = "Wilson 95% interval" if metric == "success_rate" else "mean ± 1.96 SE"
    handles, labels = axes[0][0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="outside upper center", ncols=min(len(labels), 4) or 1,
               fontsize="small",
               title=f"{label.capitalize()} by difficulty (error bars: {how}; "
                     + ("n: episodes per point)" if annotate else "n per point: in the table)"))
    return fig


# -- rewards -------------------------------------------------------------------------------


def figure_rewards(agg: Aggregate) -> Any:
    """The reward distribution: a panel per series, a bar per reward value (or bin; exactly 0
    always on its own), each bar split into succeeded (green) and failed (vermillion,
    hatched) episodes and labelled with its count."""
    from matplotlib.figure import Figure

    bins = reward_bins(r for s in agg.series for r, _ in agg.outcomes[s])
    n = len(agg.series)
    fig = Figure(figsize=(max(7.5, 0.55 * len(bins) + 2), 2.3 * n + 0.9), layout="constrained")
    axes = fig.subplots(n, 1, squeeze=False, sharex=True)[:, 0]
    xs = list(range(len(bins)))
    for ax, name in zip(axes, agg.series, strict=True):
        outcomes = agg.outcomes[name]
        counts = bin_outcomes(bins, outcomes)
        wins = [s for s, _ in counts]
        losses = [f for _, f in counts]
        ax.bar(xs, wins, width=0.7, color=SUCCESS_COLOR, label="succeeded")
        ax.bar(xs, losses, width=0.7, bottom=wins, color=FAILURE_COLOR, hatch="//",
               edgecolor="white", linewidth=0, label="failed")
        top = max((s + f for s, f in counts), default=0)
        for x, (s, f) in zip(xs, counts, strict=True):
            if s + f:
                text = f"{s + f}" if not (s and f) else f"{s}+{f}"
                ax.annotate(text, (x, s + f), xytext=(0, 2), textcoords="offset points",
                            ha="center", va="bottom", fontsize=8,
                            color=FAILURE_COLOR if f and not s else "#1d2330")
        ax.set_ylim(0, max(1, top) * 1.22)
        failed = sum(1 for _, ok in outcomes if not ok)
        zero = sum(1 for r, ok in outcomes if not ok and r == 0)
        mean = sum(r for r, _ in outcomes) / len(outcomes)
        ax.set_title(f"{name}: n={len(outcomes)}, {len(outcomes) - failed} succeeded, "
                     f"{failed} failed ({zero} at reward 0); mean reward {mean:+.2f}",
                     fontsize=10, loc="left")
        ax.set_ylabel("episodes")
        ax.grid(alpha=0.3, axis="y")
    axes[-1].set_xticks(xs, [b.label for b in bins],
                        rotation=0 if all(b.lo == b.hi for b in bins) else 40,
                        ha="center" if all(b.lo == b.hi for b in bins) else "right")
    axes[-1].set_xlabel("episode reward" + ("" if all(b.lo == b.hi for b in bins) else
                                            " (bins; 0 on its own)"))
    axes[0].legend(fontsize="small", loc="upper left")
    fig.suptitle("Reward distribution")
    return fig


# -- failures ------------------------------------------------------------------------------


def figure_failures(agg: Aggregate, top: int = 15) -> Any | None:
    """Horizontal bars of the most common failure tags, a bar per series labelled with its
    count (None when nothing failed)."""
    from matplotlib.figure import Figure

    common = [t for t, _ in agg.tag_totals().most_common(top)]
    if not common:
        return None
    n = len(agg.series)
    fig = Figure(figsize=(8.5, 0.35 * len(common) * max(1, n) ** 0.5 + 1.4),
                 layout="constrained")
    ax = fig.subplots()
    height = 0.8 / n
    for i, name in enumerate(agg.series):
        st = style(i)
        ys = [k + (i - (n - 1) / 2) * height for k in range(len(common))]
        counts = [agg.tags[name][t] for t in common]
        bars = ax.barh(ys, counts, height=height, color=st.color, hatch=st.hatch,
                       edgecolor="white", linewidth=0,
                       label=f"{name} ({agg.failed[name]} failed of "
                             f"{agg.cells[(name, 'all', None)].episodes})")
        ax.bar_label(bars, labels=[str(c) if c else "" for c in counts], padding=2,
                     fontsize=7, color=st.color)
    ax.set_yticks(range(len(common)), common)
    ax.invert_yaxis()
    ax.margins(x=0.08)
    ax.set_xlabel("failed episodes with this reason")
    ax.set_title("Most common failure reasons")
    ax.grid(alpha=0.3, axis="x")
    ax.legend(fontsize="small", loc="lower right")
    return fig


# -- curricula -----------------------------------------------------------------------------


def figure_curricula(states: list[tuple[Path, dict[str, Any]]]) -> Any | None:
    """The window's upper bound h (a step line, a marker at each check) and span [l, h]
    (band) over episodes, a line per family, a panel per curriculum state; each line runs on
    to the state's last reported episode. None when no state has a history."""
    from matplotlib.figure import Figure

    if not any(s["history"] for _, s in states):
        return None
    fams_seen = {e["family"] for _, s in states for e in s["history"]}
    fams = [f for f in FAMILIES if f in fams_seen] + sorted(fams_seen - set(FAMILIES))
    styles = {f: style(i) for i, f in enumerate(fams)}
    fig = Figure(figsize=(10, 3.8 * len(states)), layout="constrained")
    axes = fig.subplots(len(states), 1, squeeze=False)
    for ax, (path, state) in zip(axes[:, 0], states, strict=True):
        by_family: dict[str, list[dict[str, Any]]] = defaultdict(list)
        for entry in state["history"]:
            by_family[entry["family"]].append(entry)
        end = state.get("reported")
        levels: set[int] = set()
        for fam in fams:
            entries = sorted(by_family.get(fam, []), key=lambda e: e["episode"])
            if not entries:
                continue
            st = styles[fam]
            xs = [e["episode"] for e in entries]
            hs = [e["h"] for e in entries]
            ls = [e.get("l") for e in entries]
            ax.plot(xs, hs, linestyle="none", marker=st.marker, markersize=4, color=st.color)
            if isinstance(end, int | float) and end > xs[-1]:
                xs, hs, ls = [*xs, end], [*hs, hs[-1]], [*ls, ls[-1]]
            ax.step(xs, hs, where="post", color=st.color, linestyle=st.linestyle,
                    marker=st.marker, markevery=[0], markersize=4, linewidth=1.5, label=fam)
            levels.update(int(h) for h in hs)
            lows = [v for v in ls if isinstance(v, int | float)]
            if len(lows) == len(ls):
                levels.update(int(v) for v in lows)
                ax.fill_between(xs, ls, hs, step="post", color=st.color, alpha=0.10)
        ax.set_title(f"Curriculum {path.name}: window h over episodes (markers: checks; "
                     "band: [l, h])")
        ax.set_xlabel("episode")
        ax.set_ylabel("difficulty")
        _integer_ticks(ax.yaxis, sorted(levels))
        ax.grid(alpha=0.3)
        ax.legend(fontsize="small", loc="center left", bbox_to_anchor=(1.01, 0.5))
    return fig
