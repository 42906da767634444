"""A WebSocket session's reset that is refused leaves the session's running episode as it was
(episode_id in use, the pool full, a task world the shop cannot build), while a session at the
cap (--max-episodes) can still replace its own episode; on SQLite and PostgreSQL (``shop`` is
built on each backend). The sessions are ``ShopEnvironment`` views over one ``EpisodeTable``,
as the server makes one per WebSocket session."""

from __future__ import annotations

import asyncio
import contextlib
import json
import secrets
from collections.abc import AsyncIterator
from typing import Any

import pytest
from websockets.asyncio.client import connect

from episodes.controller import EpisodeController
from episodes.generate import generate_task
from episodes.http_env.protocol import EnvError
from episodes.http_env.sessions import EpisodeTable
from episodes.http_env.store import REPLACED, EpisodeStore
from episodes.openenv_env.environment import ShopEnvironment
from episodes.openenv_env.models import ShopAction
from mcp_shop import Shop
from tests.episodes.openenv_served import serve

BODY: dict[str, Any] = {"family": "purchase", "difficulty": 1, "seed": 3}


@contextlib.asynccontextmanager
async def _table(shop: Shop) -> AsyncIterator[EpisodeTable]:
    """A table keeping at most two episodes, on a pool of its own."""
    async with EpisodeController(shop) as controller:
        yield EpisodeTable(controller, max_episodes=2, pool="t-" + secrets.token_hex(6))


async def _refused(env: ShopEnvironment, body: dict[str, Any], status: int, *words: str) -> None:
    with pytest.raises(EnvError) as refused:
        await env.start(body)
    assert refused.value.status == status, refused.value.message
    for word in words:
        assert word in refused.value.message


async def _still_running(env: ShopEnvironment, episode_id: str) -> None:
    """The session still names ``episode_id``, which is live, unchanged and can be played."""
    assert env.episode_id == episode_id
    state = env.state
    assert state.episode_id == episode_id and not state.done and state.step_count == 0
    over = await env.step_async(ShopAction(done=True))
    assert over.done and over.episode_id == episode_id
    assert env.table.record(episode_id)["stop_reason"] == "agent_done"


def _gone(table: EpisodeTable, episode_id: str, why: str) -> None:
    with pytest.raises(EnvError) as gone:
        table.episode(episode_id)
    assert gone.value.status == 404 and why in gone.value.message, gone.value.message


async def test_an_episode_id_in_use_leaves_the_running_episode(shop: Shop) -> None:
    async with _table(shop) as table:
        mine, other = ShopEnvironment(table), ShopEnvironment(table)
        current = (await mine.start(BODY)).episode_id
        await other.start({**BODY, "episode_id": "taken"})
        await _refused(mine, {**BODY, "episode_id": "taken"}, 409, "'taken' is in use")
        assert table.counts() == {"episodes": 2, "running": 2}
        await _still_running(mine, current)


async def test_naming_its_own_episode_is_refused_and_it_goes_on(shop: Shop) -> None:
    """A reset whose episode_id is the session's current episode: 409 (an id names one
    episode), and that episode goes on."""
    async with _table(shop) as table:
        mine = ShopEnvironment(table)
        current = (await mine.start({**BODY, "episode_id": "mine-1"})).episode_id
        await _refused(mine, {**BODY, "episode_id": current}, 409, "'mine-1' is in use",
                       "current episode")
        await _still_running(mine, current)


async def test_a_world_the_shop_cannot_build_leaves_the_running_episode(
        shop: Shop) -> None:
    async with _table(shop) as table:
        mine = ShopEnvironment(table)
        current = (await mine.start(BODY)).episode_id
        doc = generate_task(shop, "purchase", 1, 3).model_dump(mode="json")
        bad = {**doc, "task_id": "bad-codes", "world": {**doc["world"], "codes": [{"foo": 1}]}}
        await _refused(mine, {"task": bad}, 422, "cannot be built")
        assert table.counts() == {"episodes": 1, "running": 1}
        await _still_running(mine, current)


async def test_a_full_pool_refuses_without_dropping_the_running_episode(
        shop: Shop) -> None:
    """Another process's reset reserves a place just before this session's reset does, with the
    pool at the cap: one of them is refused (429), and this session keeps an episode either way
    (before: its episode was let go first, the other reset took the place, and this one got a
    429 with nothing left running)."""
    async with _table(shop) as table:
        mine, other = ShopEnvironment(table), ShopEnvironment(table)
        current = (await mine.start(BODY)).episode_id
        await other.start(BODY)
        reserve = table._db.reserve
        cut_in: list[int | None] = []

        def racing(*args: Any, **kwargs: Any) -> int | None:
            if not cut_in:
                cut_in.append(reserve("newcomer", "another-process", max_episodes=2,
                                      idle_timeout=900.0, idle_reason="idle", room_reason="room"))
            return reserve(*args, **kwargs)

        table._db.reserve = racing  # type: ignore[method-assign]
        try:
            replacement = (await mine.start(BODY)).episode_id
        except EnvError as exc:
            assert exc.status == 429, exc.message
            await _still_running(mine, current)
        else:
            assert cut_in == [2]  # the newcomer was refused: the pool was full
            assert mine.episode_id == replacement != current
            _gone(table, current, REPLACED)
            assert table.counts() == {"episodes": 2, "running": 2}
        finally:
            table._db.reserve = reserve  # type: ignore[method-assign]


