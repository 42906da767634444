"""The controller records, when the shopper accepts an intent and moves on, the snapshot the
verifiers judge that intent in."""

from __future__ import annotations

from typing import Any

from episodes.agents.oracle import gold_actions
from episodes.controller import EpisodeController
from episodes.generate import generate_task


async def test_multi_intent_episodes_snapshot_each_intent_moved_on_from(ep_shop: Any) -> None:
    for seed in (1, 2, 3):
        task = generate_task(ep_shop, "multi", 4, seed)
        async with EpisodeController(ep_shop) as controller:
            episode = controller.episode(task)
            await episode.reset()
            for action in gold_actions(task.gold):
                if (await episode.step(action)).done:
                    break
        assert episode.breakdown is not None and episode.breakdown.success
        snaps = episode.input.snapshots
        # every intent but the last was accepted and moved on from, in order
        assert [s.index for s in snaps] == list(range(len(task.intents) - 1))
        assert [s.turn for s in snaps] == sorted(s.turn for s in snaps)
        for snap in snaps:
            assert snap.intent.kind == task.intents[snap.index].kind
            assert episode.shopper is not None
            # the next intent counts from the turn after (or later, after a change of mind)
            assert episode.shopper.since[snap.index + 1] >= snap.turn + 1
