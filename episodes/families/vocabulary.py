"""The catalog's vocabulary as the task generators use it: leaves, their nouns, typed attributes,
option dimensions and departments, read from the database's catalog tables.

One snapshot (``CatalogVocabulary``) per catalog, built from the ``category``, ``product`` and
``variant`` rows, so that every family runs on any catalog, generated or imported. Words the
rows do not hold are derived: a leaf's nouns from its name ("Shirts & Tops" -> 'shirts &
tops', 'a shirt'), an option's role (size or colour) from its name in several languages and
from its values (``option_role``). For the generated catalog (``CatalogInfo.source ==
'generated'``) the built-in wording of the taxonomy is laid over the rows, keyed by slug, so
generated tasks read exactly as they always have: the generators have one code path.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from sqlalchemy import Connection, Engine, case, func, select

from episodes.families.words import OPTION_ROLES, PAYMENT_WORDS, leaf_nouns, option_role, size_key
from mcp_shop.catalog.text import with_article
from mcp_shop.db import read_tx
from mcp_shop.models.catalog import CatalogInfo, Category, Product, Variant

__all__ = [
    "OPTION_ROLES",
    "PAYMENT_WORDS",
    "AttrVocab",
    "CatalogVocabulary",
    "KitGroup",
    "LeafVocab",
    "OptionDim",
    "catalog_vocabulary",
    "generated_leaves",
    "leaf_nouns",
    "option_role",
    "read_vocabulary",
    "swappable",
]


@dataclass(frozen=True)
class AttrVocab:
    """One typed attribute of a leaf (``Category.attribute_specs``) with its wording.

    ``phrase`` is the built-in description phrase of the generated catalog (a ``{v}`` template,
    or one phrase per value); empty for other catalogs, whose constraints read 'with <label>
    <value>' and 'with a <label> of at least <n> <unit>'.
    """

    name: str
    type: str
    label: str
    unit: str | None = None
    values: tuple[str, ...] = ()
    phrase: str | Mapping[Any, str] = ""


@dataclass(frozen=True)
class OptionDim:
    """A variant dimension of a leaf: its name as the variants spell it, its role ('size',
    'color' or None) and its values in display order."""

    name: str
    role: str | None
    values: tuple[str, ...]


@dataclass(frozen=True)
class LeafVocab:
    """A leaf category with the words tasks use for it.

    Attributes:
        slug, name, path: the category row's.
        department: the department's slug (the root of the leaf's path).
        group: the parent category's slug ('' for a leaf right under nothing).
        plural: how a shopper names its products in the plural ('yoga mats').
        singular: one of them with an article ('a tent', 'headphones').
        nouns: title nouns, the most common first ('Headphones', 'Headset').
        attrs: typed attributes; options: variant dimensions; products: product count;
        final_sale: how many of its products are final sale.
        swaps, final_swaps: how many of its products (not final sale, final sale) have
            variants an exchange can swap (differing in size or colour only, one in stock).
    """

    category_id: int
    slug: str
    name: str
    path: str
    department: str
    group: str
    plural: str
    singular: str
    nouns: tuple[str, ...]
    attrs: tuple[AttrVocab, ...] = ()
    options: tuple[OptionDim, ...] = ()
    products: int = 0
    final_sale: int = 0
    swaps: int = 0
    final_swaps: int = 0

    def attr(self, name: str) -> AttrVocab | None:
        """The attribute named ``name`` (None if the leaf has none)."""
        return next((a for a in self.attrs if a.name == name), None)

    def option(self, name: str) -> OptionDim | None:
        """The option dimension named ``name`` (None if the leaf has none)."""
        return next((o for o in self.options if o.name == name), None)

    def role_option(self, role: str) -> OptionDim | None:
        """The option dimension playing ``role`` ('size' or 'color'), if any."""
        return next((o for o in self.options if o.role == role), None)


@dataclass(frozen=True)
class KitGroup:
    """A parent category whose leaves make a kit ('a camping kit': a tent and a sleeping bag)."""

    slug: str
    name: str
    leaves: tuple[str, ...]


@dataclass(frozen=True)
class CatalogVocabulary:
    """Everything the generators know about a catalog's wording, in category-tree order."""

    source: str
    fingerprint: str
    leaves: tuple[LeafVocab, ...]
    departments: tuple[tuple[str, str], ...]
    kits: tuple[KitGroup, ...]
    pickable: int = 0
    """Products with a variant of two units or more in stock (cart lines can use them)."""
    payment_titles: frozenset[str] = frozenset()
    """Product titles (lower case) that read as a payment method ('gift card')."""
    _by_slug: dict[str, LeafVocab] = field(default_factory=dict, repr=False, compare=False)

    def __post_init__(self) -> None:
        self._by_slug.update({leaf.slug: leaf for leaf in self.leaves})

    def leaf(self, slug: str) -> LeafVocab:
        """The leaf ``slug``; a clear error naming a few valid slugs otherwise."""
        try:
            return self._by_slug[slug]
        except KeyError:
            some = ", ".join(x.slug for x in self.leaves[:5])
            raise KeyError(f"{slug!r} is no leaf category of this catalog; leaves are e.g. "
                           f"{some}") from None

    def department_phrase(self, slug: str) -> str:
        """One product of a department, as a shopper asks for it ('Toys' -> 'a toy')."""
        name = dict(self.departments).get(slug, slug.replace("-", " "))
        return leaf_nouns(name)[1]

    def has_leaf(self, slug: str) -> bool:
        return slug in self._by_slug

    def attr(self, slug: str, name: str) -> AttrVocab | None:
        """The attribute ``name`` of leaf ``slug`` (None when either is unknown)."""
        leaf = self._by_slug.get(slug)
        return leaf.attr(name) if leaf is not None else None

    def role_names(self, slug: str) -> dict[str, str]:
        """{option name: role} of the leaf's size and colour dimensions."""
        leaf = self._by_slug.get(slug)
        if leaf is None:
            return {o: o for o in OPTION_ROLES}
        return {o.name: o.role for o in leaf.options if o.role is not None}