async def test_sessions_at_the_cap_replace_their_own_episodes(shop: Shop) -> None:
    """Two sessions fill the pool with running episodes; each can still reset (its own
    episode's place counts as free), also both at once; a newcomer is refused."""
    async with _table(shop) as table:
        a, b = ShopEnvironment(table), ShopEnvironment(table)
        first = [(await a.start(BODY)).episode_id, (await b.start(BODY)).episode_id]
        await _refused(ShopEnvironment(table), BODY, 429, "--max-episodes 2")
        again = (await a.start(BODY)).episode_id
        _gone(table, first[0], REPLACED)
        assert table.counts() == {"episodes": 2, "running": 2}
        both = await asyncio.gather(a.start(BODY), b.start(BODY))
        _gone(table, again, REPLACED)
        _gone(table, first[1], REPLACED)
        assert {a.episode_id, b.episode_id} == {o.episode_id for o in both}
        assert table.counts() == {"episodes": 2, "running": 2}
        await _still_running(b, b.episode_id or "")
        a.close()  # the WebSocket session ends: its running episode goes
        _gone(table, both[0].episode_id, "WebSocket session ended")
        assert table.counts() == {"episodes": 1, "running": 0}


def test_a_replaced_episode_whose_reset_died_is_retired_by_the_sweep(shop: Shop) -> None:
    """The process replacing an episode died mid-reset: once its reservation's lease runs out,
    the next sweep retires the hidden episode (its shop session goes with it)."""
    now = [1000.0]
    store = EpisodeStore(shop.engine, pool="t-" + secrets.token_hex(6), clock=lambda: now[0])
    args: dict[str, Any] = {"max_episodes": 1, "idle_timeout": 900.0, "idle_reason": "idle",
                            "room_reason": "room"}
    assert store.reserve("old", "o1", **args) is None
    assert store.commit("old", "o1", "{}", done=False, stop_reason="", record=None,
                        step=False, session_id="sess-old")
    assert store.reserve("new", "o2", **args) == 1  # full without a replacement
    assert store.reserve("new", "o2", replaces="old", **args) is None
    hidden = store.get("old")
    assert hidden is not None and hidden.gone == REPLACED
    now[0] += 10
    store.sweep(900.0, "idle")
    assert store.take_dropped() == []  # its reset still holds its lease
    now[0] += 60
    store.sweep(900.0, "idle")
    assert store.take_dropped() == ["sess-old"]
    store.abandon("new", "o2", replaces="old")  # too late: it stays gone
    gone = store.get("old")
    assert gone is not None and gone.gone == REPLACED and not gone.started
    assert store.counts() == (0, 0)


async def test_over_the_websocket(shop: Shop) -> None:
    """The same through the server's /ws at the cap: refused resets (422 world, 409 id in use)
    leave the session's episode; a reset of its own then replaces it."""
    doc = generate_task(shop, "purchase", 1, 3).model_dump(mode="json")
    bad = {**doc, "task_id": "bad-codes", "world": {**doc["world"], "codes": [{"foo": 1}]}}

    async def ask(ws: Any, message: dict[str, Any]) -> dict[str, Any]:
        await ws.send(json.dumps(message))
        answer: dict[str, Any] = json.loads(await ws.recv())
        return answer

    with serve(shop, max_episodes=2, pool="t-" + secrets.token_hex(6)) as base:
        url = base.replace("http://", "ws://") + "/ws"
        async with connect(url) as ws, connect(url) as other:
            first = (await ask(ws, {"type": "reset", "data": BODY}))["data"]["observation"]
            taken = {**BODY, "episode_id": "taken-" + secrets.token_hex(4)}
            assert (await ask(other, {"type": "reset", "data": taken}))["type"] == "observation"
            for refused, words in [({"task": bad}, "cannot be built"),
                                   (taken, "is in use"),
                                   ({**BODY, "episode_id": first["episode_id"]}, "current")]:
                answer = await ask(ws, {"type": "reset", "data": refused})
                assert answer["type"] == "error" and words in answer["data"]["message"], answer
                state = (await ask(ws, {"type": "state"}))["data"]
                assert state["episode_id"] == first["episode_id"] and not state["done"]
            again = (await ask(ws, {"type": "reset", "data": BODY}))["data"]["observation"]
            assert again["episode_id"] != first["episode_id"]
            assert (await ask(ws, {"type": "state"}))["data"]["episode_id"] == again["episode_id"]
