"""Argument types for the command lines: bounded integers and numbers that reject bad values
with a message saying what would be valid (argparse turns it into a usage error, exit 2)."""

from __future__ import annotations

import argparse
import math
from collections.abc import Callable

__all__ = ["bounded_float", "bounded_int"]


def bounded_int(lo: int, hi: int | None = None, *, what: str) -> Callable[[str], int]:
    """An argparse type: an integer from ``lo`` to ``hi`` (inclusive; no upper bound if None),
    described to the user as ``what`` ("a positive integer", "a port (0 to 65535)")."""

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected {what}, got {text!r}") from None
        if value < lo or (hi is not None and value > hi):
            raise argparse.ArgumentTypeError(f"expected {what}, got {value}")
        return value

    return parse


def bounded_float(lo: float | None = None, hi: float | None = None, *, what: str,
                  above: bool = False) -> Callable[[str], float]:
    """An argparse type: a finite number >= ``lo`` (> ``lo`` with ``above``) and <= ``hi``."""

    def parse(text: str) -> float:
        try:
            value = float(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected {what}, got {text!r}") from None
        low_ok = lo is None or (value > lo if above else value >= lo)
        if not math.isfinite(value) or not low_ok or (hi is not None and value > hi):
            raise argparse.ArgumentTypeError(f"expected {what}, got {text!r}")
        return value

    return parse