# -- reading ----------------------------------------------------------------------------------


def _attrs(specs: Sequence[Mapping[str, Any]]) -> tuple[AttrVocab, ...]:
    out = []
    for s in specs:
        name = str(s.get("name", ""))
        if not name:
            continue
        out.append(AttrVocab(name=name, type=str(s.get("type", "text")),
                             label=str(s.get("label") or name.replace("_", " ").capitalize()),
                             unit=s.get("unit") or None,
                             values=tuple(str(v) for v in s.get("values") or ())))
    return tuple(out)


@dataclass
class _Scanned:
    """One product as the variant scan saw it."""

    category_id: int
    final_sale: bool
    variants: list[tuple[dict[str, str], int]] = field(default_factory=list)


def _scan(conn: Connection, limit: int) -> dict[int, _Scanned]:
    """{product id: its category, final-sale mark and (options, stock) of its variants} over
    the first ``limit`` variants."""
    prod, var = Product.__table__.c, Variant.__table__.c  # type: ignore[attr-defined]
    rows = conn.execute(
        select(var.product_id, prod.category_id, prod.final_sale, var.options, var.stock)
        .join_from(Variant.__table__, Product.__table__,  # type: ignore[attr-defined]
                   prod.id == var.product_id)
        .order_by(var.id).limit(limit)).all()
    out: dict[int, _Scanned] = {}
    for pid, cat, final_sale, options, stock in rows:
        item = out.get(pid)
        if item is None:
            item = out[pid] = _Scanned(int(cat), bool(final_sale))
        item.variants.append(({str(k): str(v) for k, v in (options or {}).items()},
                              int(stock or 0)))
    return out


def _option_values(scanned: Mapping[int, _Scanned]) -> dict[int, dict[str, list[str]]]:
    """{category id: {option name: values in first-seen order}}."""
    out: dict[int, dict[str, list[str]]] = {}
    for item in scanned.values():
        dims = out.setdefault(item.category_id, {})
        for options, _ in item.variants:
            for name, value in options.items():
                seen = dims.setdefault(name, [])
                if value not in seen:
                    seen.append(value)
    return out


def swappable(variants: Sequence[tuple[Mapping[str, str], int]], dims: Iterable[str]) -> bool:
    """Whether some variants differ in one of ``dims`` only, one of them in stock (an
    exchange can swap them)."""
    for dim in dims:
        groups: dict[tuple[tuple[str, str], ...], list[int]] = {}
        for options, stock in variants:
            if dim in options:
                key = tuple(sorted((k, x) for k, x in options.items() if k != dim))
                groups.setdefault(key, []).append(stock)
        if any(len(g) >= 2 and any(x >= 1 for x in g) for g in groups.values()):
            return True
    return False


