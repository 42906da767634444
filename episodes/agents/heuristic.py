"""The heuristic agent: a rule-based shop assistant with no privileged information.

It sees what any agent sees (the shopper's messages, the tool list and tool results) and never
the task. Each turn it:

- cleans the shopper's words (undoes letter swaps and drops against the shop's vocabulary),
- classifies the current request (discovery, "like X but cheaper", buying named items, cart
  changes, a purchase with code, payment and shipping, a gift or kit under a budget, return,
  exchange, cancellation, order status, policy question) and restarts on "One more thing:",
- parses the slots said so far (budget, colour, size and other options, brand, features,
  rating, quantities, product titles, codes, payment, shipping, order ids, reasons), with a
  later statement overriding an earlier one,
- asks one clarifying question when details may be missing, searches and inspects products,
  presents at most three, learns from rejections, and asks before any consequential action.

It is meant to be a reasonable baseline, not an oracle: typos it cannot undo, hidden
constraints it does not ask about, flash sales and near-miss distractors all make it fail now
and then. It uses no randomness at all, so it is deterministic whatever the seed.
"""

from __future__ import annotations

import re
from collections.abc import Generator, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from functools import cache
from typing import Any

from episodes.controller import Action, Observation, Policy, ToolRequest
from mcp_shop.catalog.specs import words
from verifiers.types import TaskSpec

__all__ = ["HeuristicAgent"]

Step = Generator[Action, Observation, Any]

_MONEY = re.compile(r"\$(\d+(?:\.\d{1,2})?)")
_ORDER_ID = re.compile(r"\bO-\d{1,9}\b", re.I)
_PRODUCT_ID = re.compile(r"\bP-\d{1,9}\b", re.I)
_MORE = re.compile(r"\bone more thing:\s*", re.I)
_ACCEPTED = re.compile(r"\byes, the (.+?) looks right", re.I)
_REJECTED = re.compile(r"\bnot quite: (.+?)\.(?:\s|$)", re.I)
_NUMBER_WORDS = {"one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7,
                 "eight": 8, "nine": 9, "ten": 10, "both": 2, "a": 1, "an": 1}
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
_RETURN_REASONS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("arrived_damaged", ("arrived damaged", "broken when", "damaged")),
    ("not_as_described", ("listing described", "match the description", "not as described",
                          "described", "description")),
    ("wrong_size", ("wrong size", "doesn't fit", "don't fit", "too small", "too big",
                    "fit")),
    ("defective", ("stopped working", "won't turn on", "coming apart", "defective", "faulty",
                   "broken", "doesn't work")),
    ("changed_mind", ("changed my mind", "don't need", "no longer need")),
)
_CANCEL_REASONS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("ordered_by_mistake", ("mistake", "by accident")),
    ("found_better_price", ("cheaper", "better price")),
    ("shipping_too_slow", ("too long", "in time", "too slow")),
    ("no_longer_needed", ("don't need", "no longer need", "after all")),
)
_STATUS_TEXT = {
    "pending": "is still pending: it was just placed and hasn't been processed yet",
    "processing": "is processing: the warehouse is preparing it and it hasn't shipped yet",
    "shipped": "has shipped and is on its way",
    "delivered": "was delivered",
    "cancelled": "was cancelled",
}


# -- vocabulary -------------------------------------------------------------------------------


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


@cache
def _vocab() -> _Vocab:
    """Built once from the catalog's taxonomy and the shop's wording templates."""
    from episodes.families.phrases import attr_phrase, option_phrase
    from mcp_shop.catalog.taxonomy import THEMES, leaves

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
                text = attr_phrase(slug, spec.name, value)
                phrases.append(_Phrase(_rx(text), spec.name, value))
                v.words.update(_words_of(text))
                if spec.type in ("int", "float"):
                    low = attr_phrase(slug, spec.name, value, at_least=True)
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
    return v


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


# -- parsing ----------------------------------------------------------------------------------


def _cents(text: str) -> int:
    return round(float(text) * 100)


def _money(cents: int) -> str:
    dollars, rest = divmod(int(cents), 100)
    return f"${dollars}" if rest == 0 else f"${dollars}.{rest:02d}"


def _category(text: str) -> str | None:
    """The category a text names: the earliest, then longest, category noun."""
    best: tuple[int, int, str] | None = None
    for rx, slug, size in _vocab().categories:
        m = rx.search(text.lower())
        if m and (best is None or (m.start(), -size) < (best[0], -best[1])):
            best = (m.start(), size, slug)
    return best[2] if best else None


def _budget(text: str) -> int | None:
    """A spending limit stated in the text (the last one wins)."""
    found: int | None = None
    low = text.lower()
    for m in _MONEY.finditer(low):
        before = low[max(0, m.start() - 40):m.start()]
        after = low[m.end():m.end() + 40]
        cents = _cents(m.group(1))
        if re.match(r"\s*is more than i want", after):
            found = cents - 1
        elif re.search(r"(under|below|less than|up to|within|budget|spend|max|at most|"
                       r"no more than|stay|keep it|cheaper than)\W*(of\W*)?(about\W*)?$",
                       before) or re.match(r"\s*(total|each|budget|or less|max)", after):
            found = cents
    return found


def _quantity_before(text: str) -> int | None:
    m = re.search(r"(\d+|" + "|".join(_NUMBER_WORDS) + r")\s+(?:x\s+)?(?:of\s+)?(?:the\s+)?$",
                  text.lower())
    if not m:
        return None
    word = m.group(1)
    return int(word) if word.isdigit() else _NUMBER_WORDS.get(word)


def _reason(text: str, table: Sequence[tuple[str, tuple[str, ...]]]) -> str | None:
    low = text.lower()
    best: tuple[int, str] | None = None
    for code, cues in table:
        for cue in cues:
            at = low.rfind(cue)
            if at >= 0 and (best is None or at > best[0]):
                best = (at, code)
    return best[1] if best else None


@dataclass
class _Crit:
    """What the shopper wants of a product, as understood so far."""

    category: str | None = None
    brand: str | None = None
    budget: int | None = None
    min_rating: float | None = None
    attrs: dict[str, Any] = field(default_factory=dict)
    at_least: dict[str, float] = field(default_factory=dict)
    options: dict[str, str] = field(default_factory=dict)
    age: int | None = None
    exclude: set[str] = field(default_factory=set)


def _read_product_text(crit: _Crit, text: str) -> None:
    """Update ``crit`` from one message (later statements override earlier ones)."""
    v = _vocab()
    low = text.lower()
    if crit.category is None:
        crit.category = _category(low)
    budget = _budget(low)
    if budget is not None:
        crit.budget = budget
    for m in re.finditer(r"(?:\bfrom|\bby|\bprefer)\s+([a-z]+)", low):
        brand = v.brands.get(m.group(1))
        if brand:
            crit.brand = brand
    rating = re.search(r"rated at least (\d(?:\.\d)?)", low)
    if rating:
        crit.min_rating = float(rating.group(1))
    age = re.search(r"(\d+)-year-old", low)
    if age:
        crit.age = int(age.group(1))
    themes = [(t.start(), t.group(2)) for t in re.finditer(
        r"\b(loves?|into|likes?|fan of|about)\s+(\w+)", low) if t.group(2) in v.themes]
    if themes:
        crit.attrs["theme"] = max(themes)[1]
    slugs = [crit.category] if crit.category and crit.category in v.attrs else [
        s for s in v.attrs if crit.category and s.startswith(crit.category)]
    hits: list[tuple[int, _Phrase]] = []
    for slug in slugs:
        hits += [(m2.start(), p) for p in v.attrs[slug] for m2 in p.rx.finditer(low)]
    for _, p in sorted(hits, key=lambda h: h[0]):
        if p.at_least:
            crit.at_least[p.key] = float(p.value)
        else:
            crit.attrs[p.key] = p.value
    opts = v.options.get(crit.category or "", v.all_options if not crit.category else [])
    if crit.category and crit.category not in v.options:
        opts = [p for s, ps in v.options.items() if s.startswith(crit.category) for p in ps]
    found: list[tuple[int, int, _Phrase]] = []
    for p in opts:
        for m3 in p.rx.finditer(low):
            found.append((m3.start(), m3.end() - m3.start(), p))
    for _, _, p in sorted(found, key=lambda f: (f[0], f[1])):
        crit.options[p.key] = p.value


