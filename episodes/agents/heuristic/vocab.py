"""The shop's vocabulary for the heuristic: categories, attribute and option phrases, brands
and themes, built once from the catalog; and undoing the shopper's typos against it.
"""

from __future__ import annotations

import re
from contextvars import ContextVar
from dataclasses import dataclass, field
from functools import cache
from typing import Any

from mcp_shop.catalog.specs import words

_STOP = frozenset(words(
    "a an and the of to in on for with from my me i i'd i'm it its is are was be this that "
    "please can could you your would like want need some something any anything find looking "
    "buy order get hi hello hey there thanks thank quick one first time shopping here"))
_KEYWORDS = words(
    "actually rather prefer instead make that under below budget spend total each ideally stay "
    "keep more than want cheaper similar like looking need gift loves year old rated least "
    "stars star from with without order orders return returns returning refund exchange swap "
    "cancel cancelled status where tracking track package delivery deliver delivered shipping "
    "express standard next paypal card credit code coupon discount please cart basket add buy "
    "purchase checkout place thanks great thing wrong size colour color damaged arrived "
    "defective broken working stopped described description listing changed mind mistake "
    "accident better price found somewhere elsewhere slow long longer time needed fits small "
    "large tight loose policy window days restocking fee warranty months final sale clearance "
    "allowed much cost free items item units quantity them pair also only show ones everything "
    "available stock brand lacks wanted over avoid category product anything else still waiting "
    "help details bought ordered placed ago yesterday week weeks month about hours minutes "
    "arrive turns after already anymore doesn't isn't won't apart coming sole stitching faulty "
    "match site send back both just different swap would like pay gift card take have what "
    "when which while how does long processing pending shipped carrier kit together putting "
    "theme into these days toy toys inches watts grams gallon pack putting set starter refresh "
    "wardrobe setup puppy camping gardening bedding kitchen audio home gym")


@dataclass(frozen=True)
class _Phrase:
    """A wording the shopper may use, and what it means."""

    rx: re.Pattern[str]
    key: str
    value: Any
    at_least: bool = False


def _rx(phrase: str, *, plural: bool = False) -> re.Pattern[str]:
    body = r"\s+".join(re.escape(w) for w in phrase.lower().split())
    tail = r"(?:e?s)?" if plural else ""
    return re.compile(rf"(?<![\w-]){body}{tail}(?![\w-]|\.\d)")


@dataclass
class _Vocab:
    """The shop's words: categories, attribute and option phrases, brands, themes."""

    words: set[str] = field(default_factory=set)
    fixes: dict[str, str] = field(default_factory=dict)
    categories: list[tuple[re.Pattern[str], str, int]] = field(default_factory=list)
    attrs: dict[str, list[_Phrase]] = field(default_factory=dict)
    attr_names: dict[str, set[str]] = field(default_factory=dict)
    options: dict[str, list[_Phrase]] = field(default_factory=dict)
    all_options: list[_Phrase] = field(default_factory=list)
    option_values: dict[str, str] = field(default_factory=dict)
    brands: dict[str, str] = field(default_factory=dict)
    themes: tuple[str, ...] = ()


def _words_of(text: str) -> list[str]:
    return re.findall(r"[a-z']+", text.lower())


_CURRENT: ContextVar[_Vocab | None] = ContextVar("heuristic_catalog_vocab", default=None)
"""The vocabulary of the catalog this episode plays on, once read over MCP (None: the
generated catalog's, built in)."""


def _vocab() -> _Vocab:
    """The words of the catalog being played: read from its category tree over MCP when it
    is not the generated catalog (``_use_tree``), else the built-in one."""
    return _CURRENT.get() or _builtin()


@cache
def _builtin_paths() -> frozenset[str]:
    """Category paths of the generated catalog ('Clothing > Accessories > Socks')."""
    from episodes.families.vocabulary import generated_leaves

    return frozenset(leaf.path for leaf in generated_leaves())


def _builtin_only() -> bool:
    """Whether the episode still plays with the generated catalog's words."""
    return _CURRENT.get() is None


def _foreign(hits: list[dict[str, Any]]) -> bool:
    """Whether search hits show another catalog than the generated one (whose words are
    not read yet)."""
    return _builtin_only() and any(str(h.get("category", "")) not in _builtin_paths()
                                   for h in hits)


def _known_slug(slug: str) -> bool:
    """Whether a category slug is one of the catalog in play (always, with the built-in
    words: their slugs are the generated catalog's)."""
    v = _CURRENT.get()
    return v is None or any(s == slug or s.startswith(slug + "/") for _, s, _ in v.categories)


def _query_words(text: str) -> str:
    """A search query from a message: its words that are not stop words."""
    return " ".join(w for w in _words_of(text) if w not in _STOP)[:200]


def _learn_brands(hits: list[dict[str, Any]]) -> None:
    """Brands of search hits become shop words (another catalog's only: the generated
    catalog's are built in); a brand is known by its first word ('Tallow & Wick': tallow)."""
    v = _CURRENT.get()
    if v is None:
        return
    for h in hits:
        brand = str(h.get("brand") or "")
        first = re.findall(r"[A-Za-z]+", brand)
        if first and first[0].lower() not in v.brands:
            v.brands[first[0].lower()] = brand
            v.words.add(first[0].lower())


