"""Where an oracle episode's CPU time goes, over the direct path and the in-memory MCP path:
the same single-intent episodes as ``bench/bench_direct.py``, with each part of an episode
timed on its own (CPU time, exclusive of the parts it calls), so the figures say how much of
an episode the protocol is and how much the shop, the shopper and the verifiers are.

    python bench/direct_parts.py --episodes 200 --rounds 2

Parts: the world build (a session, its customer, cart and past orders), the tool calls (the
shop's work, the trace record and, over MCP, the protocol), the shopper's turns, the state
reads (session snapshots and product views the shopper and the verifiers judge from), the
verdict, the record, the agent, the removal of finished sessions, and the controller's own
rest. Only the tool calls differ between the two paths: the difference is the protocol's cost.

The last lines give the arithmetic of the direct path's ratio to the MCP path: with a protocol
cost ``p`` per episode and shop-side work ``s``, the ratio is ``(s + p) / s``, so a ratio of
``r`` needs ``s <= p / (r - 1)``. Prints figures, asserts nothing. Timing wrappers add a little
to every part (the figures are for the proportions; ``bench_direct.py`` gives the rates).
"""

from __future__ import annotations

import functools
import inspect
import time
from collections import defaultdict
from collections.abc import Callable
from typing import Any

import anyio
from bench_direct import PATHS, one_round, options, shop_and_tasks

import episodes.episode as episode_module
from episodes.agents.oracle import Replay
from episodes.controller import Episode, EpisodeController
from episodes.shopper import Shopper

PARTS = ["world build", "tool calls", "shopper", "state reads", "verdict", "record", "agent",
         "session removal", "controller (rest)"]


class Clock:
    """Exclusive CPU time per part: a part's time excludes the timed parts it calls."""

    def __init__(self) -> None:
        self.spent: dict[str, float] = defaultdict(float)
        self.stack = ["controller (rest)"]
        self.mark = time.process_time()

    def _switch(self, part: str | None) -> None:
        now = time.process_time()
        self.spent[self.stack[-1]] += now - self.mark
        self.mark = now
        if part is None:
            self.stack.pop()
        else:
            self.stack.append(part)

    def wrap(self, part: str, fn: Callable[..., Any]) -> Callable[..., Any]:
        if inspect.iscoroutinefunction(fn):
            @functools.wraps(fn)
            async def timed_async(*args: Any, **kwargs: Any) -> Any:
                self._switch(part)
                try:
                    return await fn(*args, **kwargs)
                finally:
                    self._switch(None)
            return timed_async

        @functools.wraps(fn)
        def timed(*args: Any, **kwargs: Any) -> Any:
            self._switch(part)
            try:
                return fn(*args, **kwargs)
            finally:
                self._switch(None)
        return timed

    def flush(self) -> None:
        """Count the time since the last switch to the part running now."""
        now = time.process_time()
        self.spent[self.stack[-1]] += now - self.mark
        self.mark = now

    def reset(self) -> None:
        self.spent.clear()
        self.stack = ["controller (rest)"]
        self.mark = time.process_time()


TIMED: list[tuple[Any, str, str]] = [
    (episode_module, "build_world", "world build"),
    (Episode, "_call", "tool calls"),
    (Episode, "_shopper_turn", "shopper"),
    (Shopper, "opening", "shopper"),
    (Episode, "_read_state", "state reads"),
    (Episode, "_fetch", "state reads"),
    (Episode, "_verdict", "verdict"),
    (Episode, "record", "record"),
    (Replay, "act", "agent"),
    (EpisodeController, "_remove_finished", "session removal"),
]


def main() -> None:
    args = options(__doc__, episodes=200, rounds=2)
    shop, tasks = shop_and_tasks(args)
    clock = Clock()
    for owner, name, part in TIMED:
        setattr(owner, name, clock.wrap(part, getattr(owner, name)))
    print(f"catalog: {shop.catalog.product_count:,} products; {len(tasks)} single-intent "
          f"oracle episodes per round, {args.rounds} rounds per path (alternating)")
    spent: dict[str, dict[str, float]] = {name: defaultdict(float) for name in PATHS}
    episodes = dict.fromkeys(PATHS, 0)
    for _ in range(args.rounds):
        for name, connect in PATHS.items():
            anyio.run(one_round, shop, connect, tasks, clock.reset)  # timed after warm-up
            clock.flush()
            for part, seconds in clock.spent.items():
                spent[name][part] += seconds
            episodes[name] += len(tasks)
    per = {name: {p: 1000 * spent[name][p] / episodes[name] for p in PARTS} for name in PATHS}
    print(f"\nCPU ms per episode{'':<8}" + "".join(f"{n:>16}" for n in PATHS))
    for part in PARTS:
        print(f"{part:<26}" + "".join(f"{per[n][part]:>16.2f}" for n in PATHS))
    total = {n: sum(per[n].values()) for n in PATHS}
    print(f"{'total':<26}" + "".join(f"{total[n]:>16.2f}" for n in PATHS))
    mcp, direct = per["in-memory MCP"], per["direct"]
    protocol = mcp["tool calls"] - direct["tool calls"]
    s = total["direct"]
    not_tools = s - direct["tool calls"]
    print(f"\nprotocol p = {protocol:.2f} ms per episode (MCP tool calls - direct tool calls); "
          f"direct work s = {s:.2f} ms; ratio (s + p) / s = {(s + protocol) / s:.2f}x")
    print(f"a 3x ratio needs s <= p / 2 = {protocol / 2:.2f} ms; the direct path's parts other "
          f"than the tool calls (the same on both paths) take {not_tools:.2f} ms alone, so even "
          f"tool calls costing nothing would give {(not_tools + protocol) / not_tools:.2f}x")


if __name__ == "__main__":
    main()
