"""An ``Episode`` as JSON text and back: what the env server stores after every reset and step,
so that any server process on the same database can take the episode's next request.

The snapshot holds everything a live episode carries between steps (the task, the shopper's
progress and random state, messages, tool calls, confirmations, intent snapshots, product
facts, the shop states read, turn and budget counters, dense progress, the verdict once done);
not the controller (each process has its own, over the same database) and not the verdict's
input (a finished episode's record is stored beside its snapshot). Floats JSON cannot hold
(``1e999`` in a tool argument) round-trip as ``Infinity`` / ``NaN``.

``dump_episode`` refuses an episode or shopper carrying an attribute it does not know: state
added to ``Episode`` or ``Shopper`` must be added here too, or it would be lost between
processes (``tests/episodes/test_multiprocess.py`` checks the lists against fresh objects).
"""

from __future__ import annotations

import dataclasses
import random
from typing import Literal

import pydantic_core
from pydantic import BaseModel, ConfigDict, ValidationError

from episodes.controller import ENV_VERSION, EpisodeController
from episodes.episode import Episode, _Call
from episodes.shopper import Shopper, _Progress
from verifiers.types import (
    Breakdown,
    Confirmation,
    Intent,
    IntentSnapshot,
    Message,
    ProductFacts,
    ShopState,
    TaskSpec,
)

__all__ = ["EPISODE_FIELDS", "SHOPPER_FIELDS", "SnapshotError", "dump_episode", "load_episode"]

SNAPSHOT_FORMAT: Literal[1] = 1
# The attributes of an Episode / a Shopper and how each is kept: "stored", or "process" for
# what each process supplies itself (the controller; the shopper's rephraser is the
# controller's); "record" for the verdict's input, which only the record needs; "optional"
# for state stored when the episode has it (``closed``: its session was removed, from the
# controller's pruning change).
EPISODE_FIELDS: dict[str, str] = {
    "controller": "process", "task": "stored", "policy": "stored", "trial": "stored",
    "session_id": "stored", "shopper": "stored", "messages": "stored", "calls": "stored",
    "confirmations": "stored", "snapshots": "stored", "products": "stored", "before": "stored",
    "state": "stored", "turn": "stored", "event_index": "stored", "done": "stored",
    "terminated": "stored", "truncated": "stored", "stop_reason": "stored",
    "breakdown": "stored", "progress": "stored", "last_progress": "stored",
    "started": "stored", "wall": "stored", "stale": "stored", "idle": "stored",
    "input": "record", "closed": "optional",
}
SHOPPER_FIELDS: dict[str, str] = {
    "task": "process", "rephrase": "process", "rng": "stored", "p": "stored",
    "final": "stored", "since": "stored",
}


class SnapshotError(Exception):
    """A stored episode this process cannot continue (another format, version or reward
    mode), or an episode with state the snapshot does not know how to keep."""


class _ShopperState(BaseModel):
    model_config = ConfigDict(extra="forbid")

    rng: tuple[int, tuple[int, ...], float | None]
    p: _Progress
    final: list[Intent]
    since: list[int]


class _EpisodeState(BaseModel):
    model_config = ConfigDict(extra="forbid")

    format: Literal[1]
    env_version: str
    reward_mode: str
    task: TaskSpec
    policy: str
    trial: int
    session_id: str
    shopper: _ShopperState | None
    messages: list[Message]
    calls: list[_Call]
    confirmations: list[Confirmation]
    snapshots: list[IntentSnapshot]
    products: dict[str, ProductFacts]
    before: ShopState | None
    state: ShopState | None
    turn: int
    event_index: int
    done: bool
    terminated: bool
    truncated: bool
    stop_reason: str
    breakdown: Breakdown | None
    progress: list[float]
    last_progress: float
    started: float
    wall: float
    stale: bool
    idle: int
    closed: bool = False


def _check(obj: object, known: dict[str, str], what: str) -> None:
    unknown = sorted(set(vars(obj)) - set(known))
    if unknown:
        raise SnapshotError(f"{what} has state the episode snapshot does not keep: "
                            f"{', '.join(unknown)} (add it to episodes.http_env.snapshot)")


def dump_episode(episode: Episode) -> str:
    """The episode's state as JSON text (see the module's docstring for what it holds)."""
    _check(episode, EPISODE_FIELDS, "the episode")
    stored = {k: getattr(episode, k) for k, how in EPISODE_FIELDS.items()
              if (how == "stored" and k != "shopper") or (how == "optional"
                                                          and hasattr(episode, k))}
    shopper = None
    if episode.shopper is not None:
        _check(episode.shopper, SHOPPER_FIELDS, "the shopper")
        s = episode.shopper
        shopper = _ShopperState.model_construct(rng=s.rng.getstate(), p=s.p, final=s.final,
                                                since=s.since)
    state = _EpisodeState.model_construct(format=SNAPSHOT_FORMAT, env_version=ENV_VERSION,
                                          reward_mode=episode.reward_mode, shopper=shopper,
                                          **stored)
    data = state.model_dump(mode="python")
    if data["shopper"] is not None:  # a set: in a fixed order, so equal states read the same
        data["shopper"]["p"]["revealed"] = sorted(data["shopper"]["p"]["revealed"])
    return pydantic_core.to_json(data, inf_nan_mode="constants").decode()


def load_episode(controller: EpisodeController, text: str) -> Episode:
    """The episode ``dump_episode`` wrote, on this process's ``controller``; a
    ``SnapshotError`` when it was written by another format, version or reward mode."""
    try:
        state = _EpisodeState.model_validate_json(text)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(x) for x in first["loc"])
        raise SnapshotError(f"the stored episode cannot be read by this server ({where}: "
                            f"{first['msg']}; it reads snapshot format {SNAPSHOT_FORMAT})"
                            ) from None
    if state.env_version != ENV_VERSION:
        raise SnapshotError(f"the episode was started by a server of {state.env_version}; "
                            f"this one is {ENV_VERSION}")
    if state.reward_mode != controller.reward_mode:
        raise SnapshotError(f"the episode was started by a server with --reward-mode "
                            f"{state.reward_mode}; this one has {controller.reward_mode} "
                            "(every server sharing a database and pool needs the same "
                            "options)")
    known = {f.name for f in dataclasses.fields(Episode)}
    fields = {k: getattr(state, k) for k, how in EPISODE_FIELDS.items()
              if (how == "stored" and k != "shopper") or (how == "optional" and k in known)}
    episode = Episode(controller, **fields)
    if state.shopper is not None:
        shopper = Shopper.__new__(Shopper)
        shopper.task = episode.task
        shopper.rephrase = controller.rephraser
        shopper.rng = random.Random()
        version, internal, gauss = state.shopper.rng
        shopper.rng.setstate((version, tuple(internal), gauss))
        shopper.p = state.shopper.p
        shopper.final = state.shopper.final
        shopper.since = state.shopper.since
        episode.shopper = shopper
    return episode
