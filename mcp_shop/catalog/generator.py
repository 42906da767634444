"""Deterministic synthetic catalog: product ``i`` depends only on ``(seed, i)``.

Products are generated in chunks of ``CHUNK_SIZE``; each chunk draws from its own
``random.Random`` seeded by ``(seed, chunk)``, so any catalog is a prefix of a bigger one with the
same seed and chunks can be generated in parallel. Pure functions: no I/O, no global RNG.
"""

from __future__ import annotations

import hashlib
import itertools
import math
import random
from bisect import bisect
from dataclasses import dataclass
from functools import cache, lru_cache, partial
from typing import Any, NamedTuple, Protocol

from mcp_shop.catalog import text
from mcp_shop.catalog.specs import AttrSpec, OptionSpec
from mcp_shop.catalog.taxonomy import CategorySpec, LeafInfo, leaves
from mcp_shop.catalog.taxonomy import categories as _categories
from mcp_shop.catalog.variants import (
    MAX_VARIANTS,
    VariantRow,
    build_variants,
    choose_options,
    dumps,
    shop_cents,
)
from mcp_shop.catalog.vocab import SERIES, model_name

__all__ = [
    "CHUNK_SIZE",
    "MAX_VARIANTS",
    "ProductRow",
    "VariantRow",
    "categories",
    "design_index",
    "generate_chunk",
    "generate_products",
    "shop_cents",
]

CHUNK_SIZE = 4096
"""Products per RNG chunk (fixed: changing it changes every catalog)."""
_ZIPF_S = 0.9
_ZERO: dict[str, Any] = {"bool": False, "int": 0, "float": 0.0, "text": ""}


class ProductRow(NamedTuple):
    """One generated product (the columns of ``Product``)."""

    id: int
    title: str
    brand: str
    category_id: int
    description: str
    attributes: dict[str, Any]
    option_names: list[str]
    rating: float
    rating_count: int
    price_min_cents: int
    price_max_cents: int
    in_stock: bool
    final_sale: bool


_new_product = partial(tuple.__new__, ProductRow)


def categories() -> list[CategorySpec]:
    """Every category of the generated catalog, in id order (the same for every seed)."""
    return _categories()


@lru_cache(maxsize=16)
def _round_keys(seed: int) -> tuple[int, ...]:
    digest = hashlib.sha256(f"mcp-shop-design:{seed}".encode()).digest()
    return tuple(int.from_bytes(digest[4 * k: 4 * k + 4], "big") for k in range(4))


def design_index(seed: int, index: int) -> int:
    """A keyed permutation of ``0 .. 2**24 - 1`` (a 4-round Feistel network over 12-bit halves).

    Product ``i`` is named by ``design_index(seed, i - 1)``: its high 12 bits pick the series word
    and its low 12 bits the model, so no two products share both.
    """
    left, right = index >> 12, index & 0xFFF
    for key in _round_keys(seed):
        left, right = right, left ^ ((((right ^ key) * 0x9E3779B1) >> 13) & 0xFFF)
    return (left << 12) | right


def _cumulative(weights: list[float] | tuple[float, ...]) -> list[float]:
    return list(itertools.accumulate(weights))


@dataclass(frozen=True)
class _Plan:
    """A leaf compiled for fast sampling."""

    info: LeafInfo
    options: tuple[OptionSpec, ...]
    phrases: text.Phrases
    features: Any
    brand_codes: tuple[str, ...]
    brand_tier: tuple[float, ...]
    upcharges: dict[str, dict[str, float]]
    samplers: tuple[tuple[Any, ...], ...]
    priced: tuple[tuple[str, bool, Any], ...]
    norm: float
    attr_json: tuple[tuple[str, dict[Any, str]], ...]
    nouns: tuple[tuple[str, dict[str, tuple[Any, ...]]], ...]


def _brand_tier(brand: str) -> float:
    h = int.from_bytes(hashlib.sha256(brand.encode()).digest()[:4], "big") / 2**32
    return 0.75 + 0.6 * h


def _price_norm(info: LeafInfo) -> float:
    """The geometric mean of a leaf's price factors, divided out so its median price holds."""
    log_mean = 0.0
    for spec in info.leaf.attrs:
        if spec.price is None:
            continue
        if spec.type == "bool":
            log_mean += spec.p * math.log(spec.price)
        else:
            weights = spec.weights or (1.0,) * len(spec.choices)
            log_mean += sum(w * math.log(spec.price.get(c, 1.0))
                            for c, w in zip(spec.choices, weights, strict=True)) / sum(weights)
    zipf = [1 / k**_ZIPF_S for k in range(1, len(info.brands) + 1)]
    log_mean += sum(w * math.log(_brand_tier(b)) for b, w in zip(info.brands, zipf, strict=True)
                    ) / sum(zipf)
    return math.exp(log_mean)


