"""Products and discovery: search, present, learn from rejections; "like X but cheaper";
gifts and kits under a total budget.
"""

from __future__ import annotations

import re
from typing import Any

from episodes.agents.heuristic.conversation import Step
from episodes.agents.heuristic.naming import _Naming
from episodes.agents.heuristic.products import (
    _Crit,
    _learn_rejection,
    _misses,
    _read_product_text,
    _title_score,
    _variant_for,
)
from episodes.agents.heuristic.reading import (
    _ACCEPTED,
    _PRODUCT_ID,
    _REJECTED,
    _budget,
    _category,
    _money,
)
from episodes.agents.heuristic.vocab import _STOP, _known_slug, _vocab, _words_of


class _Discovery(_Naming):
    """Finding products that fit what the shopper wants, and showing them."""

    def _criteria(self, base: _Crit | None = None) -> _Crit:
        crit = _Crit()
        if base is not None:
            crit.category, crit.exclude = base.category, set(base.exclude)
            crit.budget = base.budget
        for text in self.segment:
            _read_product_text(crit, text)
        return crit

    def _search(self, crit: _Crit, *, text: str = "", limit: int | None = None,
                each: bool = False) -> Step:
        """Candidates for ``crit``, best first: (misses, view) pairs, from the first ``limit``
        hits (default: as many as the style opens)."""
        if limit is None:
            limit = self.style.inspect
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
            if page is None and args.get("category") and not _known_slug(args["category"]):
                crit.category = _category(" ".join(self.segment))  # the catalog's own words
                args.pop("category")
                args.update({"category": crit.category} if crit.category else {"query": text})
                page = yield from self._call("search_products", **args)
            hits = [h for h in (page or {}).get("hits", [])
                    if h["product_id"] not in crit.exclude]
            if hits:
                break
        ids = [h["product_id"] for h in hits]
        fresh = [p for p in ids[:limit] if p not in self.views]
        if fresh:
            yield from self._calls(*[("get_product", {"product_id": p}) for p in fresh])
        ranks = self._ranks(len(ids[:limit]))
        ranked = [(_misses(self.views[p], crit, each=each), ranks[k], p)
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
            ranks = self._ranks(len(ranked))
            ranked = [r for _, r in sorted(enumerate(ranked),
                                           key=lambda kr: (kr[1][0], ranks[kr[0]]))]
            if not ranked:
                yield from self._say("I couldn't find anything matching yet. Is there "
                                     "anything you could relax, like the budget or brand?")
                continue
            show = self.style.show
            good = [x for m, x in ranked if m == 0][:show] or [x for _, x in
                                                                ranked[:min(2, show)]]
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
        if self.style.ask_details:
            yield from self._ask_once("details", (
                "Happy to help! To narrow it down: what's your budget, do you have a "
                "preferred brand, colour or size, and are there any must-have features or a "
                "minimum rating?"))
        accepted = yield from self._choose(base, compare_ref=ref)
        if accepted is not None:
            yield from self._say(f"Great, the {accepted['title']} it is.")

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
            found = yield from self._search(crit)
            good = [x for mm, x in found if mm == 0]
            if (crit.budget is not None and reserve) or self.style.frugal:
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
