"""Catalog data of the Home & Kitchen and Garden & Outdoor departments."""

from __future__ import annotations

from mcp_shop.catalog.specs import Department, Group, Leaf, words
from mcp_shop.catalog.specs import boolean as b
from mcp_shop.catalog.specs import enum as e
from mcp_shop.catalog.specs import integer as i
from mcp_shop.catalog.specs import option as o
from mcp_shop.catalog.specs import when as w

__all__ = ["GARDEN", "HOME"]

_HOME_COLORS = ("white", "black", "gray", "cream", "navy", "sage", "sand", "slate", "ivory",
                "charcoal", "blue", "blush")
_BED = ("twin", "full", "queen", "king", "california king")
_FUEL = {"gas": "propane gas power", "charcoal": "classic charcoal cooking",
         "pellet": "wood-pellet smoking", "electric": "plug-in electric heat"}
_BED_UP = {"full": 1.15, "queen": 1.3, "king": 1.45, "california king": 1.5}

COOKWARE = Leaf(
    "cookware", "Cookware", ("Skillet", "Frying Pan"), 45, 0.55, weight=1.0,
    style="pantry",
    attrs=(e("material", "Material", ("cast_iron", "stainless_steel", "nonstick_aluminum",
                                      "carbon_steel", "copper"), "{v} construction",
             price={"copper": 2.2, "stainless_steel": 1.3}),
           i("diameter_in", "Diameter", (8, 10, 12), "a {v}-inch cooking surface", unit="in"),
           i("oven_safe_f", "Oven safe to", (350, 400, 450, 500, 600), "oven safe to {v} F",
             unit="F"),
           b("induction_ready", "Induction compatible", 0.6, "induction compatibility"),
           b("dishwasher_safe", "Dishwasher safe", 0.4, "dishwasher-safe construction")),
    lead=("heats evenly for a perfect sear",),
    blurbs=("A stay-cool handle makes it easy to maneuver.",),
)

KNIVES = Leaf(
    "knives", "Kitchen Knives", ("Chef Knife", "Kitchen Knife"), 50, 0.6,
    weight=0.7, style="pantry",
    attrs=(e("blade_steel", "Blade steel", ("german_steel", "japanese_steel", "damascus",
                                            "ceramic"), "a {v} blade",
             price={"damascus": 2.0}),
           i("blade_in", "Blade length", (6, 7, 8, 10), "a {v}-inch blade", unit="in"),
           e("handle", "Handle", ("wood", "pakkawood", "polymer", "steel"), "a {v} handle")),
    lead=("glides through vegetables, meat and bread",),
    blurbs=("Hand-sharpened to a razor edge.",),
)

COFFEE_MAKERS = Leaf(
    "coffee-makers", "Coffee Makers", ("Coffee Maker", w("Drip Coffee Maker", brew_type="drip"),
                                       w("Espresso Machine", brew_type="espresso")),
    80, 0.6, weight=0.8, style="code",
    attrs=(e("brew_type", "Brew type", ("drip", "single_serve", "espresso", "pour_over",
                                        "cold_brew"), "{v} brewing",
             price={"espresso": 2.5}),
           i("capacity_cups", "Capacity", (1, 4, 5, 8, 10, 12, 14), "a {v}-cup capacity",
             unit="cups"),
           b("programmable", "Programmable", 0.5, "a programmable 24-hour timer",
             title="Programmable"),
           b("built_in_grinder", "Built-in grinder", 0.2, "a built-in burr grinder",
             price=1.6)),
    options=(o("color", ("black", "stainless", "white", "red"), (1, 2)),),
    lead=("brews a hot, full-flavored cup every morning",),
    blurbs=("The warming plate shuts off automatically after two hours.",),
)

BLENDERS = Leaf(
    "blenders", "Blenders", ("Blender", "Countertop Blender", "Personal Blender"), 70, 0.6,
    weight=0.6, style="code",
    attrs=(i("wattage", "Power", (300, 600, 900, 1200, 1500), "a {v} W motor", unit="W",
             price={1200: 1.5, 1500: 2.0}),
           i("jar_oz", "Jar capacity", (20, 48, 64, 72), "a {v} oz jar", unit="oz"),
           i("speeds", "Speeds", (3, 5, 10), "{v} speeds"),
           b("crushes_ice", "Crushes ice", 0.7, "blades that crush ice in seconds")),
    options=(o("color", ("black", "white", "silver", "red"), (1, 2)),),
    lead=("whips up smoothies, soups and sauces",),
    blurbs=("The jar and blades are dishwasher safe.",),
)

