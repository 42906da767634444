"""Task generation: one procedural generator per family, deterministic in (family, difficulty,
seed) over a given catalog.

A generator gets a ``GenContext`` (the catalog, read at catalog level with no session, a seeded
random generator and the difficulty's parameters) and returns a ``TaskSpec`` whose gold solution
solves it. Generators only read the shop; the world they describe is applied to a fresh session
when an episode starts (``episodes.world``).
"""

from __future__ import annotations

import hashlib
import random
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from episodes.difficulty import difficulty_params
from mcp_shop import Shop
from mcp_shop.db import read_tx
from mcp_shop.errors import NotFound
from mcp_shop.ids import parse_product_id, product_id, product_of
from mcp_shop.products import get_product
from mcp_shop.search import SearchPage, SearchQuery
from mcp_shop.search import search as run_search
from mcp_shop.views import ProductView
from verifiers.types import FAMILIES, Difficulty, GoldStep, Limits, TaskSpec

if TYPE_CHECKING:
    from episodes.families.vocabulary import CatalogVocabulary

__all__ = ["GenContext", "GenerationError", "Generator", "UnsupportedFamily", "generate_task",
           "register", "task_id"]

Generator = Callable[["GenContext"], TaskSpec]
_GENERATORS: dict[str, Generator] = {}


def register(family: str) -> Callable[[Generator], Generator]:
    """Decorator: make ``fn`` the generator of ``family``."""
    if family not in FAMILIES:
        raise ValueError(f"unknown family {family!r}; families are {', '.join(FAMILIES)}")

    def deco(fn: Generator) -> Generator:
        _GENERATORS[family] = fn
        return fn

    return deco


def task_id(family: str, difficulty: int, seed: int) -> str:
    """A stable, readable id: ``purchase-d3-s0000042``."""
    return f"{family}-d{difficulty}-s{seed:07d}"


@dataclass
class GenContext:
    """What a generator works with. Every random choice must come from ``rng``."""

    shop: Shop
    family: str
    difficulty: int
    seed: int
    params: Difficulty
    rng: random.Random
    world_seed: int | None = None
    _cache: dict[str, ProductView] = field(default_factory=dict)

    @property
    def catalog_size(self) -> int:
        return int(self.shop.catalog.product_count)

    @property
    def vocab(self) -> CatalogVocabulary:
        """The catalog's vocabulary: leaves, nouns, attributes, options (read once)."""
        from episodes.families.vocabulary import catalog_vocabulary

        return catalog_vocabulary(self.shop.engine, self.shop.catalog.fingerprint)

    @property
    def catalog(self) -> dict[str, Any]:
        return {"seed": int(self.shop.catalog.seed), "size": self.catalog_size,
                "fingerprint": self.shop.catalog.fingerprint}

    def session_seed(self) -> int:
        """A seed for the task's session, derived from the task's identity (or shared with
        the other parts of a multi-intent task)."""
        if self.world_seed is not None:
            return self.world_seed
        digest = hashlib.sha256(f"world:{self.family}:{self.difficulty}:{self.seed}".encode())
        return int.from_bytes(digest.digest()[:4], "big") & 0x7FFFFFFF

    def search(self, **query: Any) -> SearchPage:
        """Search the catalog as built (no session overrides)."""
        q = SearchQuery.model_validate(query)
        with read_tx(self.shop.engine) as conn:
            return run_search(conn, self.shop.index, q, None)

    def product(self, pid: str | int) -> ProductView:
        """A product with the catalog's own prices and stock."""
        key = product_id(pid) if isinstance(pid, int) else pid
        view = self._cache.get(key)
        if view is None:
            with read_tx(self.shop.engine) as conn:
                view = get_product(conn, None, parse_product_id(key))
            self._cache[key] = view
        return view

    def random_products(self, *, tries: int = 200) -> Iterator[ProductView]:
        """Uniformly random products of the catalog (at most ``tries`` of them)."""
        for _ in range(tries):
            try:
                yield self.product(self.rng.randrange(1, self.catalog_size + 1))
            except NotFound:  # pragma: no cover - ids are dense
                continue

    def pick(self, predicate: Callable[[ProductView], bool], *, tries: int = 400,
             what: str = "a product") -> ProductView:
        """A random product satisfying ``predicate``; a clear error if none turns up."""
        for view in self.random_products(tries=tries):
            if predicate(view):
                return view
        raise GenerationError(f"{self.family} d{self.difficulty} seed {self.seed}: found no "
                              f"{what} in {tries} random products of the catalog")

    def limits(self) -> Limits:
        return Limits(max_turns=self.params.max_turns, max_tool_calls=self.params.max_tool_calls)


class GenerationError(RuntimeError):
    """A generator could not build a solvable task from this catalog."""


class UnsupportedFamily(GenerationError):
    """This catalog lacks what the family's tasks need (``reason`` says what)."""

    def __init__(self, family: str, reason: str) -> None:
        super().__init__(f"the catalog does not support {family} tasks: {reason}")
        self.family = family
        self.reason = reason


