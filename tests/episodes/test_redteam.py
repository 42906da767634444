"""The red-team suite (issue 11): every gaming agent of ``episodes.agents.redteam`` and every
correct-but-different agent of ``episodes.agents.variants`` over every family at difficulties
0-8 with 5 seeds per cell, through ``EpisodeController.run``.

- a gaming agent succeeds on at most 1% of the episodes where its move was made, and its mean
  reward stays below the heuristic's on the same tasks (invented ids before a right answer may
  keep the success, never at the full reward);
- a correct-but-different agent succeeds on at least 99% of the tasks the oracle solves where
  its twist applies.

The tasks are generated once and shared; each agent plays only the tasks its move can touch
(``episodes.audit.concerns``: a rephrased confirmation only where the gold asks one). The
episodes run in two worker processes, all agents' runs queued at once.
"""

from __future__ import annotations

from typing import Any

import pytest

from episodes.agents.redteam import PENALISED_ONLY, REDTEAM_AGENTS
from episodes.agents.variants import PHRASINGS, VARIANT_AGENTS
from episodes.audit import GAMING_MAX, VARIANT_MIN, Audit, describe, failures, run_audit
from episodes.generate import generate_task
from episodes.parallel import WorkerPool
from tests.conftest import TEST_SEED, TEST_SIZE
from verifiers.types import FAMILIES, TaskSpec

DIFFICULTIES = range(0, 9)
SEEDS = range(5)
WORKERS = 2


@pytest.fixture(scope="module")
def audit(ep_shop: Any) -> Audit:
    """The whole audit, played in two worker processes (each on a private copy of ``ep_shop``'s
    database): the agents' runs are handed to them together, so both cores stay busy. The
    records are those one process would make (``episodes.parallel``)."""
    tasks = [generate_task(ep_shop, f, d, s) for f in FAMILIES for d in DIFFICULTIES
             for s in SEEDS]
    with WorkerPool(str(ep_shop.engine.url), workers=WORKERS, catalog_seed=TEST_SEED,
                    catalog_size=TEST_SIZE) as pool:

        def run(agent: str, chosen: list[TaskSpec]) -> list[dict[str, Any]]:
            return pool.run(agent, chosen, concurrency=8)

        return run_audit(tasks, run, threads=2 * WORKERS)


def _offenders(audit: Audit, agent: str) -> str:
    return "\n".join(f"{agent} on {r['family']} {r['task_id']}: {describe(r)}"
                     for r in audit.total(agent).failed)


def test_every_agent_is_audited() -> None:
    assert len(PHRASINGS) >= 20
    assert {"hedge_turns", "hedge_values", "order_dump", "status_cycle", "refusal_cycle",
            "invented_ids"} <= set(REDTEAM_AGENTS)
    assert {f"switch_{t}" for t in ("payment", "gift_card_first", "shipping", "address",
                                    "refund", "reason", "items")} <= set(REDTEAM_AGENTS)


@pytest.mark.parametrize("agent", REDTEAM_AGENTS)
def test_gaming_agent_is_not_paid(audit: Audit, agent: str) -> None:
    total = audit.total(agent)
    assert total.episodes >= 20, f"{agent} made its move in only {total.episodes} episodes"
    if agent in PENALISED_ONLY:
        assert total.full_successes == 0, _offenders(audit, agent)
    else:
        assert total.rate <= GAMING_MAX, (
            f"{agent}: {total.successes}/{total.episodes} succeeded\n"
            + _offenders(audit, agent))
    assert total.mean < total.reference_mean, (
        f"{agent}: mean reward {total.mean:.3f}, heuristic {total.reference_mean:.3f}")


@pytest.mark.parametrize("agent", VARIANT_AGENTS)
def test_correct_variant_succeeds(audit: Audit, agent: str) -> None:
    total = audit.total(agent)
    assert total.episodes >= 20, f"{agent}'s twist applied in only {total.episodes} episodes"
    assert total.rate >= VARIANT_MIN, (
        f"{agent}: {total.successes}/{total.episodes} succeeded\n" + _offenders(audit, agent))


def test_audit_names_each_failure(audit: Audit) -> None:
    """The audit's own verdict agrees with the per-agent tests (nothing missed)."""
    assert failures(audit) == [], "\n".join(failures(audit))