@cache
def _plans() -> tuple[tuple[_Plan, ...], list[float], list[float]]:
    plans = []
    for info in leaves():
        plans.append(_Plan(
            info, info.leaf.options, text.phrase_builder(info.leaf),
            text.title_features(info.leaf),
            tuple(b[:3].upper() for b in info.brands),
            tuple(_brand_tier(b) for b in info.brands),
            {o.name: o.upcharge for o in info.leaf.options if o.upcharge},
            tuple(_sampler(spec) for spec in info.leaf.attrs),
            tuple((spec.name, spec.type == "bool", spec.price) for spec in info.leaf.attrs
                  if spec.price is not None),
            _price_norm(info),
            _attr_json_tables(info),
            tuple((n, {}) if isinstance(n, str) else n for n in info.leaf.nouns),
        ))
    leaf_cum = _cumulative([p.info.leaf.weight for p in plans])
    n_brands = max(len(p.info.brands) for p in plans)
    brand_cum = _cumulative([1 / k**_ZIPF_S for k in range(1, n_brands + 1)])
    return tuple(plans), leaf_cum, brand_cum


@lru_cache(maxsize=16)
def _leaf_order(seed: int) -> tuple[int, ...]:
    """The first products of a catalog visit every leaf once, in a seeded order."""
    order = list(range(len(leaves())))
    random.Random(f"mcp-shop-leaf-order:{seed}").shuffle(order)
    return tuple(order)


def _sampler(spec: AttrSpec) -> tuple[Any, ...]:
    """``(name, pair, is_bool, p, choices, cumulative weights, requires, zero)`` of a spec."""
    cum = _cumulative(spec.weights) if spec.weights else None
    zero = spec.values[0] if spec.type == "enum" else _ZERO[spec.type]
    return (spec.name, spec.pair, spec.type == "bool", spec.p, spec.choices, cum,
            spec.requires, zero)


def _attr_json_tables(info: LeafInfo) -> tuple[tuple[str, dict[Any, str]], ...]:
    """Per attribute, the JSON text of ``"name":value`` for each value it can take."""
    tables = []
    for spec in info.leaf.attrs:
        if spec.pair:
            for k, name in enumerate((spec.name, spec.pair)):
                tables.append((name, {v[k]: dumps(name) + ":" + dumps(v[k])
                                      for v in spec.choices}))
            continue
        values = [True, False] if spec.type == "bool" else list(spec.choices)
        values.append(spec.values[0] if spec.type == "enum" else _ZERO[spec.type])
        tables.append((spec.name, {v: dumps(spec.name) + ":" + dumps(v) for v in values}))
    return tuple(tables)


def _attributes_json(plan: _Plan, attrs: dict[str, Any]) -> str:
    """``dumps(attrs)``, assembled from precomputed pieces."""
    parts = []
    for name, table in plan.attr_json:
        part = table.get(attrs[name])
        parts.append(part if part is not None else dumps(name) + ":" + dumps(attrs[name]))
    return "{" + ",".join(parts) + "}"


def _attributes(rng: random.Random, plan: _Plan) -> dict[str, Any]:
    attrs: dict[str, Any] = {}
    for name, pair, is_bool, p, choices, cum, requires, zero in plan.samplers:
        if is_bool:
            value: Any = rng.random() < p
        elif cum is None:
            value = choices[int(rng.random() * len(choices))]
        else:
            value = choices[bisect(cum, rng.random() * cum[-1])]
        if pair:
            attrs[name], attrs[pair] = value
            continue
        if requires is not None and not attrs[requires]:
            value = zero
        attrs[name] = value
    if "players_min" in attrs and attrs["players_min"] > attrs.get("players_max", 99):
        attrs["players_min"] = 1
    return attrs


def _noun(rng: random.Random, plan: _Plan, attrs: dict[str, Any]) -> str:
    """The title noun: the leaf's main noun, or (40%) another one that fits the attributes."""
    nouns = plan.nouns
    if len(nouns) == 1 or rng.random() < 0.6:
        return nouns[0][0]
    fits = [noun for noun, cond in nouns[1:]
            if all(attrs[k] in allowed for k, allowed in cond.items())]
    if not fits:
        return nouns[0][0]
    return fits[int(rng.random() * len(fits))]


class Uniform(Protocol):
    """What the rating draw needs of a random stream (``random.Random`` or an importer's)."""

    def random(self) -> float: ...

    def gauss(self, mu: float, sigma: float) -> float: ...


def _rating(rng: random.Random, rank: int) -> tuple[float, int]:
    return draw_rating(rng, 0.9 if rank <= 3 else 0.4 if rank <= 8 else 0.0)


