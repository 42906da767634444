"""Word lists the generator names products with: series words, model codes, line names, colors.

Every product gets a series word and a model name from a keyed bijection of its index, so that
two products never share both (see :func:`mcp_shop.catalog.generator.design_index`).
"""

from __future__ import annotations

import random

from mcp_shop.catalog.specs import words

__all__ = [
    "APPAREL_SIZES",
    "CODES",
    "COLOR_CODES",
    "KIDS_LINES",
    "LINES",
    "MODEL_SPACE",
    "NUMBERS",
    "PANTRY_LINES",
    "SERIES",
    "SHOE_SIZES",
    "TECH_LINES",
    "model_name",
]

_FIRST = words(
    "Al Am An Ar Av Bal Bel Bor Cal Cas Cor Dal Dar Del Dor El Em Er Ev Fal Fen Fer Gal Hal Hel "
    "Il Ir Jas Kal Kel Kor Lan Lor Lum Lyr Mal Mar Mer Mir Nal Nel Nor Nov Ol Or Pal Per Quin Ral "
    "Rin Ros Sal Sel Sol Sor Tal Tel Tor Ul Val Van Vel Ver Vor Zan Zel Ad As Dev Jor Kar Tam Bren "
    "Cael Dun Hav Lev Nev Riv Tav Yar Zor"
)
_END = words(
    "a ae an ara as en era ero es et ia ic ika in ina io ion is ix o on ora os yn ys ea eo iel da "
    "do ra ro ta te to va vo na no ni ri sa ti lo la ka ko ven vin dra dris ria rix tan ten tis zo"
)
# Real words, names and brands the syllables happen to spell.
_BLOCK = frozenset(words(
    "doris maria korea avon fenix lumen lumina kalvin darla alix boric aron ervin marin malin "
    "sales anion torta amon corina valor kalin calvin delta altra avia sorel elan casio lumix "
    "lumia mario elsa orion nova aria solo alto anna bella cora elia marion dora delia oreo vera "
    "vero lara lana dara mara nora sara tara vela alia ares aron arlo eros iris isis rosa rosen "
    "sola tora toro venus verve zara zeno hero cyan peso alan alas aras aren arin asia cora coral "
    "coren corin dalia darin daren doro eden elena elvin emma erin eric evan evita galen helen "
    "helena irena kara karen karin karina kelvin lorena malia marco maren mari mario marina "
    "marino maris melo mera mira nala nelson nero nevada olin orca palo pera pero rina riva "
    "rosie salon salsa selena seldon sora sorin taman tamara tamra telos tora toran toren tori "
    "tores ulva vale valera valeria vana vanda vanna velo vera verda vero yara zeta zora zorro "
    "delio sorta torso talon arista alvin calico tavern travis levin levis revlon riven rival "
    "hava havana jordan jorda kari lumera"
))


def _join(first: str, end: str) -> str:
    return first + end[1:] if first[-1] == end[0] else first + end


def _series_words() -> tuple[str, ...]:
    words = {_join(f, e) for f in _FIRST for e in _END}
    keep = sorted(w for w in words if w.lower() not in _BLOCK and len(w) >= 4)
    random.Random("mcp-shop-series").shuffle(keep)
    return tuple(keep[:4096])


SERIES: tuple[str, ...] = _series_words()
"""4096 invented series words ('Vanta', 'Korrin', ...)."""

_LETTERS = "ACEGHJKLMNPRSTVX"
_CODE_NUMBERS = (
    list(range(1, 100)) + list(range(100, 1000, 10)) + list(range(1000, 10000, 100))[:67]
)
CODES: tuple[str, ...] = tuple(f"{c}{n}" for n in _CODE_NUMBERS for c in _LETTERS)
"""4096 model codes of tech products ('Q7', 'X240', 'S1200')."""

NUMBERS: tuple[int, ...] = (
    1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 14, 15, 16, 18, 20, 21, 22, 24, 25, 26, 28, 30, 32,
    33, 35, 36, 38, 40, 42, 44, 45, 48, 50, 52, 55, 58, 60, 64, 65, 68, 70, 72, 75, 77, 80, 84,
    85, 88, 90, 95, 99, 100, 110, 120, 150, 200, 220, 250, 300, 360, 400, 500,
)
"""64 model numbers of 'line' products ('Glide 12')."""

