"""Titles and descriptions of generated products, written like a real shop's listings.

A title is ``Brand Series Model [Edition] [Feature] Noun``; the series and model come from a
bijection of the product index, so titles are distinctive enough for keyword search.
"""

from __future__ import annotations

import random
import re
from collections.abc import Callable
from typing import Any

from mcp_shop.catalog.specs import AttrSpec, Leaf
from mcp_shop.catalog.taxonomy import THEME_WORDS, LeafInfo
from mcp_shop.catalog.vocab import TECH_LINES

__all__ = ["Phrases", "article", "describe", "display", "make_title", "phrase_builder",
           "title_features", "with_article"]

_UPPER = re.compile(r"^(\d+k|ipx\d|ips|va|oled|aps_c|tpe|pvc|usb)$")
_NAMES = {"aps_c": "APS-C", "one_inch": "1-inch", "micro_four_thirds": "Micro Four Thirds",
          "dinosaurs": "dinosaur", "animals": "animal", "robots": "robot", "vehicles": "vehicle",
          "three_season": "three-season", "four_season": "four-season",
          "rosemary_mint": "rosemary mint", "v_neck": "V-neck", "no_show": "no-show",
          "knee_high": "knee-high", "full_size": "full-size", "slip_on": "slip-on",
          "all_season": "all-season", "extra_warm": "extra-warm", "faux_fur": "faux fur",
          "vitamin_c": "vitamin C", "german_steel": "German steel",
          "japanese_steel": "Japanese steel", "over_ear": "over-ear", "on_ear": "on-ear",
          "full_frame": "full-frame", "sour_cream_onion": "sour cream & onion",
          "cotton_blend": "cotton-blend", "eau_de_toilette": "eau de toilette",
          "eau_de_parfum": "eau de parfum"}
_PLACES = {"colombia", "ethiopia", "brazil", "guatemala", "sumatra", "italy", "spain", "greece",
           "california"}
Phrases = Callable[[dict[str, Any]], list[str]]


def display(value: Any) -> str:
    """How an attribute value reads in prose: 'aps_c' -> 'APS-C', 'whole_bean' -> 'whole bean'."""
    if isinstance(value, str):
        if value in _NAMES:
            return _NAMES[value]
        if _UPPER.match(value):
            return value.upper().replace("_", "-")
        if value in _PLACES:
            return value.title()
        return value.replace("_", " ")
    if isinstance(value, float):
        return f"{value:g}"
    return str(value)


_NUMBER = re.compile(r"\d[\d,]*")
_LETTERS = re.compile(r"[A-Za-z]+")
_AN_LETTERS = "aefhilmnorsx"  # letters whose names start with a vowel: "an X", "an LED"
_YOU_SOUND = re.compile(r"(uni(?![nmd])|us[eu]|uti|ur[aeiou]|uk|eu|ewe|one\b|once)", re.I)
_SILENT_H = re.compile(r"(hour|honest|honou?r|heir)", re.I)


def article(word: str) -> str:
    """The indefinite article ("a" or "an") for ``word`` (or the phrase it starts), by its
    first sound, not its first letter: "an ocean", "an 8-inch", "an 18-count", "an 1800 W"
    (eighteen hundred; but "a 1,800": one thousand), "an IPS" (letters read one by one), "an
    hour"; and "a unit", "a one-year", "a USB-C", "a 108 MP". The one place the project picks
    an article."""
    text = word.lstrip(" \"'(")
    number = _NUMBER.match(text)
    if number:
        digits = number.group().replace(",", "")
        value = int(digits)
        if 1100 <= value <= 1999 and number.group() == digits:  # "eighteen hundred"
            lead = value // 100
        else:  # read by thousands: eight hundred, eleven thousand
            lead = int(digits[:len(digits) % 3 or 3])
        return "an" if str(lead).startswith("8") or lead in (11, 18) else "a"
    letters = _LETTERS.match(text)
    if not letters:
        return "a"
    token = letters.group()
    if token.isupper() and (len(token) > 1 or text[1:2] in ("", "-")):  # IPS, X-ray, V-neck
        return "an" if token[0].lower() in _AN_LETTERS else "a"
    if token[0].lower() in "aeiou":
        return "a" if _YOU_SOUND.match(token) else "an"
    return "an" if _SILENT_H.match(token) else "a"


def with_article(phrase: str) -> str:
    """``phrase`` after its indefinite article: "an ocean gift", "a 12-year-old"."""
    return f"{article(phrase)} {phrase}"