def draw_rating(rng: Uniform, boost: float) -> tuple[float, int]:
    """A mean rating (1.0-5.0, one decimal) and a rating count: log-normal counts (``boost``
    raises their log-mean: popular brands are rated more), most ratings around 4.3, a few poor
    ones. One source for the generated catalog and for ratings an import synthesises."""
    mu = math.log(25) + boost
    count = min(250_000, max(1, int(math.exp(mu + 1.7 * rng.gauss(0.0, 1.0)))))
    r = rng.random()
    if count < 5:
        value = rng.gauss(4.1, 0.8)
    elif r < 0.04:
        value = 1.0 + 2.0 * rng.random()
    elif r < 0.18:
        value = rng.gauss(3.6, 0.35)
    else:
        value = rng.gauss(4.35, 0.28)
    return round(min(5.0, max(1.0, value)), 1), count


def _product(rng: random.Random, seed: int, pk: int, products: list[ProductRow],
             variants: list[VariantRow], encoded: bool, order: tuple[int, ...]) -> None:
    plans, leaf_cum, brand_cum = _plans()
    if pk <= len(order):
        plan = plans[order[pk - 1]]
        rng.random()
    else:
        plan = plans[bisect(leaf_cum, rng.random() * leaf_cum[-1])]
    info, leaf = plan.info, plan.info.leaf
    n_brands = len(info.brands)
    rank = bisect(brand_cum, rng.random() * brand_cum[n_brands - 1])
    brand = info.brands[rank]
    design = design_index(seed, pk - 1)
    series, model = SERIES[design >> 12], model_name(leaf.style, design & 0xFFF)
    attrs = _attributes(rng, plan)
    noun = _noun(rng, plan, attrs)
    title = text.make_title(rng, info, brand, series, model, attrs, plan.features(attrs), noun)
    description = text.describe(rng, info, brand, series, model, noun, plan.phrases(attrs))

    factor = math.exp(leaf.sigma * rng.gauss(0.0, 1.0)) * plan.brand_tier[rank]
    for name, is_bool, price in plan.priced:
        value = attrs[name]
        if is_bool:
            if value:
                factor *= price
        else:
            factor *= price.get(value, 1.0)
    raw = leaf.price * factor / plan.norm
    style = int(rng.random() * 4)
    rating, rating_count = _rating(rng, rank + 1)
    final_sale = rng.random() < 0.02
    sold_out = rng.random() < 0.03
    small_up = rng.random() < 0.35

    chosen = choose_options(rng, plan.options, attrs.get("gender"))
    names, lo, hi, in_stock = build_variants(
        rng, pk, chosen, plan.upcharges, f"{plan.brand_codes[rank]}-{pk}", raw, style, small_up,
        sold_out, encoded, variants)
    if encoded:
        row: Any = (pk, title, brand, info.category_id, description, _attributes_json(plan, attrs),
                    _names_json(tuple(names)), rating, rating_count, lo, hi, in_stock, final_sale)
        products.append(row)
    else:
        products.append(_new_product((pk, title, brand, info.category_id, description, attrs,
                                      names, rating, rating_count, lo, hi, in_stock,
                                      final_sale)))


@cache
def _names_json(names: tuple[str, ...]) -> str:
    return dumps(list(names))


def generate_chunk(seed: int, chunk: int, stop: int | None = None, *, encoded: bool = False
                   ) -> tuple[list[ProductRow], list[VariantRow]]:
    """Products ``chunk * CHUNK_SIZE + 1 .. (chunk + 1) * CHUNK_SIZE`` (ending before ``stop``).

    Args:
        seed: the catalog seed.
        chunk: 0-based chunk index.
        stop: exclusive upper bound on product ids (the catalog size + 1).
        encoded: give plain tuples (ready for the database, cheap to pickle) whose
            ``attributes``, ``option_names`` and ``options`` are compact JSON text.
    """
    first = chunk * CHUNK_SIZE + 1
    last = first + CHUNK_SIZE if stop is None else min(first + CHUNK_SIZE, stop)
    rng = random.Random(f"mcp-shop-catalog:{seed}:{chunk}")
    products: list[ProductRow] = []
    variants: list[VariantRow] = []
    order = _leaf_order(seed)
    for pk in range(first, last):
        _product(rng, seed, pk, products, variants, encoded, order)
    return products, variants


def generate_products(seed: int, start: int, stop: int
                      ) -> tuple[list[ProductRow], list[VariantRow]]:
    """The products with ids in ``[start, stop)`` and their variants; ids start at 1.

    The result does not depend on how a catalog is cut into calls: product ``i`` is always the
    same for the same seed.
    """
    if start < 1 or stop < start:
        raise ValueError(f"need 1 <= start <= stop, got start={start} stop={stop}")
    products: list[ProductRow] = []
    variants: list[VariantRow] = []
    if stop == start:
        return products, variants
    for chunk in range((start - 1) // CHUNK_SIZE, (stop - 2) // CHUNK_SIZE + 1):
        ps, vs = generate_chunk(seed, chunk, stop)
        products.extend(p for p in ps if p.id >= start)
        variants.extend(v for v in vs if v.product_id >= start)
    return products, variants
