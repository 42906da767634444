"""What an import synthesises when the source does not say: stock levels (with stock-outs and
low stock), ratings and rating counts, final-sale marks. Every draw is a pure function of the
seed and the product's source key, never of the row order, with the generated catalog's
distributions (:mod:`mcp_shop.catalog.variants`, :mod:`mcp_shop.catalog.generator`).
"""

from __future__ import annotations

import hashlib
import math

from mcp_shop.catalog.generator import draw_rating

__all__ = ["Draws", "rating", "stock"]

_MASK = (1 << 64) - 1


class Draws:
    """A splitmix64 stream seeded by ``(seed, key)``: uniform floats in [0, 1)."""

    __slots__ = ("_state",)

    def __init__(self, seed: int, key: str) -> None:
        digest = hashlib.blake2b(key.encode("utf-8", "surrogatepass"), digest_size=8,
                                 key=str(seed).encode()[:64]).digest()
        self._state = int.from_bytes(digest, "big")

    def random(self) -> float:
        self._state = (self._state + 0x9E3779B97F4A7C15) & _MASK
        z = self._state
        z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & _MASK
        z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & _MASK
        return ((z ^ (z >> 31)) >> 11) * (1.0 / (1 << 53))

    def gauss(self, mu: float, sigma: float) -> float:
        u = 1.0 - self.random()  # (0, 1]
        return mu + sigma * math.sqrt(-2.0 * math.log(u)) * math.cos(2 * math.pi * self.random())


def stock(draws: Draws, sold_out: bool) -> int:
    """One variant's stock: 0 for a sold-out product; else 7% out of stock, 6% low (1-3),
    the rest 5-200 skewed low (the generated catalog's curve)."""
    if sold_out:
        return 0
    r = draws.random()
    if r < 0.07:
        return 0
    if r < 0.13:
        return 1 + int((r - 0.07) * 50)
    return 5 + int(195 * ((r - 0.13) / 0.87) ** 2)


def rating(draws: Draws) -> tuple[float, int]:
    """A mean rating (1.0-5.0, one decimal) and a rating count, like a mid-ranked brand's in
    the generated catalog (the same draw: ``draw_rating``)."""
    return draw_rating(draws, 0.2)
