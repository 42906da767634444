"""The catalog's tantivy index: schema, streaming build, on-disk cache and the cached searcher.

A catalog is immutable, so its index is built once (one document per product, in product-key
order, into a single segment) and shared by every session and process. Per-session stock and
price overrides are applied at query time by :mod:`mcp_shop.search.query` (with the effective
values of :mod:`mcp_shop.search.session`).
"""

from __future__ import annotations

import gc
import hashlib
import json
import logging
import math
import os
import queue
import re
import shutil
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from json.encoder import encode_basestring as _esc  # type: ignore[attr-defined]
from pathlib import Path
from typing import Any

import tantivy
from sqlalchemy import Connection, Engine, func, select, text

from mcp_shop.errors import NotFound
from mcp_shop.locks import file_lock
from mcp_shop.models import CatalogInfo, Category, Product

__all__ = [
    "INDEX_VERSION",
    "TEXT_FIELDS",
    "CategoryInfo",
    "SearchIndex",
    "analyzer",
    "attr_term",
    "norm_value",
    "sort_key_fields",
    "stock_price_filter",
]

log = logging.getLogger(__name__)

INDEX_VERSION = 1
#: text fields searched by the query text, with their BM25 boosts; ``tags`` holds the brand,
#: the category path's names and the attribute words ('noise cancelling', 'dinosaurs', '30 h');
#: title and tags are stemmed (en_stem), the description is not (see ``words.word_forms``)
TEXT_FIELDS: dict[str, float] = {"title": 3.0, "tags": 1.5, "description": 0.5}
PK_BITS = 24  # composite sort keys hold the product key in their low bits
#: ``stock_price`` is the price for products in stock and this plus the price for the others, so
#: "in stock and priced between a and b" is one range on one column
OUT_OF_STOCK = 1 << 40
_PK_MASK = (1 << PK_BITS) - 1
_HEAP = 3_500_000_000  # one indexing thread; room for 5M products in one segment (lazily used)
_META = "search_meta.json"
_BATCH = 5000
_NUMERIC = {"int", "float"}
_SEPARATORS = re.compile(r"[\s_\-]+")
_scan = json.JSONDecoder().scan_once  # type: ignore[attr-defined]


def analyzer(stem: bool = True) -> tantivy.TextAnalyzer:
    """The analysis of tantivy's ``en_stem`` tokenizer (``stem=False``: of ``default``)."""
    builder = (tantivy.TextAnalyzerBuilder(tantivy.Tokenizer.simple())
               .filter(tantivy.Filter.remove_long(40))
               .filter(tantivy.Filter.lowercase()))
    if stem:
        builder = builder.filter(tantivy.Filter.stemmer("english"))
    return builder.build()


def stock_price_filter(index: SearchIndex, low: int | None, high: int | None,
                       in_stock_only: bool) -> tantivy.Query | None:
    """One fast-field range for the catalog price bounds and stock filter (None: no filter)."""
    if in_stock_only:
        high = OUT_OF_STOCK - 1 if high is None else min(high, OUT_OF_STOCK - 1)
        return tantivy.Query.range_query(index.schema, "stock_price", tantivy.FieldType.Unsigned,
                                         low or 0, high)
    if low is None and high is None:
        return None
    return tantivy.Query.range_query(index.schema, "price_min", tantivy.FieldType.Unsigned,
                                     low, high)


