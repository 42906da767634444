"""tau2-bench retail tasks played on this shop: tasks in the project's formats
(``episodes.tau2.tasks``), scripted and LLM users (``users``), the oracle and the LLM agent
(``agents``), the environment and the episode loop (``env``, ``episode``), tau2's verdict
beside this project's components (``scoring``), the command line (``cli``, ``crosseval``),
and the trainer doors: a Gymnasium env (``gym_env``, "McpShopTau2Retail-v0") and a TRL tool
env (``trl_env``) over a runner held on a background loop (``sync``). See
docs/tau2-retail.md.

    from episodes.tau2 import Tau2Env, Tau2Oracle, Tau2Runner, select_tasks
    world = load_tau2_retail("~/src/tau2-bench")
    env = Tau2Env.open(world, "sqlite:///tau2.db")
    async with Tau2Runner(env) as runner:
        records = await runner.run(Tau2Oracle(), select_tasks(world, split="test"))
"""

from __future__ import annotations

from typing import Any

__all__ = ["LLMUser", "ScriptedUser", "Tau2Env", "Tau2Oracle", "Tau2RetailEnv", "Tau2Runner",
           "Tau2Task", "Tau2ToolEnv", "select_tasks", "tau2_rows", "tau2_world"]

_WHERE = {"LLMUser": "users", "ScriptedUser": "users", "Tau2Env": "env",
          "Tau2Oracle": "agents", "Tau2RetailEnv": "gym_env", "Tau2Runner": "episode",
          "Tau2Task": "tasks", "Tau2ToolEnv": "trl_env", "select_tasks": "tasks",
          "tau2_rows": "trl_env", "tau2_world": "sync"}


def __getattr__(name: str) -> Any:  # imported when first used (the CLI's parser imports cli)
    if name in _WHERE:
        from importlib import import_module

        return getattr(import_module(f"episodes.tau2.{_WHERE[name]}"), name)
    raise AttributeError(name)
