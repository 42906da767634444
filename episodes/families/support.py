"""Which task families a catalog supports, and why not.

Each family needs something of the catalog: products in some leaf, leaves with two products or
more (a similar product to offer), sized or coloured variants (an exchange), themed products
with an age range or a group of leaves (a bundle). ``family_support`` reads that from the
catalog's vocabulary; ``generate_task`` refuses an unsupported family with a typed
``UnsupportedFamily`` carrying the reason, and ``shop-episodes tasks --supported`` lists it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from episodes.difficulty import MAX_DIFFICULTY
from episodes.families.vocabulary import CatalogVocabulary
from verifiers.types import FAMILIES

__all__ = ["Support", "describe", "family_support", "shop_support", "split_supported",
           "support_table"]


@dataclass(frozen=True)
class Support:
    """Whether a catalog supports a family: at which difficulties (0-20), ``reason`` says why
    not (at all, or at the others); ``notes`` name the task variants a supported family cannot
    make on this catalog."""

    family: str
    difficulties: tuple[int, ...]
    reason: str = ""
    notes: tuple[str, ...] = ()

    @property
    def supported(self) -> bool:
        """Supported at some difficulty."""
        return bool(self.difficulties)

    def at(self, difficulty: int) -> bool:
        """Supported at ``difficulty``."""
        return difficulty in self.difficulties


_ALL = tuple(range(MAX_DIFFICULTY + 1))
_FIRST = ("order_status", "return", "exchange", "cancel", "policy")
_SECOND = ("discovery", "price_compare", "substitution", "cart", "bundle", "purchase")
_CACHE: dict[str, dict[str, Support]] = {}


def family_support(vocab: CatalogVocabulary) -> dict[str, Support]:
    """{family: Support} for every family, over the catalog ``vocab`` describes."""
    got = _CACHE.get(vocab.fingerprint)
    if got is None:
        got = _CACHE[vocab.fingerprint] = _support(vocab)
    return got


def _cart_needs(level: int, purchase: bool) -> int:
    """Distinct stocked products a cart (purchase) task of ``level`` puts in the cart
    (``episodes.families.cart``), with the extra line a cart task may start with."""
    if purchase:
        return 1 + min(2, level // 4)
    return 1 + min(3, level // 3) + (1 if level >= 4 else 0)


def _support(vocab: CatalogVocabulary) -> dict[str, Support]:
    from episodes.families.bundle import gift_leaves, kit_groups

    stocked = [leaf for leaf in vocab.leaves if leaf.products > 0]
    pairs = [leaf for leaf in stocked if leaf.products >= 2]
    out: dict[str, Support] = {}

    def need(family: str, ok: bool, reason: str, notes: tuple[str, ...] = (),
             levels: tuple[int, ...] = _ALL) -> None:
        levels = levels if ok else ()
        why = reason if not levels or len(levels) < len(_ALL) else ""
        out[family] = Support(family, levels, why, notes if levels else ())

    no_products = "no leaf category holds a product"
    for family in ("discovery", "return", "order_status", "cancel"):
        need(family, bool(stocked), no_products)
    for family in ("cart", "purchase"):
        buy = family == "purchase"
        levels = tuple(d for d in _ALL if _cart_needs(d, buy) <= vocab.pickable)
        short = next((d for d in _ALL if d not in levels), 0)
        need(family, bool(levels),
             f"from difficulty {short} a {family} task needs {_cart_needs(short, buy)} "
             f"distinct products with two units in stock or more; the catalog has "
             f"{vocab.pickable}", levels=levels)
    need("policy", bool(vocab.leaves), "the catalog has no leaf category")
    no_pairs = ("no leaf category holds two products or more, so there is no similar product "
                "to offer")
    need("price_compare", bool(pairs), no_pairs)
    need("substitution", bool(pairs), no_pairs)

    swaps = [leaf for leaf in stocked if leaf.swaps]
    roles = {o.role for leaf in swaps for o in leaf.options if o.role}
    notes = [f"no {w} options: no {w} exchanges"
             for r, w in (("size", "size"), ("color", "colour")) if r not in roles]
    need("exchange", bool(swaps),
         "no product has variants that differ only in size or colour with one in stock (an "
         "option named like 'Size'/'Größe'/'Taille' or 'Color'/'Farbe'/'Couleur', or valued "
         "S/M/L or with colour words)", tuple(notes))

    gifts, kits = gift_leaves(vocab), kit_groups(vocab)
    bundle_notes = []
    if not gifts:
        bundle_notes.append("no themed products with an age range (attributes 'theme' as an "
                            "enum and 'max_age'): no gift bundles")
    if not kits:
        bundle_notes.append("no parent category with two stocked leaves: no kits")
    need("bundle", bool(gifts or kits), "; ".join(bundle_notes), tuple(bundle_notes))

    levels = tuple(d for d in _ALL if any(out[f].at(d) for f in _FIRST)
                   and sum(out[f].at(d) for f in _SECOND) >= (2 if d >= 7 else 1))
    need("multi", bool(levels), "multi chains an order or policy request with one shopping "
         "request (two from difficulty 7), and the catalog supports too few of them",
         levels=levels)
    return {f: out[f] for f in FAMILIES if f in out}


def support_table(url: str) -> list[Support]:
    """The families the catalog at database ``url`` supports, and why not."""
    from episodes.families.vocabulary import catalog_vocabulary
    from mcp_shop.catalog import load_catalog_info
    from mcp_shop.db import make_engine

    engine = make_engine(url)
    try:
        info = load_catalog_info(engine)
        if info is None:
            raise SystemExit(f"{url} holds no catalog: build or import one first")
        return list(family_support(catalog_vocabulary(engine, info.fingerprint)).values())
    finally:
        engine.dispose()


def describe(s: Support) -> str:
    """'cart           d0-5    a cart task at ...': one family's line."""
    if not s.supported:
        levels = "no"
    elif len(s.difficulties) == len(_ALL):
        levels = "yes"
    elif s.difficulties == tuple(range(s.difficulties[0], s.difficulties[-1] + 1)):
        levels = f"d{s.difficulties[0]}-{s.difficulties[-1]}"
    else:
        levels = "d" + ",".join(str(d) for d in s.difficulties)
    why = "; ".join([x for x in (s.reason, *s.notes) if x])
    return f"{s.family:<14} {levels:<7} {why}".rstrip()