SHEETS = Leaf(
    "sheet-sets", "Sheet Sets", ("Sheet Set", "Bed Sheets"), 55, 0.45, weight=0.9,
    style="pantry",
    attrs=(e("material", "Material", ("cotton_percale", "cotton_sateen", "linen", "microfiber",
                                      "bamboo_viscose"), "{v} fabric",
             price={"linen": 1.8, "microfiber": 0.6}),
           i("thread_count", "Thread count", (200, 300, 400, 600, 800), "a {v} thread count",
             price={600: 1.3, 800: 1.5}),
           i("pocket_depth_in", "Pocket depth", (12, 15, 16, 18), "{v}-inch deep pockets",
             unit="in")),
    options=(o("size", _BED, (3, 5), run=True, upcharge=_BED_UP), o("color", _HOME_COLORS, (1, 4))),
    lead=("feels cool and crisp night after night",),
    blurbs=("Set includes a flat sheet, fitted sheet and two pillowcases.",),
)

PILLOWS = Leaf(
    "pillows", "Pillows", ("Pillow", "Bed Pillow"), 35, 0.5, weight=0.7, style="pantry",
    attrs=(e("fill", "Fill", ("down", "down_alternative", "memory_foam", "shredded_latex"),
             "{v} fill", price={"down": 1.6}),
           e("firmness", "Firmness", ("soft", "medium", "firm"), "{v} support"),
           i("pack_count", "Pillows per pack", (1, 2),
             {1: "a single pillow", 2: "a set of two pillows"}, price={2: 1.8}),
           b("cooling_cover", "Cooling cover", 0.4, "a cooling cover")),
    options=(o("size", ("standard", "queen", "king"), (1, 3), run=True,
               upcharge={"queen": 1.1, "king": 1.2}),),
    lead=("cradles your head and neck",),
    blurbs=("The zippered cover is machine washable.",),
)

COMFORTERS = Leaf(
    "comforters", "Comforters", ("Comforter", "Duvet Insert"), 90, 0.5, weight=0.6,
    style="pantry",
    attrs=(e("fill", "Fill", ("down", "down_alternative", "wool"), "{v} fill",
             price={"down": 1.8}),
           e("warmth", "Warmth", ("lightweight", "all_season", "extra_warm"), "{v} warmth"),
           b("corner_tabs", "Corner tabs", 0.7, "corner tabs to hold a duvet cover")),
    options=(o("size", _BED, (3, 4), run=True, upcharge=_BED_UP),
             o("color", ("white", "gray", "ivory", "navy", "sage"), (1, 2))),
    lead=("wraps you in lofty, breathable warmth",),
    blurbs=("Baffle-box stitching keeps the fill evenly spread.",),
)

LAMPS = Leaf(
    "lamps", "Lamps", ("Lamp", w("Table Lamp", lamp_type="table"),
                       w("Floor Lamp", lamp_type="floor"), w("Desk Lamp", lamp_type="desk")),
    50, 0.55, weight=0.8,
    style="pantry",
    attrs=(e("lamp_type", "Type", ("table", "floor", "desk"), "a {v} lamp design"),
           b("dimmable", "Dimmable", 0.5, "a dimmer switch", title="Dimmable"),
           b("usb_port", "USB port", 0.3, "a built-in USB charging port"),
           i("height_in", "Height", (14, 18, 22, 26, 58, 64, 70), "a {v}-inch height",
             unit="in")),
    options=(o("color", ("black", "white", "brass", "brushed nickel", "natural"), (1, 3)),),
    lead=("adds a warm glow to any room",),
    blurbs=("Bulb not included; uses a standard E26 LED bulb.",),
)

HOME = Department(
    "home", "Home & Kitchen",
    brands=words(
        "Hearthly Copperleaf Nestmoor Ovenmere Linenry Brewmere Cozyloft Dwellwise Emberlane "
        "Featherfield Grainwood Homesteady Ironkettle Juniperow Kitchenwise Loftline Mantelmoor "
        "Nookery Oakhearth Pillowmoor Quiltworth Roomwell Stonemoor Tablecraft"
    ),
    groups=(
        Group("kitchen", "Kitchen", (COOKWARE, KNIVES, COFFEE_MAKERS, BLENDERS)),
        Group("bedding", "Bedding", (SHEETS, PILLOWS, COMFORTERS)),
        Group("lighting", "Lighting", (LAMPS,)),
    ),
    blurbs=("Backed by a 100-night satisfaction guarantee.",
            "Thoughtfully designed for everyday use.", "Ships in plastic-free packaging."),
)