def _use_tree(tree: dict[str, Any] | None) -> None:
    """Play on with the catalog whose category tree (``list_categories``) is ``tree``: its
    leaves' names and nouns ('Shirts & Tops': 'shirts', 'tops') name categories."""
    from episodes.families.vocabulary import leaf_nouns

    v = _Vocab()
    v.words.update(_KEYWORDS)
    v.words.update(_STOP)
    stack = list((tree or {}).get("categories") or [])
    while stack:
        node = stack.pop()
        stack.extend(node.get("children") or [])
        if not node.get("is_leaf") or not isinstance(node.get("slug"), str):
            continue
        name = str(node.get("name") or "")
        plural, _, nouns = leaf_nouns(name)
        for noun in dict.fromkeys([plural.replace("&", " "), *(n.lower() for n in nouns)]):
            v.categories.append((_rx(noun, plural=True), node["slug"], len(noun)))
            v.words.update(_words_of(noun))
    _add_fixes(v)
    _CURRENT.set(v)


@cache
def _builtin() -> _Vocab:
    """Built once from the catalog's taxonomy and the shop's wording templates."""
    from episodes.families.phrases import attr_phrase, option_phrase
    from episodes.families.vocabulary import generated_leaves
    from mcp_shop.catalog.taxonomy import THEMES, leaves

    worded = {leaf.slug: leaf for leaf in generated_leaves()}

    v = _Vocab(themes=tuple(THEMES))
    v.words.update(_KEYWORDS)
    v.words.update(_STOP)
    for info in leaves():
        slug = f"{info.department.slug}/{info.group.slug}/{info.leaf.slug}"
        names = [info.leaf.name] + [n if isinstance(n, str) else n[0] for n in info.leaf.nouns]
        for name in dict.fromkeys(n.lower().replace("&", " ") for n in names):
            v.categories.append((_rx(name, plural=True), slug, len(name)))
            v.words.update(_words_of(name))
        for brand in info.brands:
            v.brands[brand.lower()] = brand
        phrases: list[_Phrase] = []
        for spec in info.leaf.attrs:
            if spec.type == "text" or spec.pair or spec.name in ("theme",):
                continue
            values: list[Any] = [True] if spec.type == "bool" else list(spec.choices)
            for value in values:
                text = attr_phrase(worded[slug].attr(spec.name), spec.name, value)
                phrases.append(_Phrase(_rx(text), spec.name, value))
                v.words.update(_words_of(text))
                if spec.type in ("int", "float"):
                    low = attr_phrase(worded[slug].attr(spec.name), spec.name, value,
                                      at_least=True)
                    phrases.append(_Phrase(_rx(low), spec.name, float(value), True))
                    v.words.update(_words_of(low))
        v.attrs[slug] = phrases
        v.attr_names[slug] = {s.name for s in info.leaf.attrs} | {
            s.pair for s in info.leaf.attrs if s.pair}
        opts: list[_Phrase] = []
        for spec_o in info.leaf.options:
            for value in spec_o.values:
                text = option_phrase(spec_o.name, value)
                opts.append(_Phrase(_rx(text), spec_o.name, value))
                v.option_values.setdefault(value.lower(), spec_o.name)
                v.words.update(_words_of(text))
        v.options[slug] = opts
        v.all_options.extend(opts)
    for extra, slug in (("toy", "toys"), ("toys", "toys"), ("gift", "")):
        if slug:
            v.categories.append((_rx(extra), slug, len(extra)))
    v.words.update(b.lower() for b in v.brands)
    v.words.update(t for t in v.themes)
    v.words.update(words("january february march april may june july august september "
                         "october november december"))
    _add_fixes(v)
    return v


def _add_fixes(v: _Vocab) -> None:
    """Map each one-typo form (a letter dropped, swapped or doubled) of a shop word to it."""
    first = ("size", "colour", "color", "under", "budget", "order", "return", "exchange",
             "cancel", "actually", "rather", "instead", "each", "total", "least", "rated")
    for word in [*first, *sorted(v.words)]:
        if len(word) < 4 or not word.isalpha():
            continue
        for i in range(1, len(word) - 1):
            v.fixes.setdefault(word[:i] + word[i + 1:], word)
            swapped = word[:i] + word[i + 1] + word[i] + word[i + 2:]
            if swapped != word:
                v.fixes.setdefault(swapped, word)
            v.fixes.setdefault(word[:i] + word[i] + word[i:], word)  # a doubled letter


def _clean(text: str) -> str:
    """Undo the shopper's typos where a word is one swap or drop away from a shop word."""
    v = _vocab()

    def fix(m: re.Match[str]) -> str:
        word = m.group(0)
        low = word.lower()
        if low in v.words or word.isupper() or len(word) < 3:
            return word
        good = v.fixes.get(low)
        if good is None:
            return word
        return good.capitalize() if word[0].isupper() else good

    return re.sub(r"(?<![\w'-])[A-Za-z]+(?![\w'-])", fix, text)
