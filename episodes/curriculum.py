"""Adaptive difficulty: a per-family window [l, h] that rises with the policy's success rate.

The rules (after RLVE):

- every family starts at the window [0, 0];
- each episode picks a family collection uniformly (collections are nested sets of families,
  from discovery alone up to every family), a family uniformly within it, and a difficulty d
  uniformly in that family's window;
- only outcomes at d == h count; after ``check_every`` counted outcomes the family is checked:
  if their success rate is at least ``threshold`` (and h is below ``max_difficulty``), h rises
  by one and l = max(l, h - width + 1); the counters reset after every check, pass or fail;
- the whole state (windows, counters, the history of checks, the random generator) is written to
  a JSON file after every check (and by ``save``), so a trainer that restarts resumes exactly.

A trainer asks for the next task and reports its outcome::

    cur = Curriculum.open("curriculum.json", families=["discovery", "cart", "purchase"])
    draw = cur.next()                        # family, difficulty, task seed, episode index
    task = draw.task(shop)                   # the generated TaskSpec
    ...                                      # play the episode
    cur.report(draw.family, draw.difficulty, success)

Outcomes must be reported in the order the tasks were drawn for a run to be reproducible (draw
a batch, run it concurrently, report in draw order). An outcome whose difficulty is no longer
the family's h (the window moved while it ran) does not count.
"""

from __future__ import annotations

import json
import os
import random
import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from episodes.difficulty import MAX_DIFFICULTY
from verifiers.types import FAMILIES

if TYPE_CHECKING:
    from mcp_shop import Shop
    from verifiers.types import TaskSpec

__all__ = [
    "DEFAULT_COLLECTIONS",
    "Curriculum",
    "CurriculumDraw",
    "CurriculumError",
    "default_collections",
]

STATE_FORMAT = "shop-episodes-curriculum"
STATE_VERSION = 1

#: The default family collections, each adding families to the one before it.
DEFAULT_COLLECTIONS: tuple[tuple[str, ...], ...] = (
    ("discovery",),
    ("discovery", "price_compare", "substitution"),
    ("discovery", "price_compare", "substitution", "cart", "bundle", "purchase"),
    ("discovery", "price_compare", "substitution", "cart", "bundle", "purchase", "return",
     "exchange", "order_status", "cancel", "policy"),
    FAMILIES,
)


class CurriculumError(ValueError):
    """A curriculum that cannot be built, or a state file that cannot be resumed."""


def default_collections(families: Sequence[str]) -> list[list[str]]:
    """The default nested collections restricted to ``families`` (in that order), without
    empty or repeated collections; families outside every default collection get a last
    collection holding all of ``families``."""
    out: list[list[str]] = []
    for collection in (*DEFAULT_COLLECTIONS, tuple(families)):
        members = [f for f in families if f in collection]
        if members and members not in out:
            out.append(members)
    return out


@dataclass(frozen=True)
class CurriculumDraw:
    """One task to play: its family, difficulty and task seed, the episode index of the draw
    (0, 1, 2, ... over the curriculum's life) and the family's window when it was drawn."""

    family: str
    difficulty: int
    seed: int
    episode: int
    window: tuple[int, int]

    def task(self, shop: Shop) -> TaskSpec:
        """The generated task (deterministic in family, difficulty and seed)."""
        from episodes.generate import generate_task

        return generate_task(shop, self.family, self.difficulty, self.seed)

    def record_field(self) -> dict[str, Any]:
        """The ``curriculum`` field of the rollout record of this draw."""
        return {"window": list(self.window), "episode": self.episode}


# -- the state file ---------------------------------------------------------------------------


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)


class _Config(_Strict):
    families: list[str]
    collections: list[list[str]]
    check_every: int
    threshold: float
    width: int
    max_difficulty: int
    seed: int


class _Window(_Strict):
    low: int = Field(alias="l")
    high: int = Field(alias="h")
    counted: int
    successes: int


class _Check(_Strict):
    episode: int
    family: str
    low: int = Field(alias="l")
    high: int = Field(alias="h")
    rate: float
    promoted: bool


class _Rng(_Strict):
    version: int
    state: str
    gauss: float | None


class _State(_Strict):
    format: Literal["shop-episodes-curriculum"]
    version: int
    config: _Config
    drawn: int
    reported: int
    windows: dict[str, _Window]
    history: list[_Check]
    rng: _Rng