def _learn_rejection(crit: _Crit, reason: str) -> None:
    """Tighten ``crit`` from the shopper's reason for turning a product down."""
    v = _vocab()
    low = reason.lower().strip()
    if m := re.search(r"over the \$([\d,]+(?:\.\d+)?) budget", low):
        crit.budget = _cents(m.group(1).replace(",", ""))
    elif m := re.search(r"^brand is \w+, not (\w+)", low):
        crit.brand = v.brands.get(m.group(1), m.group(1).capitalize())
    elif m := re.search(r"^(colour|color|size|width|\w+) is (.+?), not (.+)$", low):
        name = "color" if m.group(1) in ("colour", "color") else m.group(1)
        if name in v.option_values.values():
            crit.options[name] = m.group(3)
        else:
            crit.attrs[m.group(1)] = _value(m.group(3))
    elif m := re.search(r"not available in (.+)$|^(.+?) is out of stock$", low):
        value = (m.group(1) or m.group(2) or "").strip()
        for part in value.split(", "):
            name = v.option_values.get(part)
            if name:
                crit.options[name] = part
    elif m := re.search(r"^rated [\d.]+, below ([\d.]+)", low):
        crit.min_rating = float(m.group(1))
    elif m := re.search(r"^lacks (\w+)", low):
        crit.attrs[m.group(1)] = True
    elif m := re.search(r"^has (\w+)$", low):
        crit.attrs[m.group(1)] = False
    elif m := re.search(r"^(\w+) is (\S+), wanted (.+)$", low):
        crit.attrs[m.group(1)] = _value(m.group(3))
    elif m := re.search(r"^(\w+) is ([\d.]+), below ([\d.]+)", low):
        crit.at_least[m.group(1)] = float(m.group(3))
    elif m := re.search(r"not in the (.+) category", low):
        crit.category = _category(m.group(1)) or crit.category


def _value(text: str) -> Any:
    text = text.strip()
    if text in ("true", "false"):
        return text == "true"
    try:
        number = float(text)
    except ValueError:
        return text
    return int(number) if number.is_integer() else number


def _date(iso: Any) -> str:
    try:
        when = datetime.fromisoformat(str(iso))
    except ValueError:
        return str(iso)
    return f"{when:%B} {when.day} ({when:%Y-%m-%d})"


# -- product judging --------------------------------------------------------------------------


def _in_stock(view: dict[str, Any]) -> list[dict[str, Any]]:
    return [x for x in view.get("variants", []) if x.get("stock", 0) > 0]


def _has_options(variant: dict[str, Any], options: dict[str, str]) -> bool:
    have = {k: str(x).lower() for k, x in variant.get("options", {}).items()}
    return all(have.get(k) == str(x).lower() for k, x in options.items() if k in have)


def _misses(view: dict[str, Any], crit: _Crit, *, each: bool = False) -> int:
    """How many of the criteria a product fails (0: it fits). ``each``: judge the price of the
    variant that would be bought, not the lowest shown price."""
    bad = 0
    if view.get("product_id") in crit.exclude:
        return 99
    if crit.category and not str(view.get("category_slug", "")).startswith(crit.category):
        bad += 3
    if crit.brand and str(view.get("brand", "")).lower() != crit.brand.lower():
        bad += 1
    if crit.min_rating is not None and float(view.get("rating", 0)) < crit.min_rating:
        bad += 1
    attrs = view.get("attributes", {})
    for k, want in crit.attrs.items():
        if attrs.get(k) != want:
            bad += 1
    for k, low in crit.at_least.items():
        have = attrs.get(k)
        if isinstance(have, bool) or not isinstance(have, int | float) or have < low:
            bad += 1
    if crit.age is not None:
        top, bottom = attrs.get("max_age"), attrs.get("min_age")
        if isinstance(top, int) and top < crit.age:
            bad += 1
        if isinstance(bottom, int) and bottom > crit.age:
            bad += 1
    stocked = _in_stock(view)
    if not stocked:
        return bad + 5
    if not any(_has_options(x, crit.options) for x in stocked):
        bad += 1
    if crit.budget is not None:
        fitting = [x for x in stocked if _has_options(x, crit.options)] or stocked
        price = min(x["price_cents"] for x in (fitting if each else stocked))
        if price > crit.budget:
            bad += 1
    return bad


def _variant_for(view: dict[str, Any], options: dict[str, str], *, quantity: int = 1,
                 budget: int | None = None) -> dict[str, Any] | None:
    """The cheapest in-stock variant with the options (and enough stock), if any."""
    pool = [x for x in view.get("variants", []) if x.get("stock", 0) >= quantity
            and _has_options(x, options)]
    if budget is not None:
        pool = [x for x in pool if x["price_cents"] <= budget] or pool
    return min(pool, key=lambda x: (x["price_cents"], x["variant_id"])) if pool else None


def _title_score(title: str, text: str) -> float:
    """How well a product title matches a mention in ``text`` (share of its words found)."""
    words = [w for w in re.findall(r"[a-z0-9]+", title.lower()) if w not in _STOP]
    have = set(re.findall(r"[a-z0-9]+", text.lower()))
    return sum(w in have for w in words) / max(1, len(words))


# -- the policy -------------------------------------------------------------------------------


class _NewRequest(Exception):
    """The shopper moved on to another request."""

    def __init__(self, text: str) -> None:
        super().__init__(text)
        self.text = text


@dataclass
class _Item:
    """A product the shopper names, with the wanted options and quantity."""

    mention: str
    quantity: int = 1
    options: dict[str, str] = field(default_factory=dict)
    view: dict[str, Any] | None = None
    variant: dict[str, Any] | None = None


