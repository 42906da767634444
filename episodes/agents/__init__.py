"""Baseline agents: ``oracle`` (replays the gold solution through the real tools), ``heuristic``
(reads the shopper's messages, searches, asks about missing slots, acts; no privileged
information), ``random`` and ``llm`` (a model behind any OpenAI-compatible endpoint, see
``episodes.agents.llm``). Anything with ``name``, ``privileged`` and ``start(task, obs,
seed=)`` returning a policy with ``async act(obs) -> Action`` is an agent (``Agent``); a
``start`` that also takes ``trial=`` is told which play of the task it is (0: the first)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from episodes.agents.oracle import OracleAgent
from episodes.agents.random_agent import RandomAgent
from episodes.controller import Agent

__all__ = ["AGENTS", "OracleAgent", "RandomAgent", "make_agent"]


def _heuristic() -> Agent:
    from episodes.agents.heuristic import HeuristicAgent

    return HeuristicAgent()


def _llm() -> Agent:
    from episodes.agents.llm import LLMAgent

    return LLMAgent.from_env()


AGENTS: dict[str, Callable[[], Any]] = {
    "oracle": OracleAgent,
    "heuristic": _heuristic,
    "random": RandomAgent,
    "llm": _llm,
}


def _named(module: str, cls: str, name: str) -> Callable[[], Agent]:
    """A factory of agent ``name`` of ``module``'s ``cls`` (imported when first made)."""
    def make() -> Agent:
        from importlib import import_module

        agent: Agent = getattr(import_module(module), cls)(name)
        return agent
    return make


def _register_audit_agents() -> None:
    """The red-team and correct-but-different agents (``shop-episodes audit``)."""
    from episodes.agents.redteam import REDTEAM_AGENTS
    from episodes.agents.variants import VARIANT_AGENTS

    for name in REDTEAM_AGENTS:
        AGENTS[name] = _named("episodes.agents.redteam", "RedTeamAgent", name)
    for name in VARIANT_AGENTS:
        AGENTS[name] = _named("episodes.agents.variants", "VariantAgent", name)


_register_audit_agents()


def make_agent(name: str) -> Agent:
    """The built-in agent called ``name``."""
    try:
        factory = AGENTS[name]
    except KeyError:
        raise ValueError(f"unknown agent {name!r}; choose one of {', '.join(AGENTS)}") from None
    agent: Agent = factory()
    return agent