# -- the curriculum ---------------------------------------------------------------------------


class Curriculum:
    """Per-family difficulty windows that rise with the success rate at their top level.

    ``drawn`` counts the tasks drawn (the next draw's episode index), ``reported`` the outcomes
    reported (each trial of a task is one); ``history`` holds every check, pass or fail, as
    {"episode": reported, "family", "l", "h" (after the check), "rate", "promoted"}."""

    def __init__(self, families: Sequence[str] = FAMILIES, *,
                 collections: Sequence[Sequence[str]] | None = None, check_every: int = 32,
                 threshold: float = 0.9, width: int = 4, max_difficulty: int = MAX_DIFFICULTY,
                 seed: int = 0, path: str | Path | None = None) -> None:
        """``families``: those the curriculum draws from; ``collections``: nested sets of them
        (default: ``default_collections(families)``), one chosen uniformly per episode;
        ``check_every``: counted outcomes (at d == h) per check; ``threshold``: the success
        rate that promotes; ``width``: the widest window; ``seed``: of the draws; ``path``: the
        state file written after every check (None: only ``save`` writes)."""
        fams = list(families)
        if not fams:
            raise CurriculumError("a curriculum needs at least one family")
        unknown = [f for f in fams if f not in FAMILIES]
        if unknown:
            raise CurriculumError(f"unknown family {unknown[0]!r}; families are "
                                  f"{', '.join(FAMILIES)}")
        if len(set(fams)) != len(fams):
            raise CurriculumError(f"families repeat: {', '.join(fams)}")
        cols = ([list(c) for c in collections] if collections is not None
                else default_collections(fams))
        if not cols or any(not c for c in cols):
            raise CurriculumError("every family collection needs at least one family")
        stray = [f for c in cols for f in c if f not in fams]
        if stray:
            raise CurriculumError(f"collection family {stray[0]!r} is not one of the "
                                  f"curriculum's families ({', '.join(fams)})")
        if check_every < 1:
            raise CurriculumError(f"check_every must be at least 1, got {check_every}")
        if not 0.0 <= threshold <= 1.0:
            raise CurriculumError(f"threshold must be from 0 to 1, got {threshold}")
        if width < 1:
            raise CurriculumError(f"width must be at least 1, got {width}")
        if not 0 <= max_difficulty <= MAX_DIFFICULTY:
            raise CurriculumError(f"max_difficulty must be from 0 to {MAX_DIFFICULTY}, got "
                                  f"{max_difficulty}")
        if seed < 0:
            raise CurriculumError(f"seed must be >= 0, got {seed}")
        self.families: tuple[str, ...] = tuple(fams)
        self.collections: tuple[tuple[str, ...], ...] = tuple(tuple(c) for c in cols)
        self.check_every = check_every
        self.threshold = threshold
        self.width = width
        self.max_difficulty = max_difficulty
        self.seed = seed
        self.path = Path(path) if path is not None else None
        self.drawn = 0
        self.reported = 0
        self._low = dict.fromkeys(fams, 0)
        self._high = dict.fromkeys(fams, 0)
        self._counted = dict.fromkeys(fams, 0)
        self._successes = dict.fromkeys(fams, 0)
        self.history: list[dict[str, Any]] = []
        self._rng = random.Random(seed)

    # -- drawing and reporting ----------------------------------------------------------------

    def next(self) -> CurriculumDraw:
        """The next task to play: a collection uniformly, a family uniformly in it, a
        difficulty uniformly in the family's window; the task seed follows from the
        curriculum's seed and the episode index, so every draw is a distinct task."""
        collection = self.collections[self._rng.randrange(len(self.collections))]
        family = collection[self._rng.randrange(len(collection))]
        low, high = self._low[family], self._high[family]
        difficulty = self._rng.randint(low, high)
        episode = self.drawn
        self.drawn += 1
        return CurriculumDraw(family=family, difficulty=difficulty,
                              seed=self.seed * 100_003 + episode, episode=episode,
                              window=(low, high))

    def report(self, family: str, difficulty: int, success: bool) -> bool:
        """Record an outcome; returns True when it completed a check that promoted the family.

        Only outcomes at the family's current h count. After ``check_every`` of them the
        family is checked, its counters reset, the check appended to ``history`` and the state
        saved to ``path`` (if set)."""
        if family not in self._high:
            raise CurriculumError(f"family {family!r} is not in this curriculum "
                                  f"({', '.join(self.families)})")
        self.reported += 1
        if difficulty != self._high[family]:
            return False
        self._counted[family] += 1
        self._successes[family] += bool(success)
        if self._counted[family] < self.check_every:
            return False
        return self._check(family)

    def _check(self, family: str) -> bool:
        rate = self._successes[family] / self._counted[family]
        high = self._high[family]
        promoted = rate >= self.threshold and high < self.max_difficulty
        if promoted:
            high += 1
            self._high[family] = high
            self._low[family] = max(self._low[family], high - self.width + 1)
        self._counted[family] = self._successes[family] = 0
        self.history.append({"episode": self.reported, "family": family,
                             "l": self._low[family], "h": high, "rate": rate,
                             "promoted": promoted})
        if self.path is not None:
            self.save(self.path)
        return promoted

    # -- views --------------------------------------------------------------------------------

    @property
    def windows(self) -> dict[str, tuple[int, int]]:
        """Each family's window (l, h)."""
        return {f: (self._low[f], self._high[f]) for f in self.families}

    def window(self, family: str) -> tuple[int, int]:
        """One family's window (l, h)."""
        return self._low[family], self._high[family]

    def counters(self, family: str) -> tuple[int, int]:
        """(outcomes counted at h, successes among them) since the family's last check."""
        return self._counted[family], self._successes[family]

    @property
    def config(self) -> dict[str, Any]:
        """The settings that define the curriculum (fixed for its life)."""
        return {"families": list(self.families),
                "collections": [list(c) for c in self.collections],
                "check_every": self.check_every, "threshold": self.threshold,
                "width": self.width, "max_difficulty": self.max_difficulty, "seed": self.seed}

    @property
    def state(self) -> dict[str, Any]:
        """Everything needed to resume, as a JSON-serialisable dict."""
        version, internal, gauss = self._rng.getstate()
        return {
            "format": STATE_FORMAT,
            "version": STATE_VERSION,
            "config": self.config,
            "drawn": self.drawn,
            "reported": self.reported,
            "windows": {f: {"l": self._low[f], "h": self._high[f],
                            "counted": self._counted[f], "successes": self._successes[f]}
                        for f in self.families},
            "history": [dict(h) for h in self.history],
            "rng": {"version": version, "state": _pack(internal), "gauss": gauss},
        }

    # -- saving and resuming ------------------------------------------------------------------

    def save(self, path: str | Path | None = None) -> Path:
        """Write the state to ``path`` (default: the curriculum's own) atomically: a temporary
        file beside it, then a rename. Returns the path written."""
        target = Path(path) if path is not None else self.path
        if target is None:
            raise CurriculumError("no path to save the curriculum to")
        target.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as fh:
                fh.write(_dumps(self.state))
            os.replace(tmp, target)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
        return target

    @classmethod
    def from_state(cls, state: Mapping[str, Any], *, path: str | Path | None = None,
                   source: str = "curriculum state") -> Curriculum:
        """A curriculum resumed from ``state`` (as ``state`` returns it); ``source`` names it in
        errors."""
        if not isinstance(state, Mapping) or state.get("format") != STATE_FORMAT:
            raise CurriculumError(f"{source}: not a curriculum state file (no \"format\": "
                                  f"\"{STATE_FORMAT}\")")
        if state.get("version") != STATE_VERSION:
            raise CurriculumError(f"{source}: state version {state.get('version')!r} is not "
                                  f"supported (this version reads {STATE_VERSION})")
        try:
            s = _State.model_validate(state)
        except ValidationError as exc:
            first = exc.errors()[0]
            where = ".".join(str(x) for x in first["loc"])
            raise CurriculumError(f"{source}: malformed curriculum state: {where}: "
                                  f"{first['msg']}") from None
        c = s.config
        try:
            cur = cls(c.families, collections=c.collections, check_every=c.check_every,
                      threshold=c.threshold, width=c.width, max_difficulty=c.max_difficulty,
                      seed=c.seed, path=path)
        except CurriculumError as exc:
            raise CurriculumError(f"{source}: {exc}") from None
        if set(s.windows) != set(cur.families):
            raise CurriculumError(f"{source}: the windows ({', '.join(s.windows)}) do not match "
                                  f"the families ({', '.join(cur.families)})")
        for family, w in s.windows.items():
            if not 0 <= w.low <= w.high <= cur.max_difficulty:
                raise CurriculumError(f"{source}: window of {family!r} is [{w.low}, {w.high}]; "
                                      f"it must satisfy 0 <= l <= h <= {cur.max_difficulty}")
            if not 0 <= w.successes <= w.counted < cur.check_every:
                raise CurriculumError(f"{source}: counters of {family!r} ({w.successes} of "
                                      f"{w.counted}) are inconsistent with check_every "
                                      f"{cur.check_every}")
            cur._low[family], cur._high[family] = w.low, w.high
            cur._counted[family], cur._successes[family] = w.counted, w.successes
        if s.drawn < 0 or s.reported < 0:
            raise CurriculumError(f"{source}: negative episode counts")
        try:
            cur._rng.setstate((s.rng.version, _unpack(s.rng.state), s.rng.gauss))
        except (TypeError, ValueError) as exc:
            raise CurriculumError(f"{source}: bad random generator state: {exc}") from None
        cur.drawn, cur.reported = s.drawn, s.reported
        cur.history = [h.model_dump(by_alias=True) for h in s.history]
        return cur

    @classmethod
    def load(cls, path: str | Path) -> Curriculum:
        """Resume from a state file; the curriculum keeps saving to it."""
        p = Path(path)
        try:
            text = p.read_text(encoding="utf-8")
        except FileNotFoundError:
            raise CurriculumError(f"{p}: no such curriculum state file") from None
        try:
            state = json.loads(text)
        except json.JSONDecodeError as exc:
            raise CurriculumError(f"{p}: not valid JSON: {exc}") from None
        return cls.from_state(state, path=p, source=str(p))

    @classmethod
    def open(cls, path: str | Path, families: Sequence[str] | None = None, *,
             collections: Sequence[Sequence[str]] | None = None, check_every: int | None = None,
             threshold: float | None = None, width: int | None = None,
             max_difficulty: int | None = None, seed: int | None = None) -> Curriculum:
        """Resume from ``path`` if it exists, else start a new curriculum saving to it.

        Options left as None take the saved values (or the defaults for a new curriculum);
        an option given for an existing file must equal its saved value."""
        given: dict[str, Any] = {
            "families": list(families) if families is not None else None,
            "collections": ([list(c) for c in collections] if collections is not None
                            else None),
            "check_every": check_every, "threshold": threshold, "width": width,
            "max_difficulty": max_difficulty, "seed": seed}
        given = {k: v for k, v in given.items() if v is not None}
        p = Path(path)
        if not p.exists():
            return cls(**given, path=p)
        cur = cls.load(p)
        saved = cur.config
        for key, value in given.items():
            if value != saved[key]:
                raise CurriculumError(f"{p}: the curriculum was started with {key} = "
                                      f"{_show(saved[key])}, not {_show(value)}; use another "
                                      "state file for other settings")
        return cur


