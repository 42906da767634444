"""Products the shopper names by title (brand first), with the options and quantities named.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from episodes.agents.heuristic.conversation import Step, _Conversation
from episodes.agents.heuristic.products import _title_score
from episodes.agents.heuristic.reading import _quantity_before
from episodes.agents.heuristic.vocab import _rx, _vocab


@dataclass
class _Item:
    """A product the shopper names, with the wanted options and quantity."""

    mention: str
    quantity: int = 1
    options: dict[str, str] = field(default_factory=dict)
    view: dict[str, Any] | None = None
    variant: dict[str, Any] | None = None


class _Naming(_Conversation):
    """Finding the products a text names."""

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
            words = " ".join(re.findall(r"[A-Za-z0-9]+", chunk)[:self.style.query_words])
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