def norm_value(value: Any) -> str:
    """The canonical text of a categorical attribute value: 'true', 'dinosaurs', '8';
    case, underscores and hyphens do not matter ('Natural-Rubber' is 'natural rubber')."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    return " ".join(_SEPARATORS.split(str(value)[:200].lower())).strip()


def attr_term(name: str, value: Any) -> str:
    """The raw term of a categorical attribute, e.g. ``'theme=dinosaurs'``."""
    return f"{name}={norm_value(value)}"


def rating_milli(rating: float) -> int:
    """A rating in thousandths, as used by the rating and popularity sorts."""
    return max(0, min(8191, round(rating * 1000)))


def sort_key_fields(pk: int, price: int, rating: float, rating_count: int) -> dict[str, int]:
    """Composite u64 sort keys (unique thanks to the product key in their low bits).

    ``k_price_asc`` is read ascending, the others descending; all break ties by ascending pk.
    """
    inv = _PK_MASK - pk
    count = min(rating_count, (1 << 26) - 1)
    r = rating_milli(rating)
    return {
        "k_price_asc": (min(price, (1 << 39) - 1) << PK_BITS) | pk,
        "k_price_desc": (min(price, (1 << 39) - 1) << PK_BITS) | inv,
        "k_rating": (((r << 26) | count) << PK_BITS) | inv,
        "k_popularity": (((count << 13) | r) << PK_BITS) | inv,
    }


@dataclass(frozen=True)
class CategoryInfo:
    """A category node as the search layer needs it."""

    id: int
    slug: str
    name: str
    path: str
    parent_id: int | None
    is_leaf: bool
    specs: tuple[dict[str, Any], ...]
    ancestors: tuple[int, ...] = ()  # root first, self last
    subtree: frozenset[int] = field(default_factory=frozenset)


def load_categories(conn: Connection) -> dict[int, CategoryInfo]:
    """Every category with its ancestor chain and subtree (the table is small)."""
    rows = conn.execute(select(Category.__table__)).mappings().all()  # type: ignore[attr-defined]
    parents = {r["id"]: r["parent_id"] for r in rows}
    children: dict[int, list[int]] = {}
    for cid, pid in parents.items():
        if pid is not None:
            children.setdefault(pid, []).append(cid)
    out: dict[int, CategoryInfo] = {}
    for r in rows:
        chain: list[int] = []
        cur = r["id"]
        while cur is not None and cur not in chain:
            chain.insert(0, cur)
            cur = parents.get(cur)
        sub: set[int] = set()
        stack = [r["id"]]
        while stack:
            c = stack.pop()
            if c not in sub:
                sub.add(c)
                stack.extend(children.get(c, ()))
        out[r["id"]] = CategoryInfo(
            id=r["id"], slug=r["slug"], name=r["name"], path=r["path"],
            parent_id=r["parent_id"], is_leaf=bool(r["is_leaf"]),
            specs=tuple(r["attribute_specs"] or ()), ancestors=tuple(chain),
            subtree=frozenset(sub),
        )
    return out


def numeric_attribute_fields(categories: dict[int, CategoryInfo]) -> dict[str, str]:
    """Attribute name -> fast field name for every int/float attribute of any category."""
    out: dict[str, str] = {}
    used: set[str] = set()
    for cat in sorted(categories.values(), key=lambda c: c.id):
        for spec in cat.specs:
            name = spec.get("name")
            if spec.get("type") in _NUMERIC and isinstance(name, str) and name not in out:
                base = "n_" + re.sub(r"[^A-Za-z0-9_]", "_", name)[:60]
                fname, i = base, 1
                while fname in used:
                    fname, i = f"{base}_{i}", i + 1
                used.add(fname)
                out[name] = fname
    return out


def _schema(numeric: dict[str, str]) -> tantivy.Schema:
    sb = tantivy.SchemaBuilder()
    sb.add_unsigned_field("pk", stored=True, indexed=True, fast=True)
    sb.add_text_field("title", tokenizer_name="en_stem", index_option="freq")
    sb.add_text_field("tags", tokenizer_name="en_stem", index_option="freq")
    sb.add_text_field("description", tokenizer_name="default", index_option="freq")
    sb.add_text_field("brand", tokenizer_name="raw", index_option="basic")
    sb.add_text_field("attr", tokenizer_name="raw", index_option="basic")
    sb.add_unsigned_field("cat", indexed=True)
    sb.add_unsigned_field("price_min", fast=True)
    sb.add_unsigned_field("price_max", fast=True)
    sb.add_float_field("rating", fast=True)
    sb.add_unsigned_field("rating_count", fast=True)
    sb.add_boolean_field("in_stock", indexed=True, fast=True)
    sb.add_unsigned_field("stock_price", fast=True)
    for key in ("k_price_asc", "k_price_desc", "k_rating", "k_popularity"):
        sb.add_unsigned_field(key, fast=True)
    for fname in numeric.values():
        sb.add_float_field(fname, fast=True)
    return sb.build()


def _product_sql(dialect: str) -> str:
    """Products in key order, from a key on; the database renders the plain fields as JSON."""
    fields = ("'pk', id, 'title', title, 'description', description, 'price_min', "
              "price_min_cents, 'price_max', price_max_cents, 'rating', rating, "
              "'rating_count', rating_count")
    if dialect == "postgresql":
        base = f"json_build_object({fields}, 'in_stock', in_stock)::text"
    else:
        stock = "json(CASE WHEN in_stock THEN 'true' ELSE 'false' END)"
        base = f"json_object({fields}, 'in_stock', {stock})"
    return (f"SELECT {base}, id, brand, category_id, attributes, rating, rating_count, "
            "price_min_cents, in_stock FROM product WHERE id > :last ORDER BY id LIMIT :n")


def _stream_products(conn: Connection) -> Iterator[Any]:
    """Catalog product rows in key order, by keyset pagination (never the whole table at once)."""
    stmt = text(_product_sql(conn.dialect.name))
    last = -1
    while True:
        rows = conn.execute(stmt, {"last": last, "n": _BATCH}).all()
        if not rows:
            return
        yield from rows
        last = rows[-1][1]


class _Documents:
    """Turns product rows into tantivy JSON documents (the hot loop of a build)."""

    def __init__(self, categories: dict[int, CategoryInfo], numeric: dict[str, str]) -> None:
        self.numeric = numeric
        self.static: dict[int, tuple[str, str, dict[str, str], dict[str, str]]] = {}
        for cid, cat in categories.items():
            specs = {s["name"]: s for s in cat.specs if isinstance(s.get("name"), str)}
            self.static[cid] = (
                json.dumps(list(cat.ancestors)),
                " ".join(categories[a].name for a in cat.ancestors),
                {n: str(s.get("unit") or "") for n, s in specs.items()},
                {n: str(s.get("label") or n).replace("_", " ") for n, s in specs.items()},
            )

    def __call__(self, row: Any) -> str:
        base, pk, brand, cat_id, attrs, rating, count, price, in_stock = row
        if not 0 <= pk <= _PK_MASK:
            raise ValueError(f"product key {pk} is outside what the search index supports "
                             f"(0 to {_PK_MASK})")
        cats, cat_text, units, labels = self.static.get(cat_id, ("[]", "", {}, {}))
        if isinstance(attrs, str):
            try:  # the scanner without json.loads' whitespace regexes: a third of this loop
                attrs = _scan(attrs, 0)[0]
            except (StopIteration, ValueError):
                attrs = json.loads(attrs)
        words, terms, numbers = [brand, cat_text], [], []
        for name, value in (attrs or {}).items():
            for v in value if type(value) is list else (value,):
                t = type(v)
                if t is bool:
                    terms.append(_esc(f"{name}={'true' if v else 'false'}"))
                    if v:
                        words.append(labels.get(name) or name.replace("_", " "))
                elif t is str:
                    terms.append(_esc(attr_term(name, v)))
                    words.append(v)
                elif (t is int or t is float) and name in self.numeric:
                    if math.isfinite(v):  # JSON has no NaN: such a value is just absent
                        numbers.append(f',"{self.numeric[name]}":{float(v)!r}')
                        words.append(f"{v:g} {units.get(name, '')}")
                else:
                    terms.append(_esc(attr_term(name, v)))
        keys = sort_key_fields(pk, price, float(rating), count)
        return (
            f'{base.rstrip()[:-1]},"tags":{_esc(" ".join(words))},'
            f'"brand":{_esc(brand.strip().lower())},"attr":[{",".join(terms)}],"cat":{cats}'
            f'{"".join(numbers)},"k_price_asc":{keys["k_price_asc"]},'
            f'"k_price_desc":{keys["k_price_desc"]},"k_rating":{keys["k_rating"]},'
            f'"k_popularity":{keys["k_popularity"]},'
            f'"stock_price":{price if in_stock else OUT_OF_STOCK + price}}}'
        )


class SearchIndex:
    """A catalog's tantivy index plus what the query layer needs about the catalog.

    Attributes:
        index: the tantivy index.
        categories: every category by id, with ancestors and subtree.
        numeric_fields: numeric attribute name -> fast field name.
        fingerprint: the catalog fingerprint the index was built from.
        pk_ordered: documents are in one segment in product-key order, so tantivy's own
            tie-breaking (by document address) is tie-breaking by product key.
    """

    def __init__(self, index: tantivy.Index, categories: dict[int, CategoryInfo],
                 numeric_fields: dict[str, str], fingerprint: str) -> None:
        self.index = index
        self.schema = index.schema
        self.categories = categories
        self.by_slug = {c.slug: c for c in categories.values()}
        self.numeric_fields = numeric_fields
        self.fingerprint = fingerprint
        self.analyzer = analyzer()
        self.plain_analyzer = analyzer(stem=False)
        self._searcher = index.searcher()
        self.pk_ordered = self._searcher.num_segments <= 1
        self._specs: dict[int | None, dict[str, list[dict[str, Any]]]] = {}
        self.cache: dict[str, Any] = {}  # query-time helpers keep their state here

    @property
    def searcher(self) -> tantivy.Searcher:
        """The cached searcher (the index never changes once built)."""
        return self._searcher

    @property
    def num_docs(self) -> int:
        """Number of indexed products."""
        return self._searcher.num_docs

    def subtree_count(self, category_id: int) -> int:
        """Products in a category and its descendants."""
        return self._searcher.doc_freq("cat", category_id)

    def attribute_specs(self, category_id: int | None) -> dict[str, list[dict[str, Any]]]:
        """Attribute name -> its specs in a category's subtree (or the whole catalog)."""
        if category_id not in self._specs:
            scope = (self.categories[category_id].subtree if category_id is not None
                     else self.categories.keys())
            out: dict[str, list[dict[str, Any]]] = {}
            for cid in sorted(scope):
                for spec in self.categories[cid].specs:
                    if isinstance(spec.get("name"), str):
                        out.setdefault(spec["name"], []).append(spec)
            self._specs[category_id] = out
        return self._specs[category_id]

    @classmethod
    def open_or_build(cls, engine: Engine, directory: Path | None = None, *,
                      progress: Callable[[int, int], None] | None = None) -> SearchIndex:
        """The index of the catalog in ``engine``: opened from ``directory`` or built.

        Args:
            engine: the database holding the catalog tables.
            directory: where indexes live, one subdirectory per catalog fingerprint; built
                once (atomically, under a lock) and reused by later processes. ``None`` builds
                an index in memory.
            progress: called as ``progress(done, total)`` while an index is being built.
        """
        with engine.connect() as conn:
            categories = load_categories(conn)
            fingerprint = conn.execute(
                select(CatalogInfo.__table__.c.fingerprint)).scalar()  # type: ignore[attr-defined]
            probe = catalog_probe(conn) if directory is not None else ""
        numeric = numeric_attribute_fields(categories)
        if directory is None:
            index = tantivy.Index(_schema(numeric))
            cls._fill(index, engine, categories, numeric, progress)
            return cls(index, categories, numeric, fingerprint or "memory")
        if not fingerprint:
            raise NotFound("the database holds no catalog (no catalog_info row): build one first")
        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        final = directory / fingerprint
        with file_lock(directory / f".{fingerprint}.lock"):
            if not _valid(final, probe):
                cls._build_dir(engine, directory, final, categories, numeric,
                               {"fingerprint": fingerprint, "probe": probe}, progress)
        meta = json.loads((final / _META).read_text())
        index = tantivy.Index.open(str(final))
        index.config_reader(reload_policy="manual")
        return cls(index, categories, meta["numeric_fields"], fingerprint)

    @classmethod
    def _build_dir(cls, engine: Engine, directory: Path, final: Path,
                   categories: dict[int, CategoryInfo], numeric: dict[str, str],
                   ident: dict[str, str],
                   progress: Callable[[int, int], None] | None = None) -> None:
        fingerprint = ident["fingerprint"]
        tmp = Path(tempfile.mkdtemp(prefix=f".build-{fingerprint}-", dir=directory))
        try:
            index = tantivy.Index(_schema(numeric), path=str(tmp), reuse=False)
            stats = cls._fill(index, engine, categories, numeric, progress)
            meta = {"version": INDEX_VERSION, **ident, "numeric_fields": numeric, **stats}
            (tmp / _META).write_text(json.dumps(meta, indent=1))
            if final.exists():  # stale (other version): move it aside, openers keep their files
                shutil.rmtree(final.rename(directory / f".old-{fingerprint}-{time.time_ns()}"))
            os.rename(tmp, final)
        finally:
            shutil.rmtree(tmp, ignore_errors=True)

    @staticmethod
    def _fill(index: tantivy.Index, engine: Engine, categories: dict[int, CategoryInfo],
              numeric: dict[str, str],
              progress: Callable[[int, int], None] | None = None) -> dict[str, Any]:
        """Write every product into ``index``: this thread reads rows and renders documents,
        a second one hands them to tantivy (which parses them without the GIL)."""
        start = time.perf_counter()
        writer = index.writer(heap_size=_HEAP, num_threads=1)
        document = _Documents(categories, numeric)
        batches: queue.Queue[list[str] | None] = queue.Queue(maxsize=8)
        failure: list[BaseException] = []

        def feed() -> None:
            try:
                while (batch := batches.get()) is not None:
                    for doc in batch:
                        writer.add_json(doc)
            except BaseException as exc:  # re-raised by the building thread
                failure.append(exc)
                while batches.get() is not None:  # drain so the producer never blocks
                    pass

        feeder = threading.Thread(target=feed, name="search-index-feed", daemon=True)
        feeder.start()
        n = 0
        gc_was_enabled = gc.isenabled()
        gc.disable()  # millions of short-lived objects, no cycles: collections only cost time
        try:
            with engine.connect() as conn:
                total = conn.execute(select(func.count()).select_from(
                    Product.__table__)).scalar_one() if progress else 0  # type: ignore[attr-defined]
                batch: list[str] = []
                for row in _stream_products(conn):
                    batch.append(document(row))
                    if len(batch) >= 1000:
                        batches.put(batch)
                        n, batch = n + len(batch), []
                        if progress is not None and n % 20_000 == 0:
                            progress(n, total)
                batches.put(batch)
                n += len(batch)
        finally:
            batches.put(None)
            feeder.join()
            if gc_was_enabled:
                gc.enable()
        if failure:
            raise failure[0]
        writer.commit()
        writer.wait_merging_threads()
        if progress is not None:
            progress(n, n)
        index.reload()
        seconds = time.perf_counter() - start
        log.info("search index: %d products in %.1f s", n, seconds)
        return {"product_count": n, "build_seconds": round(seconds, 2)}


def _valid(path: Path, probe: str) -> bool:
    try:
        meta = json.loads((path / _META).read_text())
    except (OSError, ValueError):
        return False
    if meta.get("version") != INDEX_VERSION:
        return False
    if meta.get("probe") != probe:
        log.warning("search index %s does not match the catalog's content: rebuilding", path)
        return False
    return True


def catalog_probe(conn: Connection) -> str:
    """A digest of 64 products spread over the catalog: an index whose catalog changed under
    the same fingerprint (a generator edited without a version bump) is not reused."""
    p = Product.__table__  # type: ignore[attr-defined]
    top = conn.execute(select(func.max(p.c.id))).scalar() or 0
    ids = sorted({1 + (top - 1) * i // 63 for i in range(64)}) if top else []
    rows = conn.execute(select(p.c.id, p.c.title, p.c.price_min_cents, p.c.price_max_cents,
                               p.c.in_stock, p.c.rating_count, p.c.category_id)
                        .where(p.c.id.in_(ids)).order_by(p.c.id)).all()
    text_ = json.dumps([[r[0], r[1], r[2], r[3], bool(r[4]), r[5], r[6]] for r in rows])
    return hashlib.sha256(text_.encode()).hexdigest()