def _dumps(state: Mapping[str, Any]) -> str:
    """The state as JSON with a line per key, per window and per check."""
    parts = []
    for key, value in state.items():
        if isinstance(value, dict | list) and value and key in ("windows", "history"):
            items = (value.items() if isinstance(value, dict) else enumerate(value))
            inner = ",\n".join(("  " + (f"{json.dumps(k)}: " if isinstance(value, dict) else "")
                                 + json.dumps(v)) for k, v in items)
            brackets = "{}" if isinstance(value, dict) else "[]"
            text = f"{brackets[0]}\n{inner}\n {brackets[1]}"
        else:
            text = json.dumps(value)
        parts.append(f" {json.dumps(key)}: {text}")
    return "{\n" + ",\n".join(parts) + "\n}\n"


def _show(value: Any) -> str:
    return json.dumps(value) if isinstance(value, list) else str(value)


def _pack(words: Sequence[int]) -> str:
    """The Mersenne Twister's state words (32-bit) as one hex string."""
    return "".join(f"{w:08x}" for w in words)


def _unpack(text: str) -> tuple[int, ...]:
    if len(text) % 8 or any(c not in "0123456789abcdef" for c in text):
        raise ValueError("the state must be a string of 8-digit hex words")
    return tuple(int(text[i:i + 8], 16) for i in range(0, len(text), 8))
