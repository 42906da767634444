"""A policy that plays a generator of actions, fed each observation (the heuristic, the
red-team scripts and the gold variants are all written this way)."""

from __future__ import annotations

from collections.abc import Generator
from typing import Any

from episodes.controller import Action, Observation

__all__ = ["Driven"]


class Driven:
    """Plays ``self._gen`` (set with ``drive``): its first action, then for each observation
    the action it yields next; ``done`` once it returns."""

    _gen: Generator[Action, Observation, Any]
    _started: bool = False

    def drive(self, gen: Generator[Action, Observation, Any]) -> None:
        self._gen, self._started = gen, False

    def observe(self, obs: Observation) -> None:
        """Called with every observation before the generator sees it."""

    async def act(self, obs: Observation) -> Action:
        self.observe(obs)
        try:
            if not self._started:
                self._started = True
                return next(self._gen)
            return self._gen.send(obs)
        except StopIteration:
            return Action(done=True)
