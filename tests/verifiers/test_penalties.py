"""Penalties on success: invented ids and failed calls cost a successful episode part of its
reward in every mode, and every success still scores above every failure."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.verifiers.builders import call, say, tool_call, tool_result
from tests.verifiers.test_reward import _variants, comp, episode
from verifiers.reward import combine, score

MODES = ("sparse", "shaped", "dense")


def red_team():  # type: ignore[no-untyped-def]
    """Five invented order ids, four not-found errors, then the right answer."""
    guesses = [f"O-{1001 + i}" for i in range(5)]
    msgs = []
    for i, oid in enumerate(guesses):
        msgs += [tool_call("get_order", {"order_id": oid}, f"g{i}"),
                 tool_result("not_found: no such order", f"g{i}")]
    errors = tuple(call("get_order", {"order_id": oid}, ok=False, seq=10 + i)
                   for i, oid in enumerate(guesses[:4]))
    return episode(extra_msgs=tuple(msgs), extra_calls=errors)


@pytest.mark.parametrize("mode", MODES)
def test_invented_ids_and_failed_calls_cost_a_success(mode: str) -> None:
    clean = score(episode(), mode=mode)  # type: ignore[arg-type]
    gamed = score(red_team(), mode=mode)  # type: ignore[arg-type]
    assert clean.success and gamed.success
    assert comp(gamed, "hallucination").reasons[0].params["ids"] == [
        f"O-{1001 + i}" for i in range(5)]
    assert comp(gamed, "errors").reasons[0].params["count"] == 4
    failures = [score(e, mode=mode) for e in _variants()]  # type: ignore[arg-type]
    worst_failure = max(b.reward for b in failures if not b.success)
    assert clean.reward > gamed.reward > worst_failure
    # each penalty alone costs something
    only_ids = score(episode(extra_msgs=(say("Is it O-4242?"),)), mode=mode)  # type: ignore[arg-type]
    only_errors = score(episode(extra_calls=red_team().trace[2:]), mode=mode)  # type: ignore[arg-type]
    assert clean.reward > only_ids.reward > gamed.reward
    assert clean.reward > only_errors.reward > gamed.reward


def test_the_sparse_scale() -> None:
    assert score(episode()).reward == 1.0
    assert score(red_team()).reward == 0.5  # 1 - 0.25 (invented ids) - 0.25 (3+ failed calls)


unit = st.floats(0.0, 1.0)
errors = st.integers(0, 3).map(lambda n: 1 - n / 3)


@settings(max_examples=400, deadline=None)
@given(mode=st.sampled_from(MODES),
       wins=st.lists(st.tuples(unit, st.sampled_from([0.0, 1.0]), errors),
                     min_size=1, max_size=8),
       losses=st.lists(st.tuples(unit, unit, st.sampled_from([0.0, 1.0]), errors,
                                 st.integers(0, 4)), min_size=1, max_size=8))
def test_every_success_beats_every_failure(mode: str, wins: list, losses: list) -> None:
    """Over any component values a success can have (task done, no rule broken) and any a
    failure can have (task not done, or a rule broken), min(successes) > max(failures)."""
    best_loss = -2.0
    for task, eff, halluc, err, rules in losses:
        done = rules > 0  # a failure with every intent done broke a rule
        value = 1.0 if done else min(task, 0.99)
        penalties = rules + (halluc == 0.0) + (err == 0.0)
        reward = combine(mode, success=False, task=value, efficiency=eff,  # type: ignore[arg-type]
                         hallucination=halluc, errors=err, penalties=penalties)
        assert -1.0 <= reward <= 0.6
        best_loss = max(best_loss, reward)
    worst_win = min(
        combine(mode, success=True, task=1.0, efficiency=eff, hallucination=halluc,  # type: ignore[arg-type]
                errors=err, penalties=int(halluc == 0.0) + int(err == 0.0))
        for eff, halluc, err in wins)
    assert 0.0 < worst_win <= 1.0
    assert worst_win > best_loss
