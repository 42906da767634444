"""The heuristic's conversation plumbing: tool calls, messages to the shopper (a new request
interrupts the current one), questions asked once, facts stated.
"""

from __future__ import annotations

import random
from collections.abc import Generator
from typing import Any

from episodes.agents.heuristic.reading import _MORE
from episodes.agents.heuristic.style import DEFAULT, Style
from episodes.agents.heuristic.vocab import (
    _builtin_only,
    _clean,
    _foreign,
    _learn_brands,
    _use_tree,
)
from episodes.controller import Action, Observation, ToolRequest

Step = Generator[Action, Observation, Any]


class _NewRequest(Exception):
    """The shopper moved on to another request."""

    def __init__(self, text: str) -> None:
        super().__init__(text)
        self.text = text


class _Conversation:
    """What every journey of the policy builds on: the episode's state and its plumbing."""

    def __init__(self, obs: Observation, style: Style = DEFAULT,
                 rng: random.Random | None = None) -> None:
        self.style = style
        self.rng = rng  # tie-breaks between equally good candidates (None: by search rank)
        self.segment: list[str] = [_clean(obs.shopper_message or "")]
        self.asked: set[str] = set()
        self.views: dict[str, dict[str, Any]] = {}
        self.tools = {t.get("function", {}).get("name") for t in obs.tools}
        self.last_error = ""

    # -- plumbing ---------------------------------------------------------------------------

    def _calls(self, *reqs: tuple[str, dict[str, Any]]) -> Step:
        """Make tool calls; returns each one's content (None when it failed)."""
        obs = yield Action(tool_calls=[ToolRequest(name=n, arguments=a) for n, a in reqs])
        out: list[Any] = []
        for k in range(len(reqs)):
            res = obs.tool_results[k] if k < len(obs.tool_results) else None
            if res is None or not res.ok:
                self.last_error = str(res.content) if res is not None else "no result"
                out.append(None)
            else:
                out.append(res.content)
                if res.name == "get_product" and isinstance(res.content, dict):
                    self.views[res.content["product_id"]] = res.content
        if any(r[0] == "search_products" for r in reqs):
            hits = [h for x in out if isinstance(x, dict) for h in x.get("hits", [])]
            unknown = any(x is None for x in out) and "unknown category" in self.last_error
            if _foreign(hits) or unknown and _builtin_only():  # another catalog: read its words
                _use_tree((yield from self._call("list_categories", depth=4)))
            _learn_brands(hits)
        return out

    def _call(self, name: str, **args: Any) -> Step:
        out = yield from self._calls((name, args))
        return out[0]

    def _say(self, text: str, *reqs: tuple[str, dict[str, Any]]) -> Step:
        """Send a message (after optional tool calls); returns the shopper's cleaned reply."""
        obs = yield Action(tool_calls=[ToolRequest(name=n, arguments=a) for n, a in reqs],
                           message=text)
        reply = _clean(obs.shopper_message or "")
        m = _MORE.search(reply)
        if m:
            raise _NewRequest(reply[m.end():])
        self.segment.append(reply)
        return reply

    @property
    def said(self) -> str:
        return " ".join(self.segment)

    def _ask_once(self, key: str, question: str) -> Step:
        if key in self.asked:
            return None
        self.asked.add(key)
        reply = yield from self._say(question)
        return reply

    def _tell(self, *facts: dict[str, Any]) -> Step:
        """State facts to the shopper (``state_facts``)."""
        if facts:
            yield from self._call("state_facts", facts=list(facts))

    def _tell_and_say(self, facts: list[dict[str, Any]], text: str) -> Step:
        """State facts, then say ``text`` (in one step when the style says so); returns the
        shopper's reply."""
        if facts and self.style.facts_with_message:
            reply = yield from self._say(text, ("state_facts", {"facts": facts}))
            return reply
        yield from self._tell(*facts)
        reply = yield from self._say(text)
        return reply

    def _ranks(self, n: int) -> list[int]:
        """Tie-break ranks for ``n`` candidates in search order: the search order itself, or
        a random order when the style breaks ties at random."""
        if self.rng is None or not self.style.shuffle_ties:
            return list(range(n))
        return self.rng.sample(range(n), n)
