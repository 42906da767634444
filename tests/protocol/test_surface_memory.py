"""A native server does not read the surface of the sessions its own shop opened
(``Shop.opened_here``): it answers every call on them as when it reads it, removed sessions
included; sessions opened elsewhere (another process) are read as before. Both backends."""

from __future__ import annotations

from typing import Any

import pytest

from mcp_shop import Shop
from mcp_shop import sessions as shop_sessions
from mcp_shop.db import write_tx
from mcp_shop.pruning import remove_session
from mcp_shop.server import build_server, surfaces


def _opened_elsewhere(shop: Shop) -> str:
    """A session opened on the same database without this ``Shop`` (as another process)."""
    with write_tx(shop.engine) as conn:
        return shop_sessions.open_session(conn, seed=4).session_id


async def _answers(shop: Shop, sid: str) -> tuple[bool, Any]:
    result = await build_server(shop).call_in_process("view_cart", {"session_id": sid})
    text = [c.text for c in result.content]  # type: ignore[union-attr]
    return result.is_error, text or result.structured_content


async def test_sessions_opened_here_are_not_read(shop: Shop,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    reads: list[str] = []
    read = surfaces.session_surface

    def counted(s: Shop, sid: str) -> str | None:
        reads.append(sid)
        return read(s, sid)

    monkeypatch.setattr(surfaces, "session_surface", counted)
    mine, theirs = shop.open_session(seed=4).session_id, _opened_elsewhere(shop)
    assert shop.opened_here(mine) and not shop.opened_here(theirs)
    answers = [await _answers(shop, sid) for sid in (mine, theirs)]
    assert reads == [theirs]
    assert answers[0] == answers[1] and answers[0][0] is False  # same seed, same cart
    for sid in (mine, theirs):
        remove_session(shop.engine, sid)
    gone = [await _answers(shop, sid) for sid in (mine, theirs)]
    assert reads == [theirs, theirs]
    assert gone[0] == gone[1] and gone[0][0] is True
    assert "unknown session_id" in gone[0][1][0]
