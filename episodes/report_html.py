"""The report's page: one self-contained ``index.html`` (plots embedded as base64 ``data:``
URIs, styles inline, no scripts, nothing fetched) with the summary tables, the plots, the
failure tags and example failed episodes with their conversations and traces."""

from __future__ import annotations

import base64
import html
import json
import math
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from episodes.report_aggregate import (
    Aggregate,
    _list,
    _value,
    curriculum_window,
    failure_tags,
)

__all__ = ["ARGS_TEXT_LIMIT", "TOOL_TEXT_LIMIT", "esc", "page"]

TOOL_TEXT_LIMIT = 1_500  # characters of a tool result shown in a conversation
ARGS_TEXT_LIMIT = 400  # characters of a trace entry's arguments

_CSS = """
body{font-family:system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;margin:0;color:#1d2330;
background:#f6f7f9;line-height:1.45}
header{background:#1f2a44;color:#fff;padding:18px 28px}
header h1{margin:0 0 4px;font-size:1.6em}
header p{margin:2px 0;color:#c9d2e3;font-size:.9em}
nav{background:#fff;border-bottom:1px solid #dde1e8;padding:8px 28px;position:sticky;top:0}
nav a{margin-right:18px;color:#2a5bd7;text-decoration:none;font-size:.95em}
main{padding:8px 28px 40px;max-width:1500px}
section{background:#fff;border:1px solid #dde1e8;border-radius:6px;margin:18px 0;
padding:8px 20px 16px;scroll-margin-top:48px}
h2{font-size:1.25em;border-bottom:1px solid #eceef2;padding-bottom:6px}
img{max-width:100%;height:auto;border:1px solid #eceef2}
table{border-collapse:collapse;font-size:.88em;margin:8px 0}
th,td{border:1px solid #dde1e8;padding:4px 8px;text-align:left;vertical-align:top}
th{background:#f0f2f6}
td.num{text-align:right;font-variant-numeric:tabular-nums}
td.num .n{color:#7a8394;font-size:.85em;margin-left:4px}
tr.all td{font-weight:600;background:#fafbfc}
.note{color:#5b6475;font-style:italic}
.bad{color:#b42318}.good{color:#067647}
.tag{display:inline-block;background:#fde8e7;color:#8a1c12;border-radius:10px;padding:0 7px;
margin:1px 2px;font-size:.85em}
details{margin:4px 0}
summary{cursor:pointer;color:#2a5bd7}
.msg{border-left:3px solid #c9d2e3;margin:6px 0;padding:3px 10px;white-space:pre-wrap;
word-break:break-word;font-size:.9em}
.msg.user{border-color:#2a5bd7;background:#f3f6fd}
.msg.assistant{border-color:#067647;background:#f2faf5}
.msg.tool{border-color:#9aa3b2;background:#f7f8fa;font-family:ui-monospace,monospace;
font-size:.82em}
.msg.system{border-color:#b54708;background:#fef6ee}
.role{font-weight:600;margin-right:6px}
.call{font-family:ui-monospace,monospace;font-size:.85em;color:#3b4a6b;display:block}
table.trace td{font-family:ui-monospace,monospace;font-size:.8em;max-width:520px;
word-break:break-word}
table.examples>tbody>tr.detail>td{background:#fcfcfd}
code{font-family:ui-monospace,monospace;font-size:.9em}
"""


def esc(value: Any) -> str:
    """Text made safe for HTML (quotes too, so it may sit in attributes)."""
    return html.escape(str(value), quote=True)


def _fmt(value: float, kind: str) -> str:
    if math.isnan(value):
        return "–"
    if kind == "pct":
        return f"{value:.0%}"
    if kind == "signed":
        return f"{value + 0.0:+.3f}"  # + 0.0: no "-0.000"
    return f"{value:.1f}"


def _clip(text: str, limit: int) -> str:
    if len(text) <= limit:
        return text
    return f"{text[:limit]}… ({len(text) - limit:,} more characters)"


def _img(data: bytes | None, alt: str) -> str:
    """A PNG embedded in the page (no file beside it needed)."""
    if data is None:
        return ""
    uri = "data:image/png;base64," + base64.b64encode(data).decode("ascii")
    return f'<p><img src="{uri}" alt="{esc(alt)}"></p>'