LINES: tuple[str, ...] = words(
    "Glide Ridge Tempo Summit Drift Flow Apex Terra Harbor Horizon Stride Breeze Comet Dune Ember "
    "Falcon Fjord Flare Forge Frost Gale Grove Haven Hawk Journey Lark Ledge Lumen Mesa Meteor "
    "Orbit Peak Prairie Rally Sable Scout Storm Surge Timber Voyage Zephyr Atlas Boulder Cinder "
    "Coast Nomad Alpine Aspen Basin Bluff Cove Heron Kestrel Lagoon Marlin Pinnacle Quarry Raven "
    "Solstice Tundra Vale Willow Glacier Cirrus"
)
"""64 line names of apparel, footwear, sports and garden products."""

TECH_LINES: tuple[str, ...] = words(
    "Pro Max Air Lite Plus Mini Studio Go Ultra Neo Prime Edge Core Flex Sport Elite Fusion "
    "Pulse Wave Vision Arc Aero Spark Volt Nexus Zen Quantum Orbit"
)
"""Tech edition words ('Pro', 'Studio'), one drawn per tech title."""

KIDS_LINES: tuple[str, ...] = words(
    "Explorer Adventure Discovery Buddy Pals Wonder Jumbo Junior Deluxe Super Mega Mini Starter "
    "Builder Creator Champion Dreamer Sprout Sparkle Legends Magic Marble Pathfinder Quest Rovers "
    "Rescue Squad Stars Tiny Treasure Twinkle Whiz Wiggle Zoom Academy Arcade Camp Castle Club "
    "Crew Expedition Factory Fortress Garage Hideout Island Jungle Kingdom Lab Lagoon Market "
    "Mountain Outpost Palace Park Playhouse Raceway Safari Station Studio Tower Valley Village "
    "Workshop"
)
"""64 line names of toys ('Explorer 12')."""

PANTRY_LINES: tuple[str, ...] = words(
    "Classic Reserve Select Heritage Signature Everyday Estate Artisan Harvest Orchard Meadow "
    "Hearth Cottage Farmhouse Homestead Larder Arbor Golden Original Simple Pure Daily Gentle "
    "Radiant Velvet Ember Bloom Dew Glow Luxe Botanic Wild Juniper Cedar Birch Maple Clover Fern "
    "Sage Hazel Aster Dahlia Iris Wren Hollow Brook Pearl Glen Indigo Saffron Thistle Heath "
    "Briar Sorrel Thyme Basil Rosemary Fennel Lotus Poppy Marigold Primrose Camellia Laurel"
)
"""64 line names of home, beauty, grocery and pet products ('Heritage 12')."""

SHOE_SIZES: tuple[str, ...] = (
    "5", "5.5", "6", "6.5", "7", "7.5", "8", "8.5", "9", "9.5", "10", "10.5", "11", "11.5", "12",
    "12.5", "13", "14",
)
APPAREL_SIZES: tuple[str, ...] = ("XS", "S", "M", "L", "XL", "XXL")

COLOR_CODES: dict[str, str] = {
    "black": "BLK", "white": "WHT", "gray": "GRY", "charcoal": "CHR", "navy": "NVY",
    "blue": "BLU", "sky blue": "SKY", "red": "RED", "burgundy": "BRG", "green": "GRN",
    "olive": "OLV", "forest green": "FGR", "beige": "BGE", "tan": "TAN", "brown": "BRN",
    "pink": "PNK", "purple": "PRP", "silver": "SLV", "gold": "GLD", "rose gold": "RGD",
    "orange": "ORG", "yellow": "YLW", "teal": "TEL", "cream": "CRM", "coral": "CRL",
    "graphite": "GPH", "midnight": "MDN", "sand": "SND", "slate": "SLT", "ivory": "IVR",
    "multicolor": "MLT", "natural": "NAT", "mint": "MNT", "lavender": "LAV",
}
"""Every color option value and its SKU code."""

MODEL_SPACE = 4096
"""Number of distinct model names per series word."""


def model_name(style: str, m: int) -> str:
    """The model part of a title for model index ``m`` (0..4095) in ``style``.

    Distinct ``m`` give distinct names in every style, so (series, model) is unique.
    """
    if style == "code":
        return CODES[m]
    lines = {"line": LINES, "kids": KIDS_LINES, "pantry": PANTRY_LINES}[style]
    return f"{lines[m & 63]} {NUMBERS[m >> 6]}"