def _options(dims: Mapping[str, list[str]]) -> tuple[OptionDim, ...]:
    out = []
    for name, values in dims.items():
        role = option_role(name, values)
        ordered = sorted(values, key=size_key) if role == "size" else list(values)
        out.append(OptionDim(name, role, tuple(ordered)))
    return tuple(out)


@dataclass
class _Row:
    """A ``category`` row as read."""

    id: int
    slug: str
    name: str
    parent_id: int | None
    department: str
    path: str
    is_leaf: bool
    depth: int
    attribute_specs: Any
    product_count: int


def read_vocabulary(conn: Connection, *, option_scan: int = 200_000) -> CatalogVocabulary:
    """The vocabulary of the catalog in the database ``conn`` reads (built-in wording laid
    over the rows when the catalog is the generated one)."""
    info = conn.execute(select(CatalogInfo.__table__)).mappings().first()  # type: ignore[attr-defined]
    if info is None:
        raise ValueError("this database holds no catalog: build one (`mcp-shop build`) or "
                         "import one (`mcp-shop import`) first")
    table = Category.__table__  # type: ignore[attr-defined]
    cats = [_Row(**r) for r in conn.execute(select(table).order_by(table.c.id)).mappings()]
    by_id = {c.id: c for c in cats}

    def root(c: _Row) -> _Row:
        while c.parent_id is not None and c.parent_id in by_id:
            c = by_id[c.parent_id]
        return c

    generated = info["source"] == "generated"
    builtin = _builtin() if generated else {}
    scanned = _scan(conn, option_scan)
    values = {} if generated else _option_values(scanned)
    prod = Product.__table__.c  # type: ignore[attr-defined]
    counts = {int(cat): (int(n), int(fs or 0)) for cat, n, fs in conn.execute(
        select(prod.category_id, func.count(), func.sum(case((prod.final_sale, 1), else_=0)))
        .group_by(prod.category_id)).all()}
    leaves: list[LeafVocab] = []
    for c in cats:
        if not c.is_leaf:
            continue
        parent = by_id.get(c.parent_id) if c.parent_id is not None else None
        plural, singular, nouns = leaf_nouns(c.name)
        attrs = _attrs(c.attribute_specs or [])
        options = _options(values.get(c.id, {}))
        leaf = LeafVocab(category_id=c.id, slug=c.slug, name=c.name, path=c.path,
                         department=root(c).slug, group=parent.slug if parent else "",
                         plural=plural, singular=singular, nouns=nouns, attrs=attrs,
                         options=options, products=counts.get(c.id, (0, 0))[0],
                         final_sale=counts.get(c.id, (0, 0))[1])
        leaves.append(builtin[c.slug](leaf) if c.slug in builtin else leaf)
    leaves = _with_swaps(leaves, scanned)
    departments = tuple((c.slug, c.name) for c in cats if c.parent_id is None)
    kits = _builtin_kits(leaves) if generated else _kits(leaves, by_id)
    pickable = sum(1 for item in scanned.values() if max(x for _, x in item.variants) >= 2)
    paying = frozenset(str(t).lower() for (t,) in conn.execute(
        select(prod.title).where(func.lower(prod.title).in_(sorted(PAYMENT_WORDS)))).all())
    return CatalogVocabulary(source=info["source"], fingerprint=info["fingerprint"],
                             pickable=pickable, payment_titles=paying,
                             leaves=tuple(leaves), departments=departments, kits=kits)


def _with_swaps(leaves: Sequence[LeafVocab], scanned: Mapping[int, _Scanned]
                ) -> list[LeafVocab]:
    """``leaves`` with their counts of products an exchange can swap (final sale or not)."""
    counts: dict[int, list[int]] = {}
    dims = {leaf.category_id: [o.name for o in leaf.options if o.role] for leaf in leaves}
    for item in scanned.values():
        if swappable(item.variants, dims.get(item.category_id, ())):
            pair = counts.setdefault(item.category_id, [0, 0])
            pair[int(item.final_sale)] += 1
    return [replace(leaf, swaps=counts.get(leaf.category_id, [0, 0])[0],
                    final_swaps=counts.get(leaf.category_id, [0, 0])[1]) for leaf in leaves]