def _summary_table(agg: Aggregate) -> str:
    rows = []
    for series in agg.series:
        for fam in [*agg.ordered_families(), "all"]:
            cell = agg.cells.get((series, fam, None))
            if cell is None or not cell.episodes:
                continue
            cls = ' class="all"' if fam == "all" else ""
            rows.append(
                f"<tr{cls}><td>{esc(series)}</td><td>{esc(fam)}</td>"
                f'<td class="num">{cell.episodes}</td>'
                f'<td class="num">{_fmt(cell.success_rate, "pct")}</td>'
                f'<td class="num">{_fmt(cell.mean_reward, "signed")}</td>'
                f'<td class="num">{_fmt(cell.mean_turns, "mean")}</td>'
                f'<td class="num">{_fmt(cell.mean_tool_calls, "mean")}</td></tr>')
    return ('<table class="summary"><thead><tr><th>policy</th><th>family</th><th>episodes</th>'
            "<th>success</th><th>mean reward</th><th>mean turns</th><th>mean tool calls</th>"
            "</tr></thead><tbody>" + "".join(rows) + "</tbody></table>")


def _difficulty_table(agg: Aggregate) -> str:
    diffs = agg.difficulties()
    head = "".join(f"<th>{d}</th>" for d in diffs)
    rows = []
    for series in agg.series:
        for fam in [*agg.ordered_families(), "all"]:
            if (series, fam, None) not in agg.cells:
                continue
            cells = []
            for d in diffs:
                cell = agg.cells.get((series, fam, d))
                if cell is None or not cell.episodes:
                    cells.append('<td class="num">–</td>')
                    continue
                low, high = cell.success_interval
                cells.append(f'<td class="num" title="{cell.successes} of {cell.episodes} '
                             f"succeeded (95% interval {_fmt(low, 'pct')}–"
                             f"{_fmt(high, 'pct')}), mean reward "
                             f'{_fmt(cell.mean_reward, "signed")}">'
                             f'{_fmt(cell.success_rate, "pct")}'
                             f'<span class="n">{cell.episodes}</span></td>')
            cls = ' class="all"' if fam == "all" else ""
            rows.append(f"<tr{cls}><td>{esc(series)}</td><td>{esc(fam)}</td>"
                        + "".join(cells) + "</tr>")
    return ("<details><summary>success rate by family and difficulty, with the number of "
            "episodes of each cell in grey (table)</summary>"
            '<table class="by-difficulty"><thead><tr><th>policy</th><th>family</th>'
            f"{head}</tr></thead><tbody>" + "".join(rows) + "</tbody></table></details>")


def _failure_table(agg: Aggregate) -> str:
    totals = agg.tag_totals()
    if not totals:
        return '<p class="note">No failed episodes.</p>'
    failed = sum(agg.failed.values())
    series_heads = "".join(f"<th>{esc(s)}</th>" for s in agg.series)
    rows = []
    for tag, count in totals.most_common():
        per = "".join(f'<td class="num">{agg.tags[s][tag]}</td>' for s in agg.series)
        rows.append(f'<tr><td><span class="tag">{esc(tag)}</span></td>'
                    f"<td>{esc(agg.tag_source.get(tag, ''))}</td>"
                    f'<td class="num">{count}</td><td class="num">{count / failed:.0%}</td>'
                    f"{per}<td>{esc(_clip(agg.tag_example.get(tag, ''), 200))}</td></tr>")
    return ('<table class="failure-tags"><thead><tr><th>reason</th><th>from</th><th>failed '
            f"episodes</th><th>share of {failed} failed</th>{series_heads}<th>example</th>"
            "</tr></thead><tbody>" + "".join(rows) + "</tbody></table>")


def _num_cell(value: Any) -> str:
    return f'<td class="num">{"–" if value is None else esc(value)}</td>'


def _curriculum_table(state: dict[str, Any]) -> str:
    """A row per family: the final window's bounds and the counts at h (a cell each), the
    promotions and the last check."""
    history = sorted(state["history"], key=lambda e: e["episode"])
    promotions: Counter[str] = Counter(e["family"] for e in history if e.get("promoted"))
    checks: Counter[str] = Counter(e["family"] for e in history)
    last = {e["family"]: e for e in history}
    windows = state.get("windows", {})
    rows = []
    for fam in dict.fromkeys([*windows, *last]):
        window = curriculum_window(windows.get(fam))
        at_h = "–" if window is None or window.counted is None else (
            f"{window.successes if window.successes is not None else '?'} of "
            f"{window.counted}")
        rate = last.get(fam, {}).get("rate")
        rows.append(f"<tr><td>{esc(fam)}</td>"
                    + _num_cell(None if window is None else window.low)
                    + _num_cell(None if window is None else window.high)
                    + f'<td class="num">{esc(at_h)}</td>'
                    + _num_cell(checks[fam]) + _num_cell(promotions[fam])
                    + _num_cell(last.get(fam, {}).get("episode"))
                    + '<td class="num">'
                    + (_fmt(rate, "pct") if isinstance(rate, int | float) else "–")
                    + "</td></tr>")
    return ('<table class="curriculum"><thead><tr><th rowspan="2">family</th>'
            '<th colspan="3">final window</th><th rowspan="2">checks</th>'
            '<th rowspan="2">promotions</th><th colspan="2">last check</th></tr>'
            "<tr><th>l</th><th>h</th><th>succeeded at h since the last check</th>"
            "<th>episode</th><th>success rate at h</th></tr></thead><tbody>"
            + "".join(rows) + "</tbody></table>")