PLANTERS = Leaf(
    "planters", "Planters", ("Planter", "Plant Pot"), 25, 0.55, weight=0.8,
    attrs=(e("material", "Material", ("ceramic", "terracotta", "plastic", "metal", "wood",
                                      "concrete"), "{v} construction"),
           i("diameter_in", "Diameter", (4, 6, 8, 10, 12, 16, 20), "a {v}-inch opening",
             unit="in", price={12: 1.5, 16: 2.0, 20: 2.8}),
           b("drainage_hole", "Drainage hole", 0.7, "a drainage hole with plug"),
           b("self_watering", "Self-watering", 0.2, "a self-watering reservoir",
             title="Self Watering")),
    options=(o("color", ("white", "black", "terracotta", "sage", "slate", "cream"), (1, 3)),),
    lead=("gives your plants a stylish home",),
    blurbs=("Works indoors and on the patio.",),
)

PRUNERS = Leaf(
    "pruners", "Pruners & Shears", ("Pruners", "Pruning Shears", "Loppers"), 20, 0.5,
    weight=0.6,
    attrs=(e("blade_type", "Blade", ("bypass", "anvil", "ratchet"), "a {v} blade"),
           i("max_cut_mm", "Cutting capacity", (15, 20, 25, 35, 50), "a {v} mm cutting capacity",
             unit="mm"),
           b("ergonomic_grip", "Ergonomic grip", 0.6, "cushioned ergonomic grips")),
    lead=("makes clean cuts that help plants heal",),
    blurbs=("A safety lock keeps the blades closed in storage.",),
)

HOSES = Leaf(
    "garden-hoses", "Garden Hoses", ("Garden Hose", w("Expandable Hose", expandable=True)), 35,
    0.5, weight=0.6,
    attrs=(e("hose_material", "Material", ("rubber", "vinyl", "hybrid_polymer", "latex_core"),
             "a {v} hose"),
           b("expandable", "Expandable", 0.35, "an expandable design"),
           b("kink_free", "Kink free", 0.6, "a kink-free design"),
           i("spray_patterns", "Spray patterns", (3, 7, 9, 10), "a {v}-pattern spray nozzle")),
    options=(o("length", ("25 ft", "50 ft", "75 ft", "100 ft"), (1, 3), run=True,
               upcharge={"50 ft": 1.4, "75 ft": 1.8, "100 ft": 2.2}),),
    lead=("reaches every corner of the yard",),
    blurbs=("Crush-proof brass fittings resist leaks.",),
)

GRILLS = Leaf(
    "grills", "Grills", ("Grill", w("Gas Grill", fuel="gas"), w("Charcoal Grill", fuel="charcoal"),
                         w("Pellet Smoker", fuel="pellet")), 350, 0.6, weight=0.6,
    style="code",
    attrs=(e("fuel", "Fuel", ("gas", "charcoal", "pellet", "electric"), _FUEL,
             price={"pellet": 1.8, "charcoal": 0.6}),
           i("burners", "Burners", (0, 2, 3, 4, 5)),
           i("cooking_area_sq_in", "Cooking area", (240, 360, 450, 550, 650, 800),
             "{v} sq in of cooking space", unit="sq in", price={650: 1.3, 800: 1.6}),
           b("side_burner", "Side burner", 0.3, "a side burner")),
    lead=("makes backyard cookouts easy",),
    blurbs=("Porcelain-coated grates clean up quickly.",),
)

STRING_LIGHTS = Leaf(
    "string-lights", "Outdoor String Lights", ("String Lights", "Patio Lights"), 28, 0.5,
    weight=0.6,
    attrs=(i("length_ft", "Length", (24, 48, 96), "{v} ft of lights", unit="ft",
             price={48: 1.6, 96: 2.6}),
           b("solar", "Solar powered", 0.35, "a solar panel that charges by day", title="Solar"),
           i("bulb_count", "Bulbs", (12, 15, 25, 30, 50), "{v} shatterproof bulbs"),
           b("dimmable", "Dimmable", 0.4, "a dimmer remote")),
    lead=("turns any patio into an evening retreat",),
    blurbs=("Weatherproof for year-round outdoor use.",),
)

GARDEN = Department(
    "garden", "Garden & Outdoor",
    brands=words(
        "Greenmoss Sproutwell Rootwise Bloomacre Terracova Gardencraft Hedgewise Ivywood Loamly "
        "Mulchmore Oakbough Petalpath Quillfern Rakewell Shedworks Thornwick Vinewise Wildacre "
        "Yardly Flamecraft Emberforge Charwell Smokewood Lanternly"
    ),
    groups=(
        Group("gardening", "Gardening", (PLANTERS, PRUNERS, HOSES)),
        Group("outdoor-living", "Outdoor Living", (GRILLS, STRING_LIGHTS)),
    ),
    blurbs=("Built to handle sun, rain and frost.", "Backed by a three-year warranty.",
            "Easy assembly with the included tools."),
)
