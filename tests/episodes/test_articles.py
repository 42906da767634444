"""The indefinite article: ``article`` picks "a" or "an" by sound, and every phrase builder
that writes "a <word>" (catalog descriptions, shopper phrases, gift labels, task descriptions,
policy answers) goes through it. The vocabulary test walks every generated word that can
follow an article and checks it against expectations written out here by hand."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pytest

from episodes.families.phrases import attr_phrase, leaf_singular, option_phrase
from episodes.families.vocabulary import generated_leaves
from mcp_shop.catalog import text
from mcp_shop.catalog.data_play import THEMES
from mcp_shop.catalog.taxonomy import leaves
from mcp_shop.catalog.text import article, with_article
from mcp_shop.policies import DEFAULT_POLICIES

# Words that need more than their first letter: numbers (read aloud), u/e/o words that sound
# "you"/"won", a silent h, letters read one by one. Every such word the vocabulary produces
# must be listed here, so a new one is checked by a person before it ships.
BY_HAND: dict[str, str] = {
    # numbers (a word starting with one is looked up by it: "8-inch" as "8"), said aloud
    "8": "an", "11": "an", "18": "an", "80": "an", "800": "an",
    "1800": "an", "1875": "an",  # eighteen hundred (and seventy-five)
    "108": "a",  # one hundred eight
    "1": "a", "2": "a", "3": "a", "4": "a", "5": "a", "6": "a", "7": "a", "9": "a",
    "10": "a", "12": "a", "13": "a", "14": "a", "15": "a", "16": "a", "20": "a", "22": "a",
    "23": "a", "24": "a", "25": "a", "26": "a", "27": "a", "28": "a", "30": "a", "32": "a",
    "34": "a", "35": "a", "40": "a", "41": "a", "42": "a", "44": "a", "45": "a", "46": "a",
    "48": "a", "50": "a", "58": "a", "60": "a", "64": "a", "70": "a", "72": "a", "75": "a",
    "100": "a", "120": "a", "144": "a", "150": "a", "165": "a", "200": "a", "240": "a",
    "250": "a", "256": "a", "300": "a", "400": "a", "500": "a", "512": "a", "600": "a",
    "750": "a", "900": "a", "1000": "a", "1024": "a", "1200": "a", "1500": "a", "1600": "a",
    "2000": "a", "2048": "a", "4000": "a", "4500": "a", "5000": "a", "5500": "a",
    "13.3": "a", "14.0": "a", "15.6": "a", "16.0": "a", "17.3": "a", "6.1": "a", "6.3": "a",
    "6.5": "a", "6.7": "a", "6.8": "a", "1.1": "a", "1.2": "a", "1.3": "a", "1.4": "a",
    "1.6": "a", "1.8": "a", "2.1": "a", "2.5": "a",
    "11,000": "an", "1,100": "a", "0": "a", "-20": "a", "-25": "a", "-40": "a",  # minus
    # u, e and o words
    "eucalyptus": "a", "one-year": "a", "unit": "a", "umbrella": "an", "ultra": "an",
    "upper": "an", "utility": "a", "unscented": "an",
    # h words and letters read out
    "hour": "an", "hose": "a", "hair": "a", "hat": "a", "heat": "a", "heel-to-toe": "a",
    "height": "a", "hex": "a", "high": "a", "high-cut": "a", "hoodie": "a", "hybrid": "a",
    "hydration": "a", "USB-C": "a", "IPS": "an", "OLED": "an", "LED": "an",
    "APS-C": "an", "V-neck": "a", "X-ray": "an", "VA": "a",
}
_NUMBER = re.compile(r"\d[\d,]*(\.\d+)?")


def _plain(word: str) -> str | None:
    """The article of a word whose first letter settles it (None: it needs ``BY_HAND``)."""
    letters = re.match(r"[A-Za-z]+", word)
    if letters is None or (letters.group().isupper() and (
            len(letters.group()) > 1 or word[1:2] in ("", "-"))):
        return None  # a number, or letters read one by one
    low = word.lower()
    if low[0] in "uh" or low.startswith(("eu", "ewe", "one")):
        return None
    return "an" if low[0] in "aeio" else "a"


def expected(word: str) -> str:
    key = word.rstrip(".,;:")
    number = _NUMBER.match(key)
    if number:  # "8-inch", "15%": by the number
        key = number.group()
    if key in BY_HAND:
        return BY_HAND[key]
    plain = _plain(key)
    assert plain is not None, f"{key!r} needs a hand-written article in BY_HAND"
    return plain


@pytest.mark.parametrize(("word", "want"), sorted(BY_HAND.items()))
def test_article_by_hand(word: str, want: str) -> None:
    assert article(word) == want, word


def test_with_article_keeps_the_phrase() -> None:
    assert with_article("ocean gift") == "an ocean gift"
    assert with_article("animals gift") == "an animals gift"
    assert with_article("12-year-old") == "a 12-year-old"
    assert with_article("11,000 mAh battery") == "an 11,000 mAh battery"
    assert with_article("8% restocking fee") == "an 8% restocking fee"


_ARTICLE = re.compile(r"\b(a|an|A|An) (\S+)")


def _pairs(text: str) -> Iterator[tuple[str, str]]:
    for m in _ARTICLE.finditer(text):
        yield m.group(1).lower(), m.group(2)


def _generated_phrases() -> Iterator[tuple[str, str]]:
    """(where, phrase) for every phrase the builders make over the whole vocabulary."""
    vocab = {leaf.slug: leaf for leaf in generated_leaves()}
    for info in leaves():
        slug = f"{info.department.slug}/{info.group.slug}/{info.leaf.slug}"
        leaf = vocab[slug]
        yield slug, leaf_singular(leaf)
        for spec in info.leaf.attrs:
            values: list[Any] = [True, False] if spec.type == "bool" else [
                v for v in (*spec.values, *spec.choices) if v != "none"]
            for value in values:
                if spec.pair:
                    continue
                yield f"{slug}.{spec.name}", attr_phrase(leaf.attr(spec.name), spec.name,
                                                         value)
                if spec.type in ("int", "float"):
                    yield f"{slug}.{spec.name}>=", attr_phrase(leaf.attr(spec.name), spec.name,
                                                               value, at_least=True)
                described = text._phrase(spec, value)  # a product description's phrase
                if described:
                    yield f"{slug}.{spec.name} (description)", described
        for option in info.leaf.options:
            for value in option.values:
                yield f"{slug}.{option.name}", option_phrase(option.name, value)


def test_every_generated_phrase_has_the_right_article() -> None:
    checked = 0
    wrong = []
    for where, phrase in _generated_phrases():
        for art, word in _pairs(phrase):
            checked += 1
            if art != expected(word):
                wrong.append(f"{where}: {phrase!r}")
    assert checked > 500  # the walk reached the catalog's phrases
    assert not wrong, "\n".join(wrong[:20])


def test_gift_labels_ages_and_policy_numbers(ep_shop: Any) -> None:
    """The bundle family's gift label and description over every theme and age, and the
    policy family's fee and warranty answers, take the article of their word."""
    from episodes.generate import generate_task

    themes_seen: set[str] = set()
    for seed in range(60):
        task = generate_task(ep_shop, "bundle", 1, seed)
        for said in [task.description, *(i.label for n in task.intents for i in n.items)]:
            for art, word in _pairs(said):
                assert art == expected(word), said
            themes_seen.update(t for t in THEMES if t.replace("_", " ") in said)
    assert {"ocean", "animals"} <= themes_seen  # the themes that start with a vowel
    for rule in DEFAULT_POLICIES.return_rules:
        pct = rule.restocking_fee_percent
        if pct:
            assert with_article(f"{pct}%") == f"{expected(f'{pct}%')} {pct}%"
    for age in range(2, 13):
        assert with_article(f"{age}-year-old") == f"{expected(f'{age}-year-old')} {age}-year-old"
