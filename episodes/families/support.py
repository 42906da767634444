"""Which task families a catalog supports, and why not.

Each family needs something of the catalog: products in some leaf, leaves with two products or
more (a similar product to offer), sized or coloured variants (an exchange), themed products
with an age range or a group of leaves (a bundle). ``family_support`` reads that from the
catalog's vocabulary; ``generate_task`` refuses an unsupported family with a typed
``UnsupportedFamily`` carrying the reason, and ``shop-episodes tasks --supported`` lists it.
"""

from __future__ import annotations

from dataclasses import dataclass

from episodes.families.vocabulary import CatalogVocabulary
from verifiers.types import FAMILIES

__all__ = ["Support", "family_support"]


@dataclass(frozen=True)
class Support:
    """Whether a catalog supports a family: ``reason`` says why not; ``notes`` name the task
    variants a supported family cannot make on this catalog."""

    family: str
    supported: bool
    reason: str = ""
    notes: tuple[str, ...] = ()


_FIRST = ("order_status", "return", "exchange", "cancel", "policy")
_SECOND = ("discovery", "price_compare", "substitution", "cart", "bundle", "purchase")
_CACHE: dict[str, dict[str, Support]] = {}


def family_support(vocab: CatalogVocabulary) -> dict[str, Support]:
    """{family: Support} for every family, over the catalog ``vocab`` describes."""
    got = _CACHE.get(vocab.fingerprint)
    if got is None:
        got = _CACHE[vocab.fingerprint] = _support(vocab)
    return got


def _support(vocab: CatalogVocabulary) -> dict[str, Support]:
    from episodes.families.bundle import gift_leaves, kit_groups

    stocked = [leaf for leaf in vocab.leaves if leaf.products > 0]
    pairs = [leaf for leaf in stocked if leaf.products >= 2]
    out: dict[str, Support] = {}

    def need(family: str, ok: bool, reason: str, notes: tuple[str, ...] = ()) -> None:
        out[family] = Support(family, ok, "" if ok else reason, notes if ok else ())

    no_products = "no leaf category holds a product"
    for family in ("discovery", "cart", "purchase", "return", "order_status", "cancel"):
        need(family, bool(stocked), no_products)
    need("policy", bool(vocab.leaves), "the catalog has no leaf category")
    no_pairs = ("no leaf category holds two products or more, so there is no similar product "
                "to offer")
    need("price_compare", bool(pairs), no_pairs)
    need("substitution", bool(pairs), no_pairs)

    sized = [leaf for leaf in stocked
             if any(o.role == "size" and len(o.values) >= 2 for o in leaf.options)]
    coloured = [leaf for leaf in stocked
                if any(o.role == "color" and len(o.values) >= 2 for o in leaf.options)]
    notes: list[str] = []
    if not sized:
        notes.append("no sized variants: no size exchanges (colour swaps only)")
    if not coloured:
        notes.append("no coloured variants: no colour exchanges (size swaps only)")
    need("exchange", bool(sized or coloured),
         "no product has variants that differ in size or colour (no option named like "
         "'Size'/'Größe'/'Taille' or 'Color'/'Farbe'/'Couleur', nor valued S/M/L or colour "
         "words)", tuple(notes))

    gifts, kits = gift_leaves(vocab), kit_groups(vocab)
    bundle_notes = []
    if not gifts:
        bundle_notes.append("no themed products with an age range (attributes 'theme' as an "
                            "enum and 'max_age'): no gift bundles")
    if not kits:
        bundle_notes.append("no parent category with two stocked leaves: no kits")
    need("bundle", bool(gifts or kits), "; ".join(bundle_notes), tuple(bundle_notes))

    firsts = [f for f in _FIRST if out[f].supported]
    seconds = [f for f in _SECOND if out[f].supported]
    need("multi", bool(firsts) and len(seconds) >= 2,
         "multi chains an order or policy request with two shopping requests, and the "
         "catalog supports too few of them")
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


def main(argv: list[str] | None = None) -> int:
    """``python -m episodes.families.support --db URL``: a line per family."""
    import argparse

    parser = argparse.ArgumentParser(prog="python -m episodes.families.support",
                                     description="which task families a catalog supports")
    parser.add_argument("--db", required=True, help="database URL, e.g. sqlite:///shop.db")
    args = parser.parse_args(argv)
    for s in support_table(args.db):
        state = "yes" if s.supported else "no "
        why = s.reason or "; ".join(s.notes)
        print(f"{s.family:<14} {state}  {why}".rstrip())
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
