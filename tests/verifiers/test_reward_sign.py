"""A reward of zero is written as 0.0, never -0.0 (a failure without penalties in sparse
mode computes max(-1.0, -0.25 * 0), which is -0.0)."""

from __future__ import annotations

import json
import math

import pytest

from verifiers.reward import combine


@pytest.mark.parametrize("mode", ["sparse", "shaped", "dense"])
def test_a_zero_reward_is_positive_zero(mode: str) -> None:
    value = combine(mode, success=False, task=0.0, efficiency=1.0,  # type: ignore[arg-type]
                    hallucination=1.0, errors=1.0, penalties=0)
    assert value == 0.0 and math.copysign(1.0, value) == 1.0
    assert json.dumps({"reward": value}) == '{"reward": 0.0}'


def test_penalties_still_lower_a_failure() -> None:
    assert combine("sparse", success=False, task=0.0, efficiency=1.0, hallucination=1.0,
                   errors=1.0, penalties=2) == -0.5