def _curriculum_section(states: list[tuple[Path, dict[str, Any]]], plot: bytes | None,
                        agg: Aggregate) -> str:
    if not states:
        note = ('<p class="note">No curriculum state given (<code>--curriculum '
                "state.json</code>), so there is no curriculum plot.")
        if agg.curriculum_records:
            note += (f" {agg.curriculum_records} of the records were played under a "
                     "curriculum.")
        return note + "</p>"
    parts = [_img(plot, "curriculum window over episodes") if plot else
             '<p class="note">The curriculum states have no history yet.</p>']
    for path, state in states:
        reported = state.get("reported")
        after = (f" after {esc(reported)} reported episodes" if isinstance(reported, int)
                 else "")
        parts.append(f"<h3>{esc(path.name)}</h3><p class=\"note\">Windows [l, h]{after}; a "
                     "check promotes (h + 1) when the success rate at h reaches the "
                     "threshold.</p>" + _curriculum_table(state))
    return "".join(parts)


def _message_html(message: Any) -> str:
    if not isinstance(message, dict):
        return f'<div class="msg">{esc(message)}</div>'
    role = str(message.get("role", "?"))
    content = message.get("content")
    text = "" if content is None else (content if isinstance(content, str)
                                       else json.dumps(content, ensure_ascii=False))
    label = role
    if role == "tool":
        label = f"tool {message.get('name', '')}".strip()
        text = _clip(text, TOOL_TEXT_LIMIT)
    calls = []
    raw_calls = message.get("tool_calls")
    for call in raw_calls if isinstance(raw_calls, list) else [raw_calls] if raw_calls else []:
        fn = call.get("function") if isinstance(call, dict) else None
        if isinstance(fn, dict):
            calls.append(f'<span class="call">→ {esc(fn.get("name", "?"))}'
                         f"({esc(fn.get('arguments', ''))})</span>")
        else:  # a malformed call: shown as it is
            raw = _clip(json.dumps(call, ensure_ascii=False, default=str), ARGS_TEXT_LIMIT)
            calls.append(f'<span class="call">→ ? {esc(raw)}</span>')
    cls = role if role in ("user", "assistant", "tool", "system") else ""
    return (f'<div class="msg {cls}"><span class="role">{esc(label)}</span>{esc(text)}'
            + "".join(calls) + "</div>")


def _trace_html(trace: Any) -> str:
    if not isinstance(trace, list) or not trace:
        return '<p class="note">No tool calls.</p>'
    rows = []
    for entry in trace:
        if not isinstance(entry, dict):
            continue
        args = json.dumps(entry.get("arguments", {}), ensure_ascii=False, sort_keys=True)
        ok = bool(entry.get("ok"))
        error = ": ".join(str(x) for x in (entry.get("error_code"), entry.get("error_message"))
                          if x)
        rows.append(f'<tr><td class="num">{esc(entry.get("seq", ""))}</td>'
                    f'<td class="num">{esc(entry.get("turn", ""))}</td>'
                    f"<td>{esc(entry.get('tool', '?'))}</td>"
                    f"<td>{esc(_clip(args, ARGS_TEXT_LIMIT))}</td>"
                    f'<td class="{"good" if ok else "bad"}">{"ok" if ok else "failed"}</td>'
                    f"<td>{esc(error)}</td></tr>")
    return ('<table class="trace"><thead><tr><th>#</th><th>turn</th><th>tool</th>'
            "<th>arguments</th><th>ok</th><th>error</th></tr></thead><tbody>"
            + "".join(rows) + "</tbody></table>")