def main(argv: list[str] | None = None) -> int:
    """``python -m episodes.families.support --db URL``: a line per family."""
    import argparse

    parser = argparse.ArgumentParser(prog="python -m episodes.families.support",
                                     description="which task families a catalog supports")
    parser.add_argument("--db", required=True, help="database URL, e.g. sqlite:///shop.db")
    args = parser.parse_args(argv)
    for s in support_table(args.db):
        print(describe(s))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())


def shop_support(shop: Any) -> dict[str, Support]:
    """``family_support`` of a ``Shop``'s catalog."""
    from episodes.families.vocabulary import catalog_vocabulary

    return family_support(catalog_vocabulary(shop.engine, shop.catalog.fingerprint))


def split_supported(shop: Any, jobs: Sequence[tuple[str, int, int]]
                    ) -> tuple[list[tuple[str, int, int]], list[str]]:
    """The (family, difficulty, seed) jobs the shop's catalog supports, and a line per
    family left out (wholly or at some difficulties) saying why.

    Raises:
        ValueError: the catalog supports none of the jobs (the message says why).
    """
    support = shop_support(shop)
    kept = [j for j in jobs if support[j[0]].at(j[1])]
    left: dict[str, set[int]] = {}
    for family, difficulty, _ in jobs:
        if not support[family].at(difficulty):
            left.setdefault(family, set()).add(difficulty)
    notes = [f"skipped {family} at difficulty {', '.join(map(str, sorted(ds)))}: "
             f"{support[family].reason}" for family, ds in left.items()]
    if jobs and not kept:
        raise ValueError("this catalog supports none of the asked tasks: " + "; ".join(notes))
    return kept, notes
