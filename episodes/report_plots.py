"""The report's PNG plots (matplotlib on the Agg backend): success and reward by difficulty,
the reward distribution, the most common failure tags and the curriculum windows."""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path
from typing import Any

from episodes.report_aggregate import Aggregate, ReportError
from verifiers.types import FAMILIES

__all__ = ["INSTALL_HINT", "plot_by_difficulty", "plot_curricula", "plot_failures",
           "plot_rewards", "require_matplotlib"]

INSTALL_HINT = "pip install 'mcp-shop[report]'"


def require_matplotlib() -> Any:
    """matplotlib on the Agg backend, or a ``ReportError`` saying how to install it."""
    try:
        import matplotlib
    except ImportError:
        raise ReportError(f"the report's plots need matplotlib: {INSTALL_HINT}") from None
    matplotlib.use("Agg")
    return matplotlib


def _colors(n: int) -> list[Any]:
    import matplotlib

    cmap = matplotlib.colormaps["tab20" if n > 10 else "tab10"]
    return [cmap(i % cmap.N) for i in range(n)]


def _save(fig: Any, path: Path) -> str:
    fig.savefig(path, dpi=100, bbox_inches="tight", facecolor="white")
    return path.name


def plot_by_difficulty(agg: Aggregate, out: Path) -> str:
    """Success rate (top row) and mean reward (bottom row) by difficulty, a column per
    series, a line per family plus every family together."""
    from matplotlib.figure import Figure

    fams = agg.ordered_families()
    colors = dict(zip(fams, _colors(len(fams)), strict=True))
    ncols = len(agg.series)
    fig = Figure(figsize=(5.2 * ncols + 2.2, 7.2), layout="constrained")
    axes = fig.subplots(2, ncols, squeeze=False, sharex=True)
    for col, series in enumerate(agg.series):
        for row, (metric, label) in enumerate((("success_rate", "success rate"),
                                               ("mean_reward", "mean reward"))):
            ax = axes[row][col]
            for fam in [*fams, "all"]:
                points = [(d, getattr(agg.cells[(series, fam, d)], metric))
                          for d in agg.difficulties()
                          if agg.cells.get((series, fam, d)) is not None]
                if not points:
                    continue
                xs, ys = zip(*points, strict=True)
                style: dict[str, Any] = (
                    {"color": "black", "linewidth": 2.6, "label": "all families"}
                    if fam == "all" else
                    {"color": colors[fam], "linewidth": 1.3, "alpha": 0.9, "label": fam})
                ax.plot(xs, ys, marker="o", markersize=3, **style)
            ax.set_ylabel(label)
            ax.grid(alpha=0.3)
            if metric == "success_rate":
                ax.set_ylim(-0.05, 1.05)
                ax.set_title(f"{series}: success rate")
            else:
                ax.set_title(f"{series}: mean reward")
                ax.set_xlabel("difficulty")
                ax.axhline(0, color="grey", linewidth=0.8)
    handles, labels = axes[0][0].get_legend_handles_labels()
    for ax in axes.flat:  # families the first panel lacks
        for h, lab in zip(*ax.get_legend_handles_labels(), strict=True):
            if lab not in labels:
                handles.append(h)
                labels.append(lab)
    fig.legend(handles, labels, loc="outside right upper", fontsize="small", title="family")
    return _save(fig, out / "by_difficulty.png")