def _examples_table(examples: list[tuple[str, dict[str, Any]]]) -> str:
    if not examples:
        return '<p class="note">No failed episodes.</p>'
    rows = []
    for i, (series, r) in enumerate(examples, 1):
        comps = "".join(
            f"<li><b>{esc(c.get('name'))}</b> ({_value(c):.2f}): "
            f"{esc(c.get('reason', ''))}</li>"
            for c in _list(r.get("reward_components"))
            if isinstance(c, dict) and _value(c) < 1.0)
        tags = "".join(f'<span class="tag">{esc(t.tag)}</span>' for t in failure_tags(r))
        cur = r.get("curriculum")
        where = (f"<br><small>curriculum window {esc(cur.get('window'))}, episode "
                 f"{esc(cur.get('episode'))}</small>" if isinstance(cur, dict) else "")
        messages = r.get("messages")
        messages = messages if isinstance(messages, list) else [messages] if messages else []
        trace = _list(r.get("trace"))
        rows.append(
            f'<tr class="example" id="example-{i}"><td class="num">{i}</td>'
            f"<td>{esc(r['family'])}</td><td class=\"num\">{esc(r['difficulty'])}</td>"
            f"<td>{esc(series)}</td><td>{esc(r.get('stop_reason', ''))}</td>"
            f'<td class="num">{float(r["reward"]) + 0.0:+.2f}</td>'
            f"<td>{tags}<ul>{comps}</ul><small>task <code>{esc(r.get('task_id', ''))}"
            f"</code>{where}</small></td></tr>"
            f'<tr class="detail"><td></td><td colspan="6">'
            f"<details class=\"conversation\"><summary>conversation ({len(messages)} "
            f"messages)</summary>{''.join(_message_html(m) for m in messages)}</details>"
            f"<details class=\"trace\"><summary>trace ({len(trace)} tool calls)</summary>"
            f"{_trace_html(trace)}</details></td></tr>")
    return ('<table class="examples"><thead><tr><th>#</th><th>family</th><th>difficulty</th>'
            "<th>policy</th><th>stop reason</th><th>reward</th><th>why it failed</th></tr>"
            "</thead><tbody>" + "".join(rows) + "</tbody></table>")


def page(title: str, agg: Aggregate, plots: dict[str, bytes | None],
          states: list[tuple[Path, dict[str, Any]]], inputs: list[Path],
          examples: list[tuple[str, dict[str, Any]]]) -> str:
    failed = sum(agg.failed.values())
    when = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    files = ", ".join(p.name for p in inputs)
    overview = "; ".join(
        f"{s}: {agg.cells[(s, 'all', None)].episodes} episodes, "
        f"{_fmt(agg.cells[(s, 'all', None)].success_rate, 'pct')} success, mean reward "
        f"{_fmt(agg.cells[(s, 'all', None)].mean_reward, 'signed')}" for s in agg.series)
    sections = [
        ("summary", "Summary by policy and family", _summary_table(agg)),
        ("difficulty", "Success and reward by difficulty",
         '<p class="note">A panel per family, a line per policy; error bars are 95% '
         "intervals (Wilson for the success rate, mean ± 1.96 standard errors for the "
         "reward), the number under each point is its episodes (n). Points from a few "
         "episodes say little.</p>"
         + _img(plots["success_by_difficulty"], "success rate by difficulty per family")
         + _img(plots["reward_by_difficulty"], "mean reward by difficulty per family")
         + _difficulty_table(agg)),
        ("rewards", "Reward distribution",
         '<p class="note">A bar per reward value (or bin; a reward of exactly 0 always has '
         "its own), split into succeeded (green) and failed (vermillion, hatched) episodes, "
         "with the count above.</p>"
         + _img(plots["rewards"], "reward histogram, succeeded and failed episodes")),
        ("failures", "Most common failure reasons",
         '<p class="note">Tags of failed episodes: one per failing intent of the task '
         "component, per penalty (hallucination, policy, unintended effects, safety, 3+ tool "
         "errors) and per stop reason; an episode counts once per tag.</p>"
         + _img(plots["failures"], "failure reasons bar chart") + _failure_table(agg)),
        ("curriculum", "Curriculum", _curriculum_section(states, plots["curriculum"], agg)),
        ("examples", f"Example failed episodes ({len(examples)} of {failed})",
         '<p class="note">Open a row\'s conversation or trace to see what went wrong; tool '
         f"results over {TOOL_TEXT_LIMIT:,} characters are truncated.</p>"
         + _examples_table(examples)),
    ]
    nav = "".join(f'<a href="#{key}">{esc(name.split(" (")[0])}</a>'
                  for key, name, _ in sections)
    body = "".join(f'<section id="{key}"><h2>{esc(name)}</h2>{content}</section>'
                   for key, name, content in sections)
    return (
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        '<link rel="icon" href="data:,">'  # no favicon request: nothing leaves the directory
        f"<title>{esc(title)}</title><style>{_CSS}</style></head><body>"
        f"<header><h1>{esc(title)}</h1><p>{agg.total} episodes ({failed} failed) from "
        f"{len(inputs)} file(s): {esc(files)}</p><p>{esc(overview)}</p>"
        f"<p>Generated {esc(when)} by shop-episodes report: this one file holds everything, "
        "plots included (the folder beside it has them as PNG files too)</p></header>"
        f"<nav>{nav}</nav><main>{body}</main></body></html>\n")