class _HeuristicPolicy:
    """One episode: a generator of actions driven by the observations sent back in."""

    def __init__(self, obs: Observation, seed: int) -> None:
        self.segment: list[str] = [_clean(obs.shopper_message or "")]
        self.asked: set[str] = set()
        self.views: dict[str, dict[str, Any]] = {}
        self.tools = {t.get("function", {}).get("name") for t in obs.tools}
        self.last_error = ""
        self._gen = self._main()
        self._started = False

    async def act(self, obs: Observation) -> Action:
        try:
            if not self._started:
                self._started = True
                return next(self._gen)
            return self._gen.send(obs)
        except StopIteration:
            return Action(done=True)

    # -- plumbing ---------------------------------------------------------------------------

    def _calls(self, *reqs: tuple[str, dict[str, Any]]) -> Step:
        """Make tool calls; returns each one's content (None when it failed)."""
        obs = yield Action(tool_calls=[ToolRequest(name=n, arguments=a) for n, a in reqs])
        out: list[Any] = []
        for k in range(len(reqs)):
            res = obs.tool_results[k] if k < len(obs.tool_results) else None
            if res is None or not res.ok:
                self.last_error = str(res.content) if res is not None else "no result"
                out.append(None)
            else:
                out.append(res.content)
                if res.name == "get_product" and isinstance(res.content, dict):
                    self.views[res.content["product_id"]] = res.content
        return out

    def _call(self, name: str, **args: Any) -> Step:
        out = yield from self._calls((name, args))
        return out[0]

    def _say(self, text: str, *reqs: tuple[str, dict[str, Any]]) -> Step:
        """Send a message (after optional tool calls); returns the shopper's cleaned reply."""
        obs = yield Action(tool_calls=[ToolRequest(name=n, arguments=a) for n, a in reqs],
                           message=text)
        reply = _clean(obs.shopper_message or "")
        m = _MORE.search(reply)
        if m:
            raise _NewRequest(reply[m.end():])
        self.segment.append(reply)
        return reply

    @property
    def said(self) -> str:
        return " ".join(self.segment)

    def _main(self) -> Step:
        while True:
            try:
                yield from self._serve(self.segment[0])
                for _ in range(2):
                    yield from self._say("Is there anything else I can help you with?")
                return
            except _NewRequest as new:
                self.segment = [new.text]
                self.asked = set()

    # -- routing ----------------------------------------------------------------------------

    def _serve(self, request: str) -> Step:
        low = request.lower()
        has_order = bool(_ORDER_ID.search(request))
        if "?" in low and not has_order and "my order" not in low and (
                _policy_topic(low) != "other" or "policy" in low) and not re.search(
                r"i'd like to|please (add|cancel)|i bought", low):
            yield from self._policy()
        elif re.search(r"please cancel|\bcancel (?:my |the |this |an )?order", low):
            yield from self._cancel()
        elif re.search(r"\bexchange|\bswap\b", low):
            yield from self._exchange()
        elif re.search(r"\breturn\b|\brefund|send (it|them) back", low) and (
                has_order or re.search(r"i bought|i'd like to return|i want to return", low)):
            yield from self._return()
        elif re.search(r"where is my order|status of|check on my order|\btracking\b|"
                       r"where('s| is) my", low) or (has_order and "?" in low):
            yield from self._status()
        elif re.search(r"cheaper|more than i want to pay|less expensive", low):
            yield from self._discover(compare=True)
        elif re.search(r"add .* to my cart|take the .* out|in my cart|i'd like to order|"
                       r"i'd like to buy|check ?out|\bpurchase\b", low):
            yield from self._named_items()
        elif re.search(r"\bgift\b(?! card)|putting together", low) or (
                re.search(r"\btotal\b", low) and not _PRODUCT_ID.search(low)):
            yield from self._bundle()
        elif re.search(r"\bpolicy|how long|how much does|do you|can i|is there|what is your|"
                       r"what's your|are .* allowed|warranty", low):
            yield from self._policy()
        else:
            yield from self._discover(compare=False)

    # -- discovery and price comparison -----------------------------------------------------

    def _criteria(self, base: _Crit | None = None) -> _Crit:
        crit = _Crit()
        if base is not None:
            crit.category, crit.exclude = base.category, set(base.exclude)
            crit.budget = base.budget
        for text in self.segment:
            _read_product_text(crit, text)
        return crit

    def _ask_once(self, key: str, question: str) -> Step:
        if key in self.asked:
            return None
        self.asked.add(key)
        reply = yield from self._say(question)
        return reply

    def _search(self, crit: _Crit, *, text: str = "", limit: int = 5,
                each: bool = False) -> Step:
        """Candidates for ``crit``, best first: (misses, view) pairs."""
        v = _vocab()
        args: dict[str, Any] = {"in_stock_only": True, "page_size": 20}
        if crit.category:
            args["category"] = crit.category
        else:
            args["query"] = " ".join(w for w in _words_of(text) if w not in _STOP)[:200]
        if crit.brand:
            args["brand"] = crit.brand
        if crit.budget is not None:
            args["max_price_cents"] = crit.budget
        if crit.min_rating is not None:
            args["min_rating"] = crit.min_rating
        names = v.attr_names.get(crit.category or "")
        if names:
            attrs = {k: x for k, x in crit.attrs.items() if k in names}
            if attrs:
                args["attributes"] = attrs
            least = {k: x for k, x in crit.at_least.items() if k in names}
            if least:
                args["attributes_at_least"] = least
        elif "theme" in crit.attrs:
            args["attributes"] = {"theme": crit.attrs["theme"]}
        hits: list[dict[str, Any]] = []
        for relax in ("", "attributes_at_least", "attributes", "min_rating", "brand",
                      "max_price_cents"):
            args.pop(relax, None)
            page = yield from self._call("search_products", **args)
            hits = [h for h in (page or {}).get("hits", [])
                    if h["product_id"] not in crit.exclude]
            if hits:
                break
        ids = [h["product_id"] for h in hits]
        fresh = [p for p in ids[:limit] if p not in self.views]
        if fresh:
            yield from self._calls(*[("get_product", {"product_id": p}) for p in fresh])
        ranked = [(_misses(self.views[p], crit, each=each), k, p)
                  for k, p in enumerate(ids[:limit]) if p in self.views]
        ranked.sort()
        return [(m, self.views[p]) for m, _, p in ranked]

    def _present(self, views: list[dict[str, Any]], note: str) -> Step:
        """Show products; returns (accepted view or None, the reply)."""
        ids = [x["product_id"] for x in views]
        listing = "; ".join(f"{x['title']} ({x['product_id']}) at {_money(x['price_cents'])}"
                            for x in views)
        reply = yield from self._say(
            f"{note} {listing}.",
            ("present_products", {"product_ids": ids, "message": note}))
        m = _ACCEPTED.search(reply)
        if m:
            best = max(views, key=lambda x: _title_score(x["title"], m.group(1)))
            return best, reply
        return None, reply

    def _choose(self, crit: _Crit, *, compare_ref: dict[str, Any] | None = None,
                each: bool = False, rounds: int = 4) -> Step:
        """Search, present, learn from rejections; returns the accepted product or None."""
        learned = _Crit()
        learned_keys: set[str] = set()
        for _ in range(rounds):
            now = self._criteria(crit)
            for key in learned_keys:
                if key in ("budget", "brand", "min_rating", "category"):
                    setattr(now, key, getattr(learned, key))
            now.attrs.update(learned.attrs)
            now.at_least.update(learned.at_least)
            now.options.update(learned.options)
            now.exclude |= learned.exclude
            if crit.budget is not None and now.budget is not None:
                now.budget = min(now.budget, crit.budget) if compare_ref else now.budget
            ranked: list[tuple[int, dict[str, Any]]] = []
            if compare_ref is not None:
                sim = yield from self._call(
                    "find_similar", product_id=compare_ref["product_id"], cheaper=True,
                    limit=10, **({"max_price_cents": now.budget} if now.budget else {}))
                ids = [h["product_id"] for h in (sim or {}).get("hits", [])
                       if h["product_id"] not in now.exclude][:5]
                fresh = [p for p in ids if p not in self.views]
                if fresh:
                    yield from self._calls(*[("get_product", {"product_id": p})
                                             for p in fresh])
                ranked = [(_misses(self.views[p], now), self.views[p]) for p in ids
                          if p in self.views]
            found = yield from self._search(now, text=self.segment[0], each=each)
            seen = {x["product_id"] for _, x in ranked}
            ranked += [(m, x) for m, x in found if x["product_id"] not in seen]
            ranked.sort(key=lambda r: r[0])
            if not ranked:
                yield from self._say("I couldn't find anything matching yet. Is there "
                                     "anything you could relax, like the budget or brand?")
                continue
            good = [x for m, x in ranked if m == 0][:3] or [x for _, x in ranked[:2]]
            accepted, reply = yield from self._present(good, "Here are the best matches I "
                                                       "found:")
            if accepted is not None:
                return accepted
            for x in good:
                learned.exclude.add(x["product_id"])
            rej = _REJECTED.search(reply)
            if rej:
                before = _Crit(budget=learned.budget, brand=learned.brand,
                               min_rating=learned.min_rating, category=learned.category)
                probe = self._criteria(crit)
                learned.budget = learned.budget or probe.budget
                learned.brand = learned.brand or probe.brand
                learned.min_rating = learned.min_rating or probe.min_rating
                learned.category = learned.category or probe.category
                _learn_rejection(learned, rej.group(1))
                for key in ("budget", "brand", "min_rating", "category"):
                    if getattr(learned, key) != getattr(before, key):
                        learned_keys.add(key)
        return None

    def _discover(self, *, compare: bool) -> Step:
        base = _Crit()
        ref: dict[str, Any] | None = None
        if compare:
            pid = _PRODUCT_ID.search(self.segment[0])
            if pid:
                ref = yield from self._call("get_product", product_id=pid.group(0).upper())
            if ref is None:
                ref = yield from self._find_named(self.segment[0])
            if ref is not None:
                base.category = ref["category_slug"]
                base.exclude.add(ref["product_id"])
                base.budget = ref["price_cents"] - 1
        yield from self._ask_once("details", (
            "Happy to help! To narrow it down: what's your budget, do you have a preferred "
            "brand, colour or size, and are there any must-have features or a minimum "
            "rating?"))
        accepted = yield from self._choose(base, compare_ref=ref)
        if accepted is not None:
            yield from self._say(f"Great, the {accepted['title']} it is.")

    # -- named products: cart, purchase, substitution ---------------------------------------

    def _find_named(self, text: str) -> Step:
        """The product a text names by title (brand first), if one can be found."""
        items = yield from self._items(text)
        for item in items:
            if item.view is not None:
                return item.view
        return None

    def _mentions(self, text: str) -> list[tuple[int, int, str]]:
        """(start, end, brand) of every brand named in the text, in order."""
        v = _vocab()
        out = []
        for m in re.finditer(r"[A-Za-z]+", text):
            brand = v.brands.get(m.group(0).lower())
            if brand and m.group(0)[0].isupper():
                out.append((m.start(), m.end(), brand))
        return out

    def _items(self, text: str, *, skip: Sequence[str] = ()) -> Step:
        """The products a text names by title, with options and quantities."""
        marks = self._mentions(text)
        items: list[_Item] = []
        for k, (start, _end, brand) in enumerate(marks):
            stop = marks[k + 1][0] if k + 1 < len(marks) else len(text)
            chunk = text[start:stop]
            chunk = re.split(r"\.(?:\s|$)|\s+and\s+(?:please\s+)?(?=take|i\s)|\s+to my cart|"
                             r"\s+out of my cart|\s+in my cart|\s+from order|\s+\(order", chunk)[0]
            qty = _quantity_before(text[max(0, start - 20):start]) or 1
            item = _Item(mention=chunk.strip(" ,"), quantity=qty)
            words = " ".join(re.findall(r"[A-Za-z0-9]+", chunk)[:6])
            page = yield from self._call("search_products", query=words, brand=brand,
                                         page_size=5)
            hits = (page or {}).get("hits", [])
            if hits:
                best = max(hits, key=lambda h: (_title_score(h["title"], chunk),
                                                -hits.index(h)))
                view = yield from self._call("get_product", product_id=best["product_id"])
                item.view = view
            items.append(item)
        for item in items:
            if item.view is None:
                continue
            rest = item.mention
            title = item.view["title"]
            idx = rest.lower().find(title.split()[-1].lower())
            tail = rest[idx:] if idx >= 0 else rest
            item.options = self._options_in(tail, item.view)
        return [i for i in items if i.view is None or i.view["product_id"] not in skip]

    def _options_in(self, text: str, view: dict[str, Any]) -> dict[str, str]:
        """The variant options of ``view`` that the text names (last mention wins)."""
        low = text.lower()
        found: list[tuple[int, str, str]] = []
        from episodes.families.phrases import option_phrase

        pairs = {(k, str(x)) for var in view.get("variants", [])
                 for k, x in var.get("options", {}).items()}
        for name, value in sorted(pairs):
            for m in _rx(option_phrase(name, value)).finditer(low):
                found.append((m.start(), name, value))
        return {name: value for _, name, value in sorted(found)}

    def _named_items(self) -> Step:
        request = self.segment[0]
        low = request.lower()
        cart = yield from self._call("view_cart")
        removes: list[_Item] = []
        for m in re.finditer(r"take the (.+?) out of my cart", request, re.I):
            got = yield from self._items(m.group(1))
            removes += got
        bump_text = re.search(r"i already have one of the (.+?) in my cart, make it (\d+)",
                              request, re.I)
        body = re.sub(r"(?i)and please take the .+? out of my cart\.?", "", request)
        body = re.sub(r"(?i)i already have one of the .+? in my cart, make it \d+\.?", "", body)
        items = yield from self._items(body)
        if bump_text:
            bumped = yield from self._items(bump_text.group(1))
            for b in bumped:
                b.quantity = int(bump_text.group(2))
            items += bumped
        items = [i for i in items if i.view is not None]
        if not items and not removes:
            yield from self._discover(compare=False)
            return
        purchase = bool(re.search(r"i'd like to order|check ?out|\bpurchase\b|\bcode\b|"
                                  r"shipping|\bpay\b|paypal|gift card|on my card", low))
        # substitution: the named product cannot be had as asked
        if len(items) == 1 and not removes:
            item = items[0]
            assert item.view is not None
            if _variant_for(item.view, item.options, quantity=item.quantity) is None and (
                    not purchase or not _in_stock(item.view)
                    or re.search(r"i'd like to buy", low)):
                yield from self._substitute(item)
                return
        # options not named: ask (once) when a product has a choice
        missing = sorted({k for i in items if i.view is not None
                          for k in i.view.get("option_names", []) if k not in i.options
                          and len({str(x["options"].get(k)) for x in i.view["variants"]}) > 1})
        extra_q = ""
        if purchase:
            wants = self._checkout_slots()
            gaps = [n for n, x in (("code", wants["code"]), ("payment", wants["payment"]),
                                   ("shipping", wants["shipping"])) if x is None]
            if gaps:
                extra_q = (" Also, do you have a discount code, how would you like to pay "
                           "(card, PayPal or gift card), and which shipping do you want "
                           "(standard, express or next-day)?")
        if missing or extra_q:
            names = " and ".join("colour" if k == "color" else k.replace("_", " ")
                                 for k in missing)
            q = (f"Which {names} would you like?" if missing else "Got it.") + extra_q
            yield from self._ask_once("options", q)
            for item in items:
                assert item.view is not None
                for text in self.segment[1:]:
                    item.options.update(self._options_in(text, item.view))
        while True:
            self._requantify(items)
            ok, cart = yield from self._reconcile(items, removes, cart)
            if not purchase:
                summary = self._summary(cart)
                reply = yield from self._say(f"Your cart now has {summary}.")
                if not re.search(r"\bactually\b|make it", reply.lower()):
                    return
                continue
            done = yield from self._checkout(items, cart)
            if done:
                return

    def _requantify(self, items: list[_Item]) -> None:
        for text in self.segment[1:]:
            for m in re.finditer(r"make it (\d+) of the (.+?)(?:\.(?:\s|$)|$)", text, re.I):
                best = max(items, key=lambda i: _title_score(
                    i.view["title"] if i.view else "", m.group(2)))
                best.quantity = int(m.group(1))

    def _reconcile(self, items: list[_Item], removes: list[_Item], cart: Any) -> Step:
        """Bring the cart to the wanted lines; returns (all there, cart)."""
        lines = {ln["variant_id"]: ln["quantity"] for ln in (cart or {}).get("lines", [])}
        ok = True
        for r in removes:
            if r.view is None:
                continue
            for vid in [x["variant_id"] for x in r.view["variants"]]:
                if vid in lines:
                    cart = (yield from self._call("remove_from_cart", variant_id=vid)) or cart
                    lines.pop(vid, None)
        for item in items:
            assert item.view is not None
            have = [x for x in item.view["variants"] if x["variant_id"] in lines]
            chosen = next((x for x in have if _has_options(x, item.options)), None)
            if chosen is None:
                chosen = _variant_for(item.view, item.options, quantity=item.quantity)
            if chosen is None:
                ok = False
                continue
            item.variant = chosen
            vid = chosen["variant_id"]
            if lines.get(vid) == item.quantity:
                continue
            if vid in lines:
                res = yield from self._call("update_cart_item", variant_id=vid,
                                            quantity=item.quantity)
            else:
                res = yield from self._call("add_to_cart", variant_id=vid,
                                            quantity=item.quantity)
            if res is None:
                ok = False
            else:
                cart = res
                lines = {ln["variant_id"]: ln["quantity"] for ln in cart.get("lines", [])}
        return ok, cart

    def _summary(self, cart: Any) -> str:
        lines = (cart or {}).get("lines", [])
        if not lines:
            return "nothing in it"
        parts = [f"{ln['quantity']} x {ln['title']}"
                 + (f" ({', '.join(str(x) for x in ln['options'].values())})"
                    if ln.get("options") else "") for ln in lines]
        total = (cart or {}).get("subtotal_cents", 0)
        return ", ".join(parts) + f" ({_money(total)} before shipping)"

    def _checkout_slots(self) -> dict[str, str | None]:
        text = self.said
        low = text.lower()
        code = None
        for m in re.finditer(r"\b(?:code|coupon)\s+([A-Z0-9_-]{3,32})\b", text, re.I):
            code = m.group(1).upper()
        payment = None
        for m in re.finditer(r"gift card|paypal|\bcard\b(?! for the rest)", low):
            payment = {"gift card": "gift_card", "paypal": "paypal"}.get(m.group(0), "card")
        shipping = None
        for m in re.finditer(r"next[- ]day|overnight|express|standard", low):
            shipping = {"express": "express", "standard": "standard"}.get(m.group(0),
                                                                           "next_day")
        return {"code": code, "payment": payment, "shipping": shipping}

    def _checkout(self, items: list[_Item], cart: Any) -> Step:
        """Code, payment, confirmation and checkout; returns True once the order is placed."""
        wants = self._checkout_slots()
        code = wants["code"]
        if code and str(((cart or {}).get("code") or {}).get("code", "")).upper() != code:
            res = yield from self._call("apply_discount_code", code=code)
            if res is not None:
                cart = res
        customer = yield from self._call("get_customer")
        methods = (customer or {}).get("payment_methods", [])
        kind = wants["payment"]
        pick = next((m for m in methods if m["kind"] == kind), None) if kind else None
        cards = [m for m in methods if m["kind"] == "card"]
        default = next((m for m in methods if m.get("is_default")), methods[0] if methods
                       else None)
        pick = pick or (cards[0] if cards else default)
        if pick is None:
            yield from self._say("I couldn't find a payment method on your account.")
            return True
        second = None
        if pick["kind"] == "gift_card":
            second = next((m for m in methods if m["kind"] in ("card", "paypal")), None)
        ship = wants["shipping"] or "standard"
        ship_name = {"next_day": "next-day"}.get(ship, ship)
        pay_text = pick["label"] + (f" and {second['label']} for the rest" if second else "")
        with_code = f" with code {code}" if code else ""
        reply = yield from self._say(
            f"Your cart has {self._summary(cart)}{with_code}. Shall I place the order with "
            f"{pay_text} and {ship_name} shipping?")
        low = reply.lower()
        if not re.search(r"\byes\b.*go ahead", low):
            if "actually" in low or "not yet" in low or "make it" in low:
                return False
            return False
        args: dict[str, Any] = {"payment_method_id": pick["payment_method_id"],
                                "shipping_option": ship}
        if second is not None:
            args["second_payment_method_id"] = second["payment_method_id"]
        order = yield from self._call("checkout", **args)
        if order is None:
            yield from self._say(f"Sorry, the checkout failed: {self.last_error}")
            return True
        yield from self._say(f"Done — your order {order['order_id']} is placed, total "
                             f"{_money(order['total_cents'])}.")
        return True

    def _substitute(self, item: _Item) -> Step:
        """The named product is out of stock: find, show and add a similar one."""
        assert item.view is not None
        ref = item.view
        base = _Crit(category=ref["category_slug"], exclude={ref["product_id"]})
        yield from self._ask_once("details", (
            f"Sorry, the {ref['title']} is out of stock as you want it. I can find a similar "
            "one: what's your budget per item, and any size or must-have features?"))
        crit = self._criteria(base)
        sim = yield from self._call("find_similar", product_id=ref["product_id"], limit=10,
                                    **({"max_price_cents": crit.budget} if crit.budget else {}))
        ids = [h["product_id"] for h in (sim or {}).get("hits", [])][:4]
        fresh = [p for p in ids if p not in self.views]
        if fresh:
            yield from self._calls(*[("get_product", {"product_id": p}) for p in fresh])
        accepted = None
        learned_options: dict[str, str] = {}
        for _ in range(3):
            crit = self._criteria(base)
            crit.options.update(item.options)
            crit.options.update(learned_options)
            ranked = sorted(((_misses(self.views[p], crit, each=True), k, p)
                             for k, p in enumerate(ids) if p in self.views
                             and p not in base.exclude))
            found = yield from self._search(crit, each=True)
            seen = {p for _, _, p in ranked}
            ranked += [(m, 100 + k, x["product_id"]) for k, (m, x) in enumerate(found)
                       if x["product_id"] not in seen]
            ranked.sort()
            good = [self.views[p] for m, _, p in ranked if m == 0][:3]
            if not good:
                good = [self.views[p] for _, _, p in ranked[:2]]
            if not good:
                break
            accepted, reply = yield from self._present(good, "Similar options in stock:")
            if accepted is not None:
                break
            base.exclude |= {x["product_id"] for x in good}
            rej = _REJECTED.search(reply)
            if rej:
                probe = _Crit(options=dict(learned_options))
                _learn_rejection(probe, rej.group(1))
                learned_options = probe.options
        if accepted is None:
            return
        crit = self._criteria(base)
        options = {**item.options, **learned_options, **crit.options}
        options = {k: x for k, x in options.items() if k in accepted.get("option_names", [])}
        variant = _variant_for(accepted, options, quantity=item.quantity, budget=crit.budget)
        if variant is None:
            variant = _variant_for(accepted, {}, quantity=item.quantity, budget=crit.budget)
        if variant is None:
            yield from self._say("Sorry, that one doesn't have enough stock.")
            return
        res = yield from self._call("add_to_cart", variant_id=variant["variant_id"],
                                    quantity=item.quantity)
        if res is None:
            yield from self._say(f"Sorry, I couldn't add it: {self.last_error}")
            return
        yield from self._say(f"I've added {item.quantity} x {accepted['title']} to your cart.")

    # -- bundles ----------------------------------------------------------------------------

    def _bundle(self) -> Step:
        request = self.segment[0]
        yield from self._ask_once("details", (
            "Sounds good! What's your total budget, and are there any must-have features "
            "or preferences (brand, rating, who it's for)?"))
        text = self.said
        total = _budget(text)
        parts: list[str] = []
        m = re.search(r"putting together [^:]*:\s*i need (.+?)(?:,\s*\$[\d.]+ total|\.\s|\.$|$)",
                      request, re.I)
        if m:
            for part in re.split(r",\s*|\s+and\s+", m.group(1)):
                if parts and _category(part) is None:
                    parts[-1] += " and " + part
                else:
                    parts.append(part)
        if len(parts) < 2:
            parts = [request]
        picks: list[tuple[dict[str, Any], dict[str, Any]]] = []
        spent = 0
        for k, part in enumerate(parts):
            crit = _Crit()
            _read_product_text(crit, part)
            for later in self.segment[1:]:
                if len(parts) == 1 or (crit.category and _category(later) == crit.category):
                    _read_product_text(crit, later)
            if len(parts) == 1:
                for t in self.segment:
                    _read_product_text(crit, t)
            if total is not None:
                left = total - spent
                crit.budget = left if crit.budget is None else min(crit.budget, left)
            else:
                crit.budget = None
            reserve = len(parts) - k - 1
            found = yield from self._search(crit, limit=5)
            good = [x for mm, x in found if mm == 0]
            if crit.budget is not None and reserve:
                good.sort(key=lambda x: x["price_cents"])
            if not good:
                good = [x for _, x in found[:1]]
            if not good:
                continue
            view = good[0]
            variant = _variant_for(view, crit.options, budget=crit.budget)
            if variant is None:
                continue
            picks.append((view, variant))
            spent += variant["price_cents"]
        if not picks:
            yield from self._say("Sorry, I couldn't find items that fit.")
            return
        cart = None
        for _view, variant in picks:
            cart = (yield from self._call("add_to_cart", variant_id=variant["variant_id"],
                                          quantity=1)) or cart
        names = ", ".join(f"the {v['title']} ({_money(x['price_cents'])})" for v, x in picks)
        within = f", within your {_money(total)} budget" if total else ""
        yield from self._say(f"I've added {names} to your cart — {_money(spent)} in "
                             f"total{within}.")

    # -- orders -----------------------------------------------------------------------------

    def _order_id(self, question: str) -> Step:
        """The order the shopper means (asked for when not given); None if unknown."""
        found = _ORDER_ID.findall(self.said)
        if not found:
            yield from self._ask_once("order", question)
            found = _ORDER_ID.findall(self.said)
        if found:
            return str(found[-1]).upper()
        orders = yield from self._call("list_orders")
        listed = (orders or {}).get("orders", [])
        return listed[0]["order_id"] if listed else None

    def _pick_lines(self, order: dict[str, Any]) -> list[dict[str, Any]]:
        """The order lines the shopper talks about (best title match)."""
        lines = order.get("lines", [])
        if len(lines) <= 1:
            return list(lines)
        text = self.segment[0].lower()
        scored = []
        for k, ln in enumerate(lines):
            words = re.findall(r"[a-z0-9]+", ln["title"].lower())
            score = 0.0
            if words and re.search(rf"\b{re.escape(words[0])}\b", text):
                score += 0.5
            if words and re.search(rf"\b{re.escape(words[-1].rstrip('s'))}", text):
                score += 1.0
            scored.append((score + _title_score(ln["title"], text) / 10, -k, ln))
        scored.sort(key=lambda s: (s[0], s[1]), reverse=True)
        named = [ln for sc, _, ln in scored if sc >= 1.0]
        return named or [scored[0][2]]

    def _tell(self, *facts: dict[str, Any]) -> Step:
        """State facts to the shopper (``state_facts``)."""
        if facts:
            yield from self._call("state_facts", facts=list(facts))

    def _refuse(self, kind: str, title: str, oid: str, elig: dict[str, Any]) -> Step:
        """Say why a line cannot be returned or exchanged, and state the reason as a fact."""
        why = elig.get("reason", "it isn't eligible")
        code = elig.get("reason_code")
        if code and code != "eligible":
            yield from self._tell({"fact": f"cannot_{kind}", "about": oid, "value": code})
        verb = "returned" if kind == "return" else "exchanged"
        yield from self._say(self._refusal(verb, title, oid, why))

    def _refusal(self, verb: str, title: str, oid: str, why: str) -> str:
        extra = ""
        if "window" in why:
            m = re.search(r"(\d+)-day", why)
            days = f"{m.group(1)} days" if m else "its return window"
            extra = f" Items can only be returned or exchanged within {days} of delivery."
        elif "final sale" in why:
            extra = " Final sale items are not returnable."
        return (f"I'm sorry, but the {title} from order {oid} can't be {verb}: {why}.{extra}")

    def _return(self) -> Step:
        if _reason(self.said, _RETURN_REASONS) is None:
            q = ("Which order is it (the order number), and what's the reason for the return?"
                 if not _ORDER_ID.search(self.said) else "What's the reason for the return?")
            yield from self._ask_once("reason", q)
        found = yield from self._order_and_eligibility()
        if found is None:
            return
        oid, order, elig = found
        lines = self._pick_lines(order)
        info = {e["variant_id"]: e for e in (elig or {}).get("lines", [])}
        blocked = [ln for ln in lines if not info.get(ln["variant_id"], {}).get("eligible")]
        if blocked:
            ln = blocked[0]
            yield from self._refuse("return", ln["title"], oid, info.get(ln["variant_id"], {}))
            return
        qty = self._return_quantity(lines)
        if qty is None and any(ln["quantity"] > 1 for ln in lines):
            yield from self._ask_once("quantity", "How many units would you like to return?")
            qty = self._return_quantity(lines)
        items = [{"variant_id": ln["variant_id"],
                  "quantity": min(qty or ln["quantity"],
                                  info[ln["variant_id"]]["returnable_quantity"])}
                 for ln in lines]
        reason = _reason(self.said, _RETURN_REASONS) or "other"
        what = " and ".join(f"{i['quantity']} x {ln['title']}" for i, ln in zip(items, lines,
                                                                              strict=True))
        for _ in range(2):
            reply = yield from self._say(f"Shall I return {what} from order {oid} for a refund "
                                         "to your original payment method (reason: "
                                         f"{reason.replace('_', ' ')})?")
            if re.search(r"\byes\b", reply.lower()):
                break
        else:
            return
        res = yield from self._call("request_return", order_id=oid, items=items, reason=reason,
                                    refund_to="original")
        if res is None:
            yield from self._say(f"Sorry, the return failed: {self.last_error}")
            return
        yield from self._say(f"Done: return {res['return_id']} for order {oid} is approved; "
                             f"{_money(res['refund_cents'])} will be refunded.")

    def _return_quantity(self, lines: list[dict[str, Any]]) -> int | None:
        low = self.said.lower()
        found = list(re.finditer(r"only want to send back (\w+)|just (\w+) of the|"
                                 r"return (\w+) of", low))
        if not found:
            return None
        word = next(g for g in found[-1].groups() if g)
        return int(word) if word.isdigit() else _NUMBER_WORDS.get(word)

    def _order_and_eligibility(self) -> Generator[Action, Observation, tuple[str, Any, Any] | None]:
        """The order the shopper means, read with its return eligibility; None (after telling
        the shopper) when there is no such order."""
        oid = yield from self._order_id("Which order is it? Do you have the order number?")
        if oid is None:
            yield from self._say("I couldn't find any orders on your account.")
            return None
        order, elig = yield from self._calls(("get_order", {"order_id": oid}),
                                             ("check_return_eligibility", {"order_id": oid}))
        if order is None:
            yield from self._say(f"I couldn't find order {oid}: {self.last_error}")
            return None
        return oid, order, elig

    def _exchange(self) -> Step:
        found = yield from self._order_and_eligibility()
        if found is None:
            return
        oid, order, elig = found
        lines = self._pick_lines(order)
        ln = lines[0]
        if len(lines) > 1:
            opts = [(sum(str(x).lower() in self.said.lower() for x in c["options"].values()), c)
                    for c in lines]
            ln = max(opts, key=lambda o: o[0])[1]
        info = {e["variant_id"]: e for e in (elig or {}).get("lines", [])}
        if not info.get(ln["variant_id"], {}).get("eligible"):
            yield from self._refuse("exchange", ln["title"], oid, info.get(ln["variant_id"], {}))
            return
        view = yield from self._call("get_product", product_id=ln["product_id"])
        if view is None:
            yield from self._say(f"Sorry, I couldn't look up the {ln['title']}.")
            return
        target = self._exchange_target(view, ln)
        if target is None:
            yield from self._ask_once("want", "Which size or colour would you like instead?")
            target = self._exchange_target(view, ln)
        if target is None:
            yield from self._say(f"Sorry, the {ln['title']} isn't available in what you "
                                 "asked for right now.")
            return
        qty = ln["quantity"]
        low = self.said.lower()
        if re.search(r"only want to swap one|just one of the two", low):
            qty = 1
        elif qty > 1 and not re.search(r"swap both|both of them", low):
            yield from self._ask_once("quantity", "How many of them would you like to "
                                      "exchange?")
            if re.search(r"just one|only one", self.said.lower()):
                qty = 1
        reason = "other"
        if re.search(r"too small|too big|doesn't fit|wrong size", low) or (
                "size" in target["changed"]):
            reason = "wrong_size"
        elif re.search(r"wrong colou?r", low) or "color" in target["changed"]:
            reason = "wrong_colour"
        elif re.search(r"defective|faulty|stopped working|broken", low):
            reason = "defective"
        old = ", ".join(str(x) for x in ln["options"].values())
        new = ", ".join(str(x) for x in target["options"].values())
        for _ in range(2):
            reply = yield from self._say(f"Shall I exchange {qty} x {ln['title']} ({old}) from "
                                         f"order {oid} for the {new} one (reason: "
                                         f"{reason.replace('_', ' ')})?")
            if re.search(r"\byes\b", reply.lower()):
                break
        else:
            return
        res = yield from self._call("request_exchange", order_id=oid,
                                    variant_id=ln["variant_id"],
                                    new_variant_id=target["variant_id"], reason=reason,
                                    quantity=qty)
        if res is None:
            yield from self._say(f"Sorry, the exchange failed: {self.last_error}")
            return
        yield from self._say(f"Done: exchange {res['exchange_id']} for order {oid} is "
                             "confirmed; the replacement ships right away.")

    def _exchange_target(self, view: dict[str, Any], line: dict[str, Any]
                         ) -> dict[str, Any] | None:
        """The variant to exchange to: the first wanted option value in stock."""
        old = {k: str(x) for k, x in line["options"].items()}
        texts = " ".join(self.segment)
        from episodes.families.phrases import option_phrase

        mentions: list[tuple[int, str, str]] = []
        low = texts.lower()
        seen = {(k, str(x)) for var in view["variants"] for k, x in var["options"].items()}
        for name, value in seen:
            if old.get(name, "").lower() == value.lower():
                continue
            for rx in (_rx(option_phrase(name, value)), _rx(f"size {value}")
                       if name == "size" else None):
                if rx is None:
                    continue
                for m in rx.finditer(low):
                    mentions.append((m.start(), name, value))
        mentions.sort()
        for _, name, value in mentions:
            want = {**old, name: value}
            for var in view["variants"]:
                if var["variant_id"] == line["variant_id"] or var.get("stock", 0) <= 0:
                    continue
                if _has_options(var, want):
                    return {**var, "changed": {name}}
        return None

    def _cancel(self) -> Step:
        if _reason(self.said, _CANCEL_REASONS) is None and not _ORDER_ID.search(self.said):
            yield from self._ask_once("reason", "Which order is it (the order number), and "
                                      "why would you like to cancel it?")
        elif _reason(self.said, _CANCEL_REASONS) is None:
            yield from self._ask_once("reason", "May I ask why you'd like to cancel it?")
        oid = yield from self._order_id("Which order is it? Do you have the order number?")
        if oid is None:
            yield from self._say("I couldn't find any orders on your account.")
            return
        order = yield from self._call("get_order", order_id=oid)
        if order is None:
            yield from self._say(f"I couldn't find order {oid}: {self.last_error}")
            return
        status = order.get("status", "")
        if status != "pending":
            state = {"shipped": "has already shipped", "delivered": "was already delivered",
                     "processing": "is already being processed at the warehouse",
                     "cancelled": "is already cancelled"}.get(status, f"is {status}")
            tracking = [s["tracking_number"] for s in order.get("shipments", [])]
            if status == "shipped" and tracking:
                state += f" (tracking number {tracking[0]})"
            if status in ("processing", "shipped", "delivered", "cancelled"):
                yield from self._tell({"fact": "cannot_cancel", "about": oid,
                                       "value": f"already_{status}"})
            yield from self._say(
                f"I'm sorry, but order {oid} {state}, so it can no longer be cancelled: only "
                "pending orders can be. Once it is delivered you can return it for a refund.")
            return
        reason = _reason(self.said, _CANCEL_REASONS) or "other"
        titles = ", ".join(ln["title"] for ln in order.get("lines", []))
        for _ in range(2):
            reply = yield from self._say(f"Shall I cancel order {oid} ({titles}, "
                                         f"{_money(order['total_cents'])}) (reason: "
                                         f"{reason.replace('_', ' ')})?")
            if re.search(r"\byes\b", reply.lower()):
                break
        else:
            return
        res = yield from self._call("cancel_order", order_id=oid, reason=reason)
        if res is None:
            yield from self._say(f"Sorry, the cancellation failed: {self.last_error}")
            return
        refunded = sum(p["amount_cents"] for p in res.get("payments", [])
                       if p.get("kind") == "refund")
        yield from self._say(f"Order {oid} is cancelled; {_money(refunded)} will be refunded "
                             "to the payment method you used.")

    def _status(self) -> Step:
        oid = yield from self._order_id("Which order is it? Do you have the order number?")
        if oid is None:
            yield from self._say("I couldn't find any orders on your account.")
            return
        order = yield from self._call("get_order", order_id=oid)
        if order is None:
            yield from self._say(f"I couldn't find order {oid}: {self.last_error}")
            return
        status = order.get("status", "")
        parts = [f"Your order {oid} {_STATUS_TEXT.get(status, 'is ' + status)}."]
        ships = order.get("shipments", [])
        facts: list[dict[str, Any]] = [{"fact": "order_status", "about": oid, "value": status}]
        if ships and status in ("shipped", "delivered"):
            facts += [{"fact": "tracking_number", "about": oid,
                       "value": ships[0].get("tracking_number")},
                      {"fact": "carrier", "about": oid, "value": ships[0].get("carrier")}]
        if ships and status == "delivered":
            facts.append({"fact": "delivered_on", "about": oid,
                          "value": str(ships[0].get("delivered_at", ""))[:10]})
        elif status != "cancelled" and order.get("expected_delivery"):
            facts.append({"fact": "expected_delivery", "about": oid,
                          "value": str(order["expected_delivery"])[:10]})
        yield from self._tell(*facts)
        if ships:
            s = ships[0]
            if status == "delivered":
                parts.append(f"It was delivered on {_date(s.get('delivered_at'))} by "
                             f"{s.get('carrier')}.")
            elif status == "shipped":
                parts.append(f"It's with {s.get('carrier')}; the tracking number is "
                             f"{s.get('tracking_number')}.")
        if status not in ("delivered", "cancelled"):
            parts.append(f"It's expected to arrive on {_date(order.get('expected_delivery'))}.")
        yield from self._say(" ".join(parts))

    # -- policy -----------------------------------------------------------------------------

    def _policy(self) -> Step:
        """Answer each question of the request by quoting the policy lines that apply."""
        questions = [q.strip() for q in re.split(r"(?<=\?)\s+", self.segment[0]) if q.strip()]
        answers: list[str] = []
        facts: list[dict[str, Any]] = []
        tier: str | None = None
        for question in questions:
            if "?" not in question and len(questions) > 1:
                continue
            low = question.lower()
            dept = slug = about = ""
            final_sale = False
            pid = _PRODUCT_ID.search(question)
            if pid:
                view = yield from self._call("get_product", product_id=pid.group(0).upper())
                if view is not None:
                    slug = about = str(view["category_slug"])
                    final_sale = bool(view.get("final_sale"))
                    if final_sale:
                        about = str(view["product_id"])
            else:
                slug = about = _category(low) or ""
            dept = slug.split("/")[0]
            topic = _policy_topic(low)
            if topic == "free" and tier is None:
                m = re.search(r"\b(standard|silver|gold) member", self.said.lower())
                if m:
                    tier = m.group(1)
                else:
                    customer = yield from self._call("get_customer")
                    tier = (customer or {}).get("tier")
            res = yield from self._call("search_policy", query=_POLICY_QUERY.get(
                topic, question)[:200] + (f" {dept}" if dept else ""))
            sections = {m["key"]: m["text"] for m in (res or {}).get("matches", [])}
            known = [f for m in (res or {}).get("matches", []) for f in m.get("facts", [])]
            answers.append(_policy_answer(topic, low, dept, final_sale, tier, sections))
            facts += _policy_facts(topic, low, slug, about, final_sale, tier, known)
        text = " ".join(a for a in answers if a) or "Sorry, I couldn't find that in our policies."
        yield from self._tell(*facts[:10])
        yield from self._say(text)


