"""The one place that speaks ``shop-episodes serve-env``'s plain-HTTP protocol: its paths, the
answers read into :class:`Observed`, and :class:`ShopEnvError` for every refusal.

    reset(url, {"family": "purchase", "difficulty": 2, "seed": 1}) -> Observed (episode_id, ...)
    step(url, episode_id, {"tool_calls": [...], "message": ..., "done": ...}) -> Observed
    record(url, episode_id) -> the rollout record;  close(url, episode_id)

Answers are OpenEnv-shaped: ``{"observation": {...}, "reward", "done"}``, the episode id, the
tools, the shopper's message and (once done) the verdict inside ``observation``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import httpx

__all__ = ["PATHS", "Observed", "ShopEnvError", "close", "record", "reset", "step"]

# The env server's routes (POST /reset, POST /step, GET /record, POST /close, GET /health).
PATHS = {"reset": "/reset", "step": "/step", "record": "/record", "close": "/close",
         "health": "/health"}


class ShopEnvError(Exception):
    """The env server refused a request (4xx/5xx) or could not be reached."""

    def __init__(self, what: str, status: int | None, message: str) -> None:
        where = f"HTTP {status}" if status is not None else "no answer"
        super().__init__(f"{what}: {where}: {message}")
        self.status = status
        self.message = message


@dataclass
class Observed:
    """One answer of ``/reset`` or ``/step``, whichever layout the server used."""

    episode_id: str
    shopper_message: str | None
    tool_results: list[dict[str, Any]] = field(default_factory=list)
    tools: list[dict[str, Any]] = field(default_factory=list)
    done: bool = False
    reward: float | None = None
    success: bool | None = None
    stop_reason: str | None = None
    breakdown: dict[str, Any] | None = None
    turn: int = 0
    tool_calls: int = 0


def _observed(answer: dict[str, Any], episode_id: str = "") -> Observed:
    obs = answer.get("observation") or {}
    return Observed(
        episode_id=str(obs.get("episode_id") or episode_id),
        shopper_message=obs.get("shopper_message"),
        tool_results=list(obs.get("tool_results") or []),
        tools=list(obs.get("tools") or []),
        done=bool(answer.get("done")),
        reward=answer.get("reward"),
        success=obs.get("success"),
        stop_reason=obs.get("stop_reason"),
        breakdown=obs.get("breakdown"),
        turn=int(obs.get("turn") or 0),
        tool_calls=int(obs.get("tool_calls") or 0),
    )


async def _call(method: str, url: str, path: str, *, timeout: float,
                body: dict[str, Any] | None = None,
                params: dict[str, str] | None = None) -> dict[str, Any]:
    what = f"{method} {path}"
    try:
        async with httpx.AsyncClient(base_url=url, timeout=timeout) as http:
            response = await http.request(method, path, json=body, params=params)
    except httpx.HTTPError as exc:
        raise ShopEnvError(what, None, f"{type(exc).__name__}: {exc} (is `shop-episodes "
                           f"serve-env` running at {url}?)") from exc
    if response.status_code >= 400:
        try:
            message = str(response.json().get("error", response.text))
        except ValueError:
            message = response.text[:500]
        raise ShopEnvError(what, response.status_code, message)
    answer = response.json()
    if not isinstance(answer, dict):
        raise ShopEnvError(what, response.status_code, f"expected a JSON object, got "
                           f"{type(answer).__name__}")
    return answer


async def reset(url: str, body: dict[str, Any], *, timeout: float = 120.0) -> Observed:
    """Start an episode; ``body`` names the task (family/difficulty/seed, task or task_id)."""
    answer = await _call("POST", url, PATHS["reset"], body=body, timeout=timeout)
    observed = _observed(answer)
    if not observed.episode_id:
        raise ShopEnvError(f"POST {PATHS['reset']}", 200, "the answer has no episode_id")
    return observed


async def step(url: str, episode_id: str, action: dict[str, Any], *,
               timeout: float = 120.0) -> Observed:
    """One step: ``action`` is ``{"tool_calls": [{"name", "arguments"}], "message", "done"}``."""
    answer = await _call("POST", url, PATHS["step"], timeout=timeout,
                         body={"episode_id": episode_id, "action": action})
    return _observed(answer, episode_id)


async def record(url: str, episode_id: str, *, timeout: float = 120.0) -> dict[str, Any]:
    """The rollout record of a finished episode (what ``shop-episodes run`` writes)."""
    return await _call("GET", url, PATHS["record"], params={"episode_id": episode_id},
                       timeout=timeout)


async def close(url: str, episode_id: str, *, timeout: float = 120.0) -> None:
    """Forget an episode on the server now."""
    await _call("POST", url, PATHS["close"], body={"episode_id": episode_id},
                timeout=timeout)
