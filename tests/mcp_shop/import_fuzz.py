"""Seeded corruption of import fixtures for the readers' fuzz tests: truncations, byte flips,
garbage lines, lost and doubled chunks, stray quotes, NUL bytes and broken markup."""

from __future__ import annotations

import random
from collections.abc import Callable, Iterator
from pathlib import Path

from mcp_shop.importers.records import BadRow, SourceProduct

_GARBAGE = [b"\x00\x00\x00", b'"unterminated, "quote', b"<<<>>>&&;", b"\xff\xfe\xfd",
            b"\t\t\t\t\t\t", b",,,,,,,,,,,,,,,,,,,,,,,,,,,,,,,,,,,,,,,,,,,,,,,,,", b"</item>",
            b"<item><g:id>x", b"]]>", b"<!DOCTYPE x [<!ENTITY a 'aaaa'>]>", b"&a;", b"\r",
            "Größe,€,“”".encode("cp1252"), "🙂 ünïcode".encode()]


def _truncate(data: bytes, rng: random.Random) -> bytes:
    return data[:rng.randrange(len(data) + 1)]


def _flip(data: bytes, rng: random.Random) -> bytes:
    buf = bytearray(data)
    for _ in range(rng.randint(1, 12)):
        if buf:
            buf[rng.randrange(len(buf))] = rng.randrange(256)
    return bytes(buf)


def _garbage_line(data: bytes, rng: random.Random) -> bytes:
    at = rng.randrange(len(data) + 1)
    return data[:at] + b"\n" + rng.choice(_GARBAGE) + b"\n" + data[at:]


def _insert(data: bytes, rng: random.Random) -> bytes:
    at = rng.randrange(len(data) + 1)
    return data[:at] + rng.choice(_GARBAGE) + data[at:]


def _drop_chunk(data: bytes, rng: random.Random) -> bytes:
    a = rng.randrange(len(data) + 1)
    return data[:a] + data[min(len(data), a + rng.randint(1, 200)):]


def _double_chunk(data: bytes, rng: random.Random) -> bytes:
    a = rng.randrange(len(data) + 1)
    b = min(len(data), a + rng.randint(1, 400))
    return data[:b] + data[a:b] + data[b:]


MUTATIONS: list[Callable[[bytes, random.Random], bytes]] = [
    _truncate, _flip, _garbage_line, _insert, _drop_chunk, _double_chunk]


def corrupted(data: bytes, seed: int) -> bytes:
    """``data`` after one to three seeded mutations."""
    rng = random.Random(seed)
    for _ in range(rng.randint(1, 3)):
        data = rng.choice(MUTATIONS)(data, rng)
    return data


def corrupted_files(sources: list[Path], out: Path, cases: int) -> Iterator[tuple[int, Path]]:
    """``cases`` corrupted copies of the sources in turn, as (seed, path)."""
    for seed in range(cases):
        src = sources[seed % len(sources)]
        path = out / f"case{seed}{src.suffix}"
        path.write_bytes(corrupted(src.read_bytes(), seed))
        yield seed, path


def check_records(records: list[SourceProduct | BadRow], path: str) -> None:
    """Every record a reader gave is well formed and points into ``path``."""
    for rec in records:
        assert isinstance(rec, (SourceProduct, BadRow)), rec
        assert rec.where.file == path and rec.where.line >= 1, rec
        if isinstance(rec, BadRow):
            assert isinstance(rec.reason, str) and rec.reason, rec
        else:
            assert rec.key and rec.title and rec.variants, rec
            for v in rec.variants:
                assert set(v.options) == set(rec.option_names), rec
