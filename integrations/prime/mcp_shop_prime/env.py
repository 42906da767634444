"""The conversation: the shopper (on the env server) talks with the model under evaluation.

The env relays between them. The shopper's opening opens the model's interaction; a segment
of the model's tool calls runs through :class:`~mcp_shop_prime.toolset.ShopToolset` (one
``POST /step`` per call); the segment's final text goes to the shopper as the step's message,
and the shopper's reply is the model's next user turn. The episode ends when the server says
done, when the model replies with no text, or when the model's run stops (turn limit): then
the env sends ``{"done": true}`` so the server scores what was done.
"""

from __future__ import annotations

import verifiers.v1 as vf

from mcp_shop_prime import client
from mcp_shop_prime.toolset import ShopState

__all__ = ["ShopEnv", "ShopEnvConfig"]


class ShopEnvConfig(vf.EnvConfig):
    agent: vf.AgentConfig = vf.AgentConfig(harness={"id": "null"},
                                           runtime={"type": "subprocess"}, max_turns=200)
    """The shop assistant under evaluation: the library's tool-calling chat loop (``null``
    harness: MCP tools, no shell) on this machine, at most 200 model calls an episode (the
    server's own turn and tool-call budgets end an episode well before); override with
    ``--env.agent.*``."""


class ShopEnv(vf.Env[ShopEnvConfig]):
    async def run(self, task: vf.Task, agents: vf.Agents) -> None:
        async with agents.agent.interaction(task) as chat:
            state: ShopState = chat.trace.state
            segment = await chat.turn(state.opening)
            while True:
                state = chat.trace.state  # the tool server replaces it after each call
                if state.done or segment.terminated:
                    break
                reply = segment.last_reply
                if not reply:  # an empty reply ends the conversation
                    break
                observed = await client.step(state.base_url, state.episode_id,
                                             {"message": reply}, timeout=state.timeout)
                state.absorb(observed)
                if state.done or observed.shopper_message is None:
                    break
                segment = await chat.turn(observed.shopper_message)
            state = chat.trace.state
            if not state.done:
                state.absorb(await client.step(state.base_url, state.episode_id,
                                               {"done": True}, timeout=state.timeout))