def _article(text: str) -> str:
    """A phrase written "a ..." with the article ``article`` picks: 'a IPS panel' -> 'an IPS
    panel'."""
    if text.startswith("a ") and len(text) > 2:
        return with_article(text[2:])
    return text


def _phrase(spec: AttrSpec, value: Any) -> str | None:
    """The description phrase of ``spec`` taking ``value`` (None: not worth mentioning)."""
    if spec.pair:
        low, high = value
        return f"ages {low} and up" if high >= 99 else f"an age range of {low} to {high} years"
    if spec.type == "bool":
        text = spec.phrase if value else spec.phrase_no
        return text if isinstance(text, str) and text else None
    if isinstance(spec.phrase, dict):
        return spec.phrase.get(value)
    if value == "none":
        return None
    if not spec.phrase:
        return None
    return _article(spec.phrase.format(v=display(value)))


def phrase_builder(leaf: Leaf) -> Phrases:
    """The function listing the attribute phrases of a product of ``leaf``, in spec order.

    Every phrase is computed once per attribute value (the values are finite), so listing a
    product's phrases is a few dictionary lookups.
    """
    parts = []
    for spec in leaf.attrs:
        values = (True, False) if spec.type == "bool" else spec.choices
        table = {v: _phrase(spec, v) for v in values}
        parts.append((spec.name, spec.pair, spec.requires, table))

    def phrases(attrs: dict[str, Any]) -> list[str]:
        out = []
        for name, pair, requires, table in parts:
            if requires is not None and not attrs[requires]:
                continue
            phrase = table[(attrs[name], attrs[pair])] if pair else table[attrs[name]]
            if phrase:
                out.append(phrase)
        return out

    return phrases


def title_features(leaf: Leaf) -> Callable[[dict[str, Any]], list[str]]:
    """The function listing the title words a product's attributes call for."""
    checks = [(s.name, s.title if isinstance(s.title, dict) else {True: s.title})
              for s in leaf.attrs if s.title]

    def features(attrs: dict[str, Any]) -> list[str]:
        out = []
        for name, table in checks:
            word = table.get(attrs[name])
            if word:
                out.append(word)
        return out

    return features


def make_title(rng: random.Random, info: LeafInfo, brand: str, series: str, model: str,
               attrs: dict[str, Any], features: list[str], noun: str) -> str:
    """``Brand Series Model [Edition] [Theme/Feature] Noun``."""
    words = [brand, series, model]
    if info.leaf.style == "code" and rng.random() < 0.5:
        words.append(TECH_LINES[int(rng.random() * len(TECH_LINES))])
    theme = attrs.get("theme")
    if theme is not None:
        choices = THEME_WORDS[theme]
        words.append(choices[int(rng.random() * len(choices))])
    elif features and rng.random() < 0.7:
        words.append(features[int(rng.random() * len(features))])
    words.append(noun)
    return " ".join(words)


def _offers(noun: str, phrases: list[str]) -> str:
    """' These running shoes offer a, b and c.' (empty without phrases)."""
    if not phrases:
        return ""
    listed = phrases[0] if len(phrases) == 1 else ", ".join(phrases[:-1]) + " and " + phrases[-1]
    noun = " ".join(w if len(w) > 1 and w.isupper() else w.lower() for w in noun.split())
    if noun.endswith("s"):
        return f" These {noun} offer {listed}."
    return f" This {noun} offers {listed}."


def describe(rng: random.Random, info: LeafInfo, brand: str, series: str, model: str,
             noun: str, phrases: list[str]) -> str:
    """A 2-3 sentence description (about 150-300 characters) naming the key attributes."""
    leaf, dept = info.leaf, info.department
    lead = leaf.lead[int(rng.random() * len(leaf.lead))] if leaf.lead else "is made to last"
    first = f"The {series} {model} by {brand} {lead}."
    if len(phrases) > 3:
        phrases = phrases[:2] + [phrases[2 + int(rng.random() * (len(phrases) - 2))]]
    second = _offers(noun, phrases)
    pool = leaf.blurbs + dept.blurbs
    third = " " + pool[int(rng.random() * len(pool))]
    text = first + second + third
    if len(text) > 300:
        text = first + second
        if len(text) > 300:
            text = first + _offers(noun, phrases[:2])
    elif len(text) < 150:
        extra = dept.blurbs[int(rng.random() * len(dept.blurbs))]
        if extra not in text:
            text += " " + extra
    return text
