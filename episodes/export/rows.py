"""The three exports: rollouts to SFT rows, DPO preference pairs and KTO labelled rows,
by the rules in the package docstring."""

from __future__ import annotations

from collections import Counter
from collections.abc import Collection, Iterable
from typing import Any

from episodes.export.conversations import _Episode, _episodes, _key, _metadata
from episodes.export.formats import ArgumentsForm, ExportError

__all__ = ["DEFAULT_MARGIN", "DEFAULT_MAX_PAIRS", "export_dpo", "export_kto", "export_sft"]

DEFAULT_MARGIN = 0.5
DEFAULT_MAX_PAIRS = 4


def export_sft(records: Iterable[dict[str, Any]], *, min_reward: float = 0.0,
               require_success: bool = True, system_prompt: str | None = None,
               policies: Collection[str] | None = None, with_metadata: bool = False,
               arguments: ArgumentsForm = "dict", skipped: Counter[str] | None = None,
               ) -> list[dict[str, Any]]:
    """SFT rows (``messages``, ``tools``) of the episodes with ``success`` (unless not
    ``require_success``) and ``reward >= min_reward``, in input order, each distinct
    conversation once. Episodes left out are counted by reason in ``skipped``."""
    skipped = skipped if skipped is not None else Counter()
    rows: list[dict[str, Any]] = []
    seen: set[str] = set()
    for ep in _episodes(records, policies=policies, system_prompt=system_prompt,
                        arguments=arguments, skipped=skipped):
        if require_success and not ep.success:
            skipped["failed episodes"] += 1
            continue
        if ep.reward < min_reward:
            skipped[f"episodes with reward below {min_reward:g}"] += 1
            continue
        key = _key(ep.messages, ep.tools)
        if key in seen:
            skipped["duplicate conversations"] += 1
            continue
        seen.add(key)
        row: dict[str, Any] = {"messages": ep.messages, "tools": ep.tools}
        if with_metadata:
            row.update(_metadata(ep.record))
        rows.append(row)
    return rows


def _split(a: list[dict[str, Any]], b: list[dict[str, Any]]) -> int | None:
    """Where two conversations of one task part: the length of their longest common prefix,
    cut back until both rests start with an assistant message; None if there is no such point
    after a shopper's message."""
    k = 0
    while k < len(a) and k < len(b) and a[k] == b[k]:
        k += 1
    while k > 0:
        if (k < len(a) and k < len(b) and a[k]["role"] == "assistant"
                and b[k]["role"] == "assistant"):
            return k if any(m["role"] == "user" for m in a[:k]) else None
        k -= 1
    return None


def export_dpo(records: Iterable[dict[str, Any]], *, margin: float = DEFAULT_MARGIN,
               max_pairs_per_group: int | None = DEFAULT_MAX_PAIRS,
               system_prompt: str | None = None, policies: Collection[str] | None = None,
               with_metadata: bool = False, arguments: ArgumentsForm = "dict",
               skipped: Counter[str] | None = None) -> list[dict[str, Any]]:
    """DPO rows (``prompt``, ``chosen``, ``rejected``, ``tools``): pairs of episodes of one
    task whose rewards differ by at least ``margin``, by the rule in the package docstring.
    Groups are taken in order of first appearance. What is left out is counted in
    ``skipped``."""
    if not margin > 0:
        raise ExportError(f"the margin must be above 0, got {margin:g}")
    if max_pairs_per_group is not None and max_pairs_per_group < 1:
        raise ExportError(f"--max-pairs-per-group must be 1 or more, got {max_pairs_per_group}")
    skipped = skipped if skipped is not None else Counter()
    groups: dict[str, list[_Episode]] = {}
    seen: set[str] = set()
    for ep in _episodes(records, policies=policies, system_prompt=system_prompt,
                        arguments=arguments, skipped=skipped):
        key = _key(ep.group, ep.messages, ep.tools, ep.reward)
        if key in seen:
            skipped["duplicate conversations"] += 1
            continue
        seen.add(key)
        groups.setdefault(ep.group, []).append(ep)
    rows: list[dict[str, Any]] = []
    for group in groups.values():
        if len(group) < 2:
            skipped["tasks with a single episode"] += 1
            continue
        ranked = sorted(group, key=lambda e: (-e.reward, e.index))
        emitted: set[str] = set()
        found = False
        for chosen in ranked:
            worse = sorted((e for e in group if e.reward <= chosen.reward - margin),
                           key=lambda e: (e.reward, e.index))
            for rejected in worse:
                found = True
                if _key(chosen.tools) != _key(rejected.tools):
                    skipped["pairs with different tool lists"] += 1
                    continue
                cut = _split(chosen.messages, rejected.messages)
                if cut is None:
                    skipped["pairs with no common opening"] += 1
                    continue
                prompt = chosen.messages[:cut]
                pair = (prompt, chosen.messages[cut:], rejected.messages[cut:])
                key = _key(*pair)
                if key in emitted:
                    skipped["duplicate pairs"] += 1
                    continue
                if max_pairs_per_group is not None and len(emitted) >= max_pairs_per_group:
                    skipped["pairs beyond --max-pairs-per-group"] += 1
                    continue
                emitted.add(key)
                row: dict[str, Any] = {"prompt": pair[0], "chosen": pair[1],
                                       "rejected": pair[2], "tools": chosen.tools}
                if with_metadata:
                    c, r = chosen.record, rejected.record
                    row.update(task_id=c.get("task_id"), family=c.get("family"),
                               difficulty=c.get("difficulty"),
                               chosen_rollout_id=c.get("rollout_id"),
                               rejected_rollout_id=r.get("rollout_id"),
                               chosen_policy=c.get("policy"), rejected_policy=r.get("policy"),
                               chosen_reward=c["reward"], rejected_reward=r["reward"])
                rows.append(row)
        if not found:
            skipped[f"tasks without a reward gap of {margin:g}"] += 1
    return rows


def export_kto(records: Iterable[dict[str, Any]], *, threshold: float | None = None,
               system_prompt: str | None = None, policies: Collection[str] | None = None,
               with_metadata: bool = False, arguments: ArgumentsForm = "dict",
               skipped: Counter[str] | None = None) -> list[dict[str, Any]]:
    """KTO rows (``prompt``, ``completion``, ``label``, ``tools``), one per episode in input
    order: the opening as the prompt, the rest as the completion, labelled by ``success`` (or
    ``reward >= threshold``); identical rows once. Left-out episodes are counted in
    ``skipped``."""
    skipped = skipped if skipped is not None else Counter()
    rows: list[dict[str, Any]] = []
    seen: set[str] = set()
    for ep in _episodes(records, policies=policies, system_prompt=system_prompt,
                        arguments=arguments, skipped=skipped):
        first_user = next(i for i, m in enumerate(ep.messages) if m["role"] == "user")
        prompt, completion = ep.messages[:first_user + 1], ep.messages[first_user + 1:]
        if not completion or completion[0]["role"] != "assistant":
            skipped["episodes where the agent did nothing"] += 1
            continue
        label = ep.success if threshold is None else ep.reward >= threshold
        key = _key(prompt, completion, label, ep.tools)
        if key in seen:
            skipped["duplicate conversations"] += 1
            continue
        seen.add(key)
        row: dict[str, Any] = {"prompt": prompt, "completion": completion, "label": label,
                               "tools": ep.tools}
        if with_metadata:
            row.update(_metadata(ep.record))
        rows.append(row)
    return rows
