"""The heuristic's policy (one episode: the journeys put together, a request routed to one,
"One more thing:" starting the next) and the agent.
"""

from __future__ import annotations

import re

from episodes.agents.driven import Driven
from episodes.agents.heuristic.cart import _Cart
from episodes.agents.heuristic.conversation import Step, _NewRequest
from episodes.agents.heuristic.policy_answers import _policy_topic, _PolicyAnswers
from episodes.agents.heuristic.reading import _ORDER_ID, _PRODUCT_ID
from episodes.agents.heuristic.returns import _Returns
from episodes.agents.heuristic.style import style_for
from episodes.controller import Observation, Policy
from verifiers.types import TaskSpec


class _HeuristicPolicy(Driven, _Cart, _Returns, _PolicyAnswers):
    """One episode: a generator of actions driven by the observations sent back in."""

    def __init__(self, obs: Observation, seed: int, trial: int = 0) -> None:
        super().__init__(obs, *style_for(seed, trial))
        self.drive(self._main())

    def _main(self) -> Step:
        while True:
            try:
                yield from self._serve(self.segment[0])
                for _ in range(2):
                    yield from self._say("Is there anything else I can help you with?")
                return
            except _NewRequest as new:
                self.segment = [new.text]
                self.asked = set()

    # -- routing ----------------------------------------------------------------------------

    def _serve(self, request: str) -> Step:
        low = request.lower()
        has_order = bool(_ORDER_ID.search(request))
        if "?" in low and not has_order and "my order" not in low and (
                _policy_topic(low) != "other" or "policy" in low) and not re.search(
                r"i'd like to|please (add|cancel)|i bought", low):
            yield from self._policy()
        elif re.search(r"please cancel|\bcancel (?:my |the |this |an )?order", low):
            yield from self._cancel()
        elif re.search(r"\bexchange|\bswap\b", low):
            yield from self._exchange()
        elif re.search(r"\breturn\b|\brefund|send (it|them) back", low) and (
                has_order or re.search(r"i bought|i'd like to return|i want to return", low)):
            yield from self._return()
        elif re.search(r"where is my order|status of|check on my order|\btracking\b|"
                       r"where('s| is) my", low) or (has_order and "?" in low):
            yield from self._status()
        elif re.search(r"cheaper|more than i want to pay|less expensive", low):
            yield from self._discover(compare=True)
        elif re.search(r"add .* to my cart|take the .* out|in my cart|i'd like to order|"
                       r"i'd like to buy|check ?out|\bpurchase\b", low):
            yield from self._named_items()
        elif re.search(r"\bgift\b(?! card)|putting together", low) or (
                re.search(r"\btotal\b", low) and not _PRODUCT_ID.search(low)):
            yield from self._bundle()
        elif re.search(r"\bpolicy|how long|how much does|do you|can i|is there|what is your|"
                       r"what's your|are .* allowed|warranty", low):
            yield from self._policy()
        else:
            yield from self._discover(compare=False)


class HeuristicAgent:
    """Rule-based baseline agent (no privileged information).

    Its first trial of a task (``trial`` 0, the default) plays the heuristic's fixed
    behaviour; later trials draw their behaviour choices (``style.Style``) from ``seed``, so
    that repeated trials of a task can differ while each stays reproducible."""

    name = "heuristic"
    privileged = False

    def start(self, task: TaskSpec | None, obs: Observation, *, seed: int,
              trial: int = 0) -> Policy:
        return _HeuristicPolicy(obs, seed, trial)