def generate_task(shop: Shop, family: str, difficulty: int, seed: int, *,
                  world_seed: int | None = None) -> TaskSpec:
    """The task of ``family`` at ``difficulty`` for ``seed`` on this shop's catalog
    (``world_seed``: use this session seed, so that several tasks can share one world)."""
    _load_families()
    if family not in _GENERATORS:
        raise ValueError(f"unknown family {family!r}; families are "
                         f"{', '.join(sorted(_GENERATORS))}")
    ctx = GenContext(shop=shop, family=family, difficulty=difficulty, seed=seed,
                     params=difficulty_params(difficulty),
                     rng=random.Random(f"task:{family}:{difficulty}:{seed}"),
                     world_seed=world_seed)
    from episodes.families.support import family_support

    support = family_support(ctx.vocab)[family]
    if not support.at(difficulty):
        raise UnsupportedFamily(family, support.reason if not support.supported else
                                f"{support.reason} (difficulty {difficulty}; supported: "
                                f"{', '.join(map(str, support.difficulties))})")
    return _fit_limits(_show_before_use(ctx, _GENERATORS[family](ctx)))


def _referenced_products(args: dict[str, Any]) -> list[str]:
    """Product ids a gold call's arguments rely on (variant ids name their product)."""
    out: list[str] = []
    for key in ("product_id", "variant_id", "new_variant_id"):
        if isinstance(args.get(key), str):
            out.append(args[key])
    out.extend(x for x in args.get("product_ids") or [] if isinstance(x, str))
    out.extend(i["variant_id"] for i in args.get("items") or [] if isinstance(i, dict)
               and isinstance(i.get("variant_id"), str))
    return [product_of(x) if x.startswith("V-") else x for x in out]


def _show_before_use(ctx: GenContext, task: TaskSpec) -> TaskSpec:
    """Make the gold solution find every product before it uses its id.

    A generator knows its target; an agent has to find it. Where the gold would use a product
    id that no earlier step surely showed (a search whose hits depend on the session, or none),
    a search by the product's title is put in just before (checked here to list it), so that
    the oracle's rollout never uses an id out of thin air. Products of the task's past orders
    count as shown once the gold has read an order; lines already in the cart are shown by a
    ``view_cart`` put before the first step that touches them.
    """
    shown: set[str] = set()
    ordered = {product_of(v) for past in task.world.past_orders for v in past["lines"]}
    carted = {product_of(v) for v in task.world.cart}
    out: list[GoldStep] = []
    changed = False
    for step in task.gold:
        if step.tool == "view_cart":
            shown |= carted
        elif carted - shown and carted & set(_referenced_products(step.args)):
            out.append(GoldStep(tool="view_cart"))  # see the cart's lines before changing them
            shown |= carted
            changed = True
        if step.tool in ("get_order", "check_return_eligibility", "list_orders"):
            shown |= ordered
        if step.tool == "search_products" and isinstance(step.args.get("query"), str):
            hit = _title_hit(ctx, step.args["query"], int(step.args.get("page_size", 10)))
            if hit is not None and not (set(step.args) - {"query", "page_size"}):
                shown.add(hit)
        for pid in _referenced_products(step.args) if step.tool else []:
            if pid in shown:
                continue
            search = _title_search(ctx, pid)
            if search is not None:
                out.append(search)
                changed = True
            shown.add(pid)
        out.append(step)
    return task.model_copy(update={"gold": out}) if changed else task


def _title_hit(ctx: GenContext, query: str, size: int) -> str | None:
    """The product whose exact title ``query`` is, if a search for it lists it."""
    hits = ctx.search(text=query, page_size=min(max(size, 1), 50)).hits
    return next((h.product_id for h in hits if h.title == query), None)


def _title_search(ctx: GenContext, pid: str) -> GoldStep | None:
    """A title search that lists ``pid`` (no filters, so the session's prices and stock cannot
    change its hits)."""
    title = ctx.product(pid).title
    for size in (5, 20, 50):
        if any(h.product_id == pid for h in ctx.search(text=title, page_size=size).hits):
            return GoldStep(tool="search_products", args={"query": title, "page_size": size})
    return None


def _fit_limits(task: TaskSpec) -> TaskSpec:
    """Keep the budgets above what the gold solution needs (2 spare turns, 4 spare calls)."""
    turns = sum(1 for g in task.gold if g.say is not None)
    calls = sum(1 for g in task.gold if g.tool is not None)
    limits = Limits(max_turns=max(task.limits.max_turns, turns + 2),
                    max_tool_calls=max(task.limits.max_tool_calls, calls + 4))
    return task if limits == task.limits else task.model_copy(update={"limits": limits})


def families() -> tuple[str, ...]:
    """The families that have a generator."""
    _load_families()
    return tuple(f for f in FAMILIES if f in _GENERATORS)


def _load_families() -> None:
    import episodes.families  # noqa: F401  (registers the generators)
