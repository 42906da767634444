"""``shop-episodes serve-env``: the episode environment over HTTP, OpenEnv style, for remote
trainers (TRL, SkyRL, verifiers, ...).

    shop-episodes serve-env --port 8100 --db sqlite:///shop.db --tasks tasks.jsonl

One process holds one shop and one ``EpisodeController`` (an in-memory MCP connection) and a
table of live episodes, each addressed by an unguessable ``episode_id``:

=========================  ==================================================================
``POST /reset``            start an episode: ``{"family", "difficulty", "seed"}`` (generated),
                           ``{"task": {...TaskSpec...}}`` or ``{"task_id"}`` (from ``--tasks``);
                           optional ``policy`` and ``trial`` (they name the rollout record)
``POST /step``             ``{"episode_id", "action": {"tool_calls": [{"name", "arguments"}],
                           "message", "done"}}`` -> observation, reward, terminated, truncated,
                           done, info (``info.breakdown`` once done)
``GET /state``             ``?episode_id=``: turn, tool calls, messages so far, done, and the
                           reward and success once done
``GET /record``            ``?episode_id=``: the rollout record of a finished episode (the JSONL
                           line ``shop-episodes run`` writes)
``POST /close``            ``{"episode_id"}``: forget an episode now
``GET /health``            ``{"status": "ok", "episodes": n, ...}``
``/mcp``                   the shop's MCP endpoint (Streamable HTTP), as ``mcp-shop serve``
=========================  ==================================================================

Client mistakes get a 4xx JSON ``{"error": "..."}`` saying what is wrong and what would be
valid: 400 malformed JSON, 404 unknown episode or endpoint, 409 a step on a finished episode
(or on one whose previous step is still running), 413 a body over 4 MiB, 422 a body that does
not fit (an unknown field, a bad family or difficulty, a task whose world does not fit the
shop, an action naming a tool not offered: such an action is not run at all; bad tool
*arguments* are the agent's to see, as a failed tool result), 429 the table is full. Host and
Origin headers are checked as on ``mcp-shop serve --http`` (DNS-rebinding protection: localhost
plus ``--allowed-host`` / ``--allowed-origin``): 421 / 403.

Limits: at most ``--max-episodes`` episodes are kept. A reset that finds the table full first
drops the finished episode used least recently, and fails with 429 if every one is still
running. Episodes nobody touched for ``--idle-timeout`` seconds (monotonic server time, never
the shop's clock) are dropped at the next request; a dropped episode's id then gets a 404
that says why.

The session handle: the controller injects it into every tool call, so agents never see it.
With ``--expose-session`` the reset answer also carries ``session_id``, so that an agent can
call the tools itself over ``/mcp`` (passing ``session_id``) and use ``/step`` for its messages
to the shopper. Such calls are in the server's trace, so they are scored, but they are not in
the episode's messages, observations or tool budget, and the shopper does not see their results
(only the shop state they leave); the shop state is re-read before every shopper turn.

Steps run on the server's event loop (the controller is async; the shop's SQLite calls are
short and synchronous), so many episodes proceed concurrently, interleaved at their tool calls.
"""

from __future__ import annotations

# The env in modules by concern: protocol (endpoints, EnvError, request bodies), sessions
# (EpisodeTable), app (build_env_app: routes, Host/Origin checks), cli (serve-env, main).
from episodes.http_env.app import Handler as Handler
from episodes.http_env.app import build_env_app
from episodes.http_env.app import log as log
from episodes.http_env.cli import DEFAULT_PORT as DEFAULT_PORT
from episodes.http_env.cli import DESCRIPTION as DESCRIPTION
from episodes.http_env.cli import add_serve_env_command, cmd_serve_env, main
from episodes.http_env.protocol import ENDPOINTS as ENDPOINTS
from episodes.http_env.protocol import MAX_BODY_BYTES as MAX_BODY_BYTES
from episodes.http_env.protocol import MAX_JSON_DEPTH as MAX_JSON_DEPTH
from episodes.http_env.protocol import ActionBody as ActionBody
from episodes.http_env.protocol import CloseBody as CloseBody
from episodes.http_env.protocol import EnvError
from episodes.http_env.protocol import ResetBody as ResetBody
from episodes.http_env.protocol import StepBody as StepBody
from episodes.http_env.protocol import ToolCallBody as ToolCallBody
from episodes.http_env.sessions import DEFAULT_IDLE_TIMEOUT, DEFAULT_MAX_EPISODES, EpisodeTable
from episodes.http_env.sessions import TASK_CACHE_SIZE as TASK_CACHE_SIZE

__all__ = [
    "DEFAULT_IDLE_TIMEOUT",
    "DEFAULT_MAX_EPISODES",
    "EnvError",
    "EpisodeTable",
    "add_serve_env_command",
    "build_env_app",
    "cmd_serve_env",
    "main",
]