_POLICY_QUERY = {"window": "return window returns", "fee": "restocking fee returns",
                 "non_returnable": "final sale returns", "ship_cost": "shipping options cost",
                 "ship_time": "shipping delivery days", "free": "free standard shipping",
                 "warranty": "warranty", "cancel": "cancel order pending hours"}


def _policy_topic(low: str) -> str:
    if "warranty" in low:
        return "warranty"
    if "restocking" in low or " fee" in low:
        return "fee"
    if "free shipping" in low or "free standard" in low:
        return "free"
    if "cancel" in low:
        return "cancel"
    if re.search(r"anything i can't return|can't i return|cannot return|non-returnable", low):
        return "non_returnable"
    if "shipping" in low or "delivery" in low:
        return "ship_time" if re.search(r"how long|take|days|arrive", low) else "ship_cost"
    if "return" in low:
        return "window"
    return "other"


def _rule_value(known: list[dict[str, Any]], key: str, slug: str) -> Any:
    """The value of the policy fact ``key`` for category ``slug``: the fact about the longest
    prefix of the slug, else the one about every other category (``*``)."""
    best: tuple[int, Any] | None = None
    for f in known:
        about = str(f.get("about") or "")
        if f.get("fact") != key:
            continue
        size = len(about) if about != "*" and slug.startswith(about) else (
            0 if about == "*" else -1)
        if size >= 0 and (best is None or size > best[0]):
            best = (size, f.get("value"))
    return best[1] if best else None