def _kits(leaves: Sequence[LeafVocab], by_id: Mapping[int, _Row]) -> tuple[KitGroup, ...]:
    """Parent categories with at least two stocked leaves, named 'a <parent name> kit'."""
    groups: dict[str, list[str]] = {}
    for leaf in leaves:
        if leaf.group and leaf.products > 0:
            groups.setdefault(leaf.group, []).append(leaf.slug)
    names = {c.slug: c.name for c in by_id.values()}
    return tuple(KitGroup(slug, with_article(f"{names.get(slug, slug).lower()} kit"),
                          tuple(sorted(slugs)))
                 for slug, slugs in groups.items() if len(slugs) >= 2)


# -- the generated catalog's built-in wording ---------------------------------------------------

_BUILTIN_KITS = (("sports/camping-hiking", "a camping kit"), ("sports/fitness", "a home gym kit"),
                 ("electronics/audio", "an audio setup"), ("home/kitchen", "a kitchen starter kit"),
                 ("home/bedding", "a bedding set"), ("garden/gardening", "a gardening kit"),
                 ("clothing/tops", "a wardrobe refresh"), ("pets/dogs", "a new-puppy kit"))
"""Kits of the generated catalog, in the order tasks draw them, and how the shopper names them."""


def _builtin_kits(leaves: Sequence[LeafVocab]) -> tuple[KitGroup, ...]:
    return tuple(KitGroup(group, name, tuple(sorted(x.slug for x in leaves if x.group == group)))
                 for group, name in _BUILTIN_KITS)


def _builtin() -> dict[str, Any]:
    """{leaf slug: function laying the taxonomy's wording over a leaf read from the rows}."""
    from mcp_shop.catalog.taxonomy import leaves

    out: dict[str, Any] = {}
    for info in leaves():
        slug = f"{info.department.slug}/{info.group.slug}/{info.leaf.slug}"
        out[slug] = _overlay(info)
    return out


def generated_leaves() -> tuple[LeafVocab, ...]:
    """The generated catalog's leaves with their built-in wording, straight from the taxonomy
    (what ``read_vocabulary`` gives for a generated catalog, product counts aside)."""
    from mcp_shop.catalog.taxonomy import leaves

    out = []
    for info in leaves():
        slug = f"{info.department.slug}/{info.group.slug}/{info.leaf.slug}"
        plural, singular, nouns = leaf_nouns(info.leaf.name)
        specs = [entry for spec in info.leaf.attrs for entry in spec.public()]
        row = LeafVocab(category_id=info.category_id, slug=slug, name=info.leaf.name,
                        path=info.path, department=info.department.slug,
                        group=f"{info.department.slug}/{info.group.slug}", plural=plural,
                        singular=singular, nouns=nouns, attrs=_attrs(specs))
        out.append(_overlay(info)(row))
    return tuple(out)


def _overlay(info: Any) -> Any:
    leaf = info.leaf
    nouns = tuple(n if isinstance(n, str) else n[0] for n in leaf.nouns)
    first = nouns[0].lower()
    singular = first if first.endswith("s") and not first.endswith("ss") else with_article(first)
    phrases = {spec.name: spec.phrase for spec in leaf.attrs}
    options = tuple(OptionDim(o.name, option_role(o.name), tuple(o.values))
                    for o in leaf.options)

    def apply(row: LeafVocab) -> LeafVocab:
        attrs = tuple(AttrVocab(a.name, a.type, a.label, a.unit, a.values,
                                phrases.get(a.name, "")) for a in row.attrs)
        return LeafVocab(category_id=row.category_id, slug=row.slug, name=row.name,
                         path=row.path, department=row.department, group=row.group,
                         plural=leaf.name.lower(), singular=singular, nouns=nouns, attrs=attrs,
                         options=options, products=row.products,
                         final_sale=row.final_sale)

    return apply


# -- one snapshot per catalog -------------------------------------------------------------------

_CACHE: dict[tuple[int, str], CatalogVocabulary] = {}


def catalog_vocabulary(engine: Engine, fingerprint: str) -> CatalogVocabulary:
    """The vocabulary of the catalog behind ``engine`` (read once per engine and catalog)."""
    key = (id(engine), fingerprint)
    vocab = _CACHE.get(key)
    if vocab is None:
        with read_tx(engine) as conn:
            vocab = read_vocabulary(conn)
        if len(_CACHE) > 32:
            _CACHE.clear()
        _CACHE[key] = vocab
    return vocab