def plot_rewards(agg: Aggregate, out: Path) -> str:
    """Histogram of episode rewards, bars side by side per series."""
    from matplotlib.figure import Figure

    values = [agg.rewards[s] for s in agg.series]
    lo = min(min(v) for v in values)
    hi = max(max(v) for v in values)
    if hi - lo < 1e-9:
        lo, hi = lo - 0.5, hi + 0.5
    bins = 20
    pad = (hi - lo) / (2 * bins)
    edges = [lo - pad + i * (hi - lo + 2 * pad) / bins for i in range(bins + 1)]
    fig = Figure(figsize=(8, 4.2), layout="constrained")
    ax = fig.subplots()
    labels = [f"{s} (mean {sum(v) / len(v):+.2f}, n={len(v)})"
              for s, v in zip(agg.series, values, strict=True)]
    ax.hist(values, bins=edges, label=labels, color=_colors(len(values)))
    ax.set_xlabel("episode reward")
    ax.set_ylabel("episodes")
    ax.set_title("Reward distribution")
    ax.grid(alpha=0.3, axis="y")
    ax.legend(fontsize="small")
    return _save(fig, out / "rewards.png")


def plot_failures(agg: Aggregate, out: Path, top: int = 15) -> str | None:
    """Horizontal bars of the most common failure tags, a bar per series."""
    from matplotlib.figure import Figure

    common = [t for t, _ in agg.tag_totals().most_common(top)]
    if not common:
        return None
    n = len(agg.series)
    fig = Figure(figsize=(8.5, 0.35 * len(common) * max(1, n) ** 0.5 + 1.4),
                 layout="constrained")
    ax = fig.subplots()
    height = 0.8 / n
    for i, (series, color) in enumerate(zip(agg.series, _colors(n), strict=True)):
        ys = [k + (i - (n - 1) / 2) * height for k in range(len(common))]
        ax.barh(ys, [agg.tags[series][t] for t in common], height=height, color=color,
                label=f"{series} ({agg.failed[series]} failed)")
    ax.set_yticks(range(len(common)), common)
    ax.invert_yaxis()
    ax.set_xlabel("failed episodes with this reason")
    ax.set_title("Most common failure reasons")
    ax.grid(alpha=0.3, axis="x")
    ax.legend(fontsize="small", loc="lower right")
    return _save(fig, out / "failures.png")


def plot_curricula(states: list[tuple[Path, dict[str, Any]]], out: Path) -> str | None:
    """The window's upper bound h (line) and span [l, h] (band) over episodes, a line per
    family, a panel per curriculum state; promotions are marked."""
    from matplotlib.figure import Figure

    if not any(s["history"] for _, s in states):
        return None
    fams_seen = {e["family"] for _, s in states for e in s["history"]}
    fams = [f for f in FAMILIES if f in fams_seen] + sorted(fams_seen - set(FAMILIES))
    colors = dict(zip(fams, _colors(len(fams)), strict=True))
    fig = Figure(figsize=(10, 3.8 * len(states)), layout="constrained")
    axes = fig.subplots(len(states), 1, squeeze=False)
    for ax, (path, state) in zip(axes[:, 0], states, strict=True):
        by_family: dict[str, list[dict[str, Any]]] = defaultdict(list)
        for entry in state["history"]:
            by_family[entry["family"]].append(entry)
        for fam in fams:
            entries = sorted(by_family.get(fam, []), key=lambda e: e["episode"])
            if not entries:
                continue
            xs = [e["episode"] for e in entries]
            hs = [e["h"] for e in entries]
            ax.step(xs, hs, where="post", color=colors[fam], label=fam, linewidth=1.5)
            ls = [e.get("l") for e in entries]
            if all(isinstance(v, int | float) for v in ls):
                ax.fill_between(xs, ls, hs, step="post", color=colors[fam], alpha=0.12)
            promoted = [(e["episode"], e["h"]) for e in entries if e.get("promoted")]
            if promoted:
                px, py = zip(*promoted, strict=True)
                ax.scatter(px, py, color=colors[fam], marker="^", s=22, zorder=3)
        ax.set_title(f"Curriculum {path.name}: window h over episodes (band: [l, h], "
                     "▲ promotion)")
        ax.set_xlabel("episode")
        ax.set_ylabel("difficulty")
        ax.grid(alpha=0.3)
        ax.legend(fontsize="small", loc="center left", bbox_to_anchor=(1.01, 0.5))
    return _save(fig, out / "curriculum.png")