def _policy_facts(topic: str, low: str, slug: str, about: str, final_sale: bool,
                  tier: str | None, known: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The facts (from search_policy's sections) that answer one policy question."""
    def one(key: str, subject: str | None, value: Any) -> list[dict[str, Any]]:
        if value is None or (subject is not None and not subject):
            return []
        return [{"fact": key, **({"about": subject} if subject else {}), "value": value}]

    if topic in ("window", "fee") and final_sale:
        return one("returnable", about, False)
    if topic == "window":
        if _rule_value(known, "returnable", slug) is False:
            return one("returnable", about, False)
        return one("return_window_days", about, _rule_value(known, "return_window_days", slug))
    if topic == "fee":
        if "defective" in low or "damaged" in low:
            return one("fee_waived_if_defective", about,
                       _rule_value(known, "fee_waived_if_defective", slug))
        return one("restocking_fee_percent", about,
                   _rule_value(known, "restocking_fee_percent", slug))
    if topic == "non_returnable":
        return [{"fact": "returnable", "about": f["about"], "value": False} for f in known
                if f.get("fact") == "returnable" and f.get("value") is False
                and f.get("about") != "*"]
    if topic in ("ship_cost", "ship_time"):
        option = "next_day" if "next" in low else "express" if "express" in low else "standard"
        key = "shipping_cost_cents" if topic == "ship_cost" else "shipping_days"
        return one(key, option, next((f["value"] for f in known if f.get("fact") == key
                                      and f.get("about") == option), None))
    if topic == "free" and tier:
        return one("free_shipping_threshold_cents", tier, next(
            (f["value"] for f in known if f.get("fact") == "free_shipping_threshold_cents"
             and f.get("about") == tier), None))
    if topic == "warranty":
        return one("warranty_months", about, _rule_value(known, "warranty_months", slug))
    if topic == "cancel":
        return one("cancel_window_hours", None, next(
            (f["value"] for f in known if f.get("fact") == "cancel_window_hours"), None))
    return []


def _dept_line(lines: list[str], dept: str, default: str) -> str | None:
    """The bullet line of a policy section that covers department ``dept``."""
    for line in lines:
        label = line.lstrip("- ").split(":", 1)[0].lower()
        if dept and (label.startswith(dept) or dept.startswith(label.split()[0])):
            return line.lstrip("- ")
    for line in lines:
        if line.lstrip("- ").lower().startswith(default):
            return line.lstrip("- ")
    return None


def _policy_answer(topic: str, low: str, dept: str, final_sale: bool, tier: str | None,
                   sections: dict[str, str]) -> str:
    """The sentences of the policy sections that answer one question."""
    def lines(key: str) -> list[str]:
        return [x.strip() for x in sections.get(key, "").splitlines() if x.strip()]

    def sentences(key: str) -> list[str]:
        return [x.strip() for x in re.split(r"(?<=\.)\s+|\n", sections.get(key, ""))
                if x.strip()]

    if topic in ("window", "fee"):
        if final_sale:
            return "That item is a clearance item sold as final sale, so it can't be returned."
        line = _dept_line(lines("returns"), dept, "most items")
        return line or ""
    if topic == "non_returnable":
        return " ".join(x.lstrip("- ") for x in lines("returns") if "final sale" in x)
    if topic in ("ship_cost", "ship_time"):
        names = {"next": "next day", "express": "express", "standard": "standard"}
        want = next((v for k, v in names.items() if k in low), "standard")
        return next((x.lstrip("- ") for x in lines("shipping") if x.lower().lstrip("- ")
                     .startswith(want)), "")
    if topic == "free":
        line = next((x for x in lines("shipping") if "free" in x.lower()), "")
        if tier:
            m = re.search(rf"{tier} members (from \$[\d,.]+|on every order)", line)
            if m:
                return f"As a {tier} member, standard shipping is free {m.group(1)}. {line}"
        return line
    if topic == "warranty":
        line = _dept_line(lines("warranty")[1:], dept, "other items")
        return line or ""
    if topic == "cancel":
        return next((x for x in sentences("cancellation") if "within" in x), "")
    best = max(sections.values(), key=lambda t: len(set(_words_of(t)) & set(_words_of(low))),
               default="")
    return " ".join(best.splitlines()[:3])


class HeuristicAgent:
    """Rule-based baseline agent (no privileged information)."""

    name = "heuristic"
    privileged = False

    def start(self, task: TaskSpec | None, obs: Observation, *, seed: int) -> Policy:
        return _HeuristicPolicy(obs, seed)
