"""The random agent: random tools with random (well-formed) arguments and random messages.

A floor for the discrimination check: it should almost never succeed.
"""

from __future__ import annotations

import random
from typing import Any

from episodes.controller import Action, Observation, Policy, ToolRequest
from verifiers.types import TaskSpec

__all__ = ["RandomAgent"]

_WORDS = ("shoes", "blue", "headphones", "gift", "cheap", "toy", "jacket", "lamp", "coffee",
          "dog", "tent", "size", "red", "wireless", "kids", "garden", "order")
_MESSAGES = ("Here you go.", "Shall I place the order?", "What is your budget?",
             "Do you want me to cancel it?", "I have processed your return.",
             "Which size do you need?", "Done!", "Shall I go ahead with the exchange?")


class _RandomPolicy:
    def __init__(self, tools: list[dict[str, Any]], seed: int) -> None:
        self.rng = random.Random(seed)
        self.tools = tools
        self.seen: list[str] = []

    def _value(self, name: str, spec: dict[str, Any]) -> Any:
        rng = self.rng
        if name == "product_id" or name.endswith("product_id"):
            return f"P-{rng.randrange(1, 2000):06d}"
        if "variant" in name:
            return f"V-{rng.randrange(1, 2000):06d}-{rng.randrange(1, 4)}"
        if name == "order_id":
            return f"O-{rng.randrange(1001, 1012)}"
        if name == "payment_method_id":
            return f"PM-{rng.randrange(1, 4)}"
        if name == "product_ids":
            return [f"P-{rng.randrange(1, 2000):06d}" for _ in range(rng.randrange(1, 4))]
        if "enum" in spec:
            return rng.choice(spec["enum"])
        kind = spec.get("type")
        if kind == "integer":
            return rng.randrange(1, 4)
        if kind == "boolean":
            return rng.random() < 0.5
        if kind == "string":
            return rng.choice(_WORDS)
        return None

    def _call(self) -> ToolRequest:
        tool = self.rng.choice(self.tools)["function"]
        params = tool["parameters"].get("properties", {})
        required = set(tool["parameters"].get("required", []))
        args: dict[str, Any] = {}
        for name, spec in params.items():
            if name in required or self.rng.random() < 0.3:
                value = self._value(name, spec)
                if value is not None:
                    args[name] = value
        return ToolRequest(name=tool["name"], arguments=args)

    async def act(self, obs: Observation) -> Action:
        calls = [self._call() for _ in range(self.rng.randrange(0, 3))]
        return Action(tool_calls=calls, message=self.rng.choice(_MESSAGES))


class RandomAgent:
    name = "random"
    privileged = False

    def start(self, task: TaskSpec | None, obs: Observation, *, seed: int) -> Policy:
        return _RandomPolicy(obs.tools, seed)
