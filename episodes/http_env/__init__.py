"""``shop-episodes serve-env``: the episode environment as an OpenEnv server, for remote
trainers (TRL, SkyRL, verifiers, ...). Needs the ``openenv`` extra (``pip install
'mcp-shop[openenv]'``).

    shop-episodes serve-env --port 8100 --db sqlite:///shop.db --tasks tasks.jsonl

A process holds one shop, one ``EpisodeController`` (an in-memory MCP connection) and one
``EpisodeTable`` whose episodes, each named by an ``episode_id``, live in the shop's database
(table ``env_episode``: a snapshot after every reset and step). Every process on the same
database and ``--pool`` serves every episode, so any number of them can stand behind an
ordinary load balancer (deploy/compose): a reset on one and the next step on another. Two
doors lead to the same episodes:

* OpenEnv's WebSocket ``/ws`` (openenv-core's ``EnvClient``; ``episodes.openenv_env.ShopEnv``
  is the typed client): one session per connection; ``{"type": "reset", "data": {...reset
  body...}}``, ``{"type": "step", "data": {...action...}}``, ``{"type": "state"}``, ``{"type":
  "close"}``. Closing a session drops its episode if it is still running.
* Plain HTTP, stateful (OpenEnv's paths and answer shape, plus ``episode_id``):

=========================  ==================================================================
``POST /reset``            ``{"family", "difficulty", "seed"}`` (generated), ``{"task":
                           {...TaskSpec...}}`` or ``{"task_id"}`` (from ``--tasks``); optional
                           ``policy`` and ``trial`` (they name the rollout record) and
                           ``episode_id`` (default: a fresh random one) -> ``{"observation":
                           {"episode_id", "shopper_message", "tools", "task", "limits",
                           "reward_mode", ...}, "reward": null, "done": false}``
``POST /step``             ``{"episode_id", "action": {"tool_calls": [{"name", "arguments"}],
                           "message", "done"}}`` -> ``{"observation": {"tool_results",
                           "shopper_message", "turn", "tool_calls", "terminated", "truncated",
                           ...}, "reward", "done"}``; once done the observation also has
                           ``stop_reason``, ``success``, ``breakdown`` and ``record``
``GET /state``             ``?episode_id=``: task, step_count, turn, tool calls, messages,
                           done, and the reward and success once done
``GET /record``            ``?episode_id=``: the rollout record of a finished episode (the JSONL
                           line ``shop-episodes run`` writes)
``POST /close``            ``{"episode_id"}``: forget an episode now
``GET /health``            ``{"status": "healthy", "episodes", "running", "sessions", ...}``
``GET /schema``            the action, observation and state JSON schemas (OpenEnv)
``GET /metadata``          name, description, version (OpenEnv); ``/docs``: the OpenAPI UI
``/mcp``                   the shop's MCP endpoint (Streamable HTTP), as ``mcp-shop serve``
=========================  ==================================================================

The action (``ShopAction``) is the same on both doors: tool calls, run in order, then
optionally a message to the shopper (which ends the agent's turn; the observation carries the
shopper's reply), or ``done: true`` to end the episode. The observation (``ShopObservation``)
is too; ``observation.record`` equals ``GET /record``.

Client mistakes get a 4xx JSON ``{"error": "..."}`` saying what is wrong and what would be
valid: 400 a body that is not a JSON object, is nested too deeply or holds an integer of more
than 4,300 digits, 404 unknown episode or endpoint, 409 a step on a finished episode (or on one
whose previous step is still running) or before any reset, 413 a body over 4 MiB, 422 a body
that does not fit (an unknown field, a bad family or difficulty, a task whose world does not fit
the shop, an action naming a tool not offered: such an action is not run at all; bad tool
*arguments* are the agent's to see, as a failed tool result), 429 the table is full. On the
WebSocket the same messages come as OpenEnv error messages (``{"type": "error", "data":
{"message", "code"}}``) and the session goes on. Host and Origin headers are checked on every
request and WebSocket as on ``mcp-shop serve --http`` (DNS-rebinding protection: localhost plus
``--allowed-host`` / ``--allowed-origin``): 421 / 403, WebSocket close 1008.

Limits: at most ``--max-episodes`` episodes are kept in a pool, by all its processes together
(and as many WebSocket sessions per process). A reset that finds the pool full first drops the
finished episode used least recently, and fails with 429 if every one is still running. A
WebSocket session's reset replaces its running episode only once the new one has started: its
place counts as free for the new one, and a refused reset (422, 409, 429) leaves it running; a
reset naming the session's own current ``episode_id`` is a 409.
Episodes nobody touched for ``--idle-timeout`` seconds (wall-clock time of the processes, which
must agree to well under the timeout; never the shop's clock) are dropped at the next request;
a dropped episode's id then gets a 404 that says why. A step holds its episode (a lease in the
database, renewed while the step runs): another step on it, from any process, gets a 409; an
episode whose step died with its process cannot go on (404, saying so, once the lease ran out
after 30 s). Once an episode is done its shop session is removed (its trace lives on in the
record); with ``--expose-session`` once it is dropped; ``--keep-sessions`` keeps them.

The session handle: the controller injects it into every tool call, so agents never see it.
With ``--expose-session`` the reset observation also carries ``session_id``, so that an agent
can call the tools itself over ``/mcp`` (passing ``session_id``) and use ``/step`` for its
messages to the shopper. Such calls are in the server's trace, so they are scored, but they are
not in the episode's messages, observations or tool budget, and the shopper does not see their
results (only the shop state they leave); the shop state is re-read before every shopper turn.

Steps run on the server's event loop (the controller is async; the shop's SQLite calls are
short and synchronous), so many episodes proceed concurrently, interleaved at their tool calls.
A process keeps the episodes it last touched in memory and uses that copy while it is still
the stored version (one more per write), so a client that stays on one process pays only the
snapshot's write per step.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

# The server in modules by concern: protocol (endpoints, EnvError, request bodies), sessions
# (EpisodeTable), store (EpisodeStore: the episodes' rows), snapshot (an Episode as JSON and
# back), task_source (the task a reset names), guard (Host/Origin and JSON checks), app
# (build_env_app: OpenEnv's server and our routes), cli (serve-env, main). app needs
# openenv-core, so it is imported when used: ``shop-episodes`` registers serve-env without it.
from episodes.http_env.cli import DEFAULT_PORT as DEFAULT_PORT
from episodes.http_env.cli import DESCRIPTION as DESCRIPTION
from episodes.http_env.cli import add_serve_env_command, cmd_serve_env, main
from episodes.http_env.protocol import ENDPOINTS as ENDPOINTS
from episodes.http_env.protocol import MAX_BODY_BYTES as MAX_BODY_BYTES
from episodes.http_env.protocol import MAX_JSON_DEPTH as MAX_JSON_DEPTH
from episodes.http_env.protocol import CloseBody as CloseBody
from episodes.http_env.protocol import EnvError
from episodes.http_env.protocol import ResetBody as ResetBody
from episodes.http_env.protocol import StepBody as StepBody
from episodes.http_env.sessions import (
    DEFAULT_IDLE_TIMEOUT,
    DEFAULT_MAX_EPISODES,
    DEFAULT_POOL,
    EpisodeTable,
)
from episodes.http_env.task_source import TASK_CACHE_SIZE as TASK_CACHE_SIZE

if TYPE_CHECKING:
    from episodes.http_env.app import build_env_app

__all__ = [
    "DEFAULT_IDLE_TIMEOUT",
    "DEFAULT_MAX_EPISODES",
    "DEFAULT_POOL",
    "EnvError",
    "EpisodeTable",
    "add_serve_env_command",
    "build_env_app",
    "cmd_serve_env",
    "main",
]


def __getattr__(name: str) -> Any:
    if name == "build_env_app":
        from episodes.http_env.app import build_env_app

        return build_env_app
    raise AttributeError(f"module 'episodes.http_env' has no attribute {name!r}")
