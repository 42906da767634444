"""Catalog data of the Shoes and Clothing departments (sized and colored variants)."""

from __future__ import annotations

from mcp_shop.catalog.specs import AttrSpec, Department, Group, Leaf, OptionSpec, words
from mcp_shop.catalog.specs import boolean as b
from mcp_shop.catalog.specs import enum as e
from mcp_shop.catalog.specs import integer as i
from mcp_shop.catalog.specs import option as o
from mcp_shop.catalog.specs import when as w
from mcp_shop.catalog.vocab import APPAREL_SIZES, SHOE_SIZES

__all__ = ["CLOTHING", "SHOES"]

_GENDER = {"men": "men's sizing", "women": "women's sizing", "unisex": "unisex sizing"}
_SHOE_COLORS = ("black", "white", "gray", "navy", "blue", "red", "olive", "tan", "brown",
                "charcoal", "sand", "coral", "teal", "pink")
_CLOTH_COLORS = ("black", "white", "gray", "charcoal", "navy", "blue", "sky blue", "red",
                 "burgundy", "green", "olive", "forest green", "beige", "cream", "pink",
                 "purple", "lavender", "mint", "yellow", "orange", "brown")


def _gender(weights: tuple[float, ...] = (4, 4, 1)) -> AttrSpec:
    return e("gender", "Gender", ("men", "women", "unisex"), _GENDER, weights=weights)


def _shoe_options(colors: tuple[int, int] = (1, 2), wide: float = 0.3
                  ) -> tuple[OptionSpec, ...]:
    return (o("size", SHOE_SIZES, (7, 15), run=True),
            o("width", ("regular", "wide"), (2, 2), p=wide),
            o("color", _SHOE_COLORS, colors))


def _cloth_options(colors: tuple[int, int] = (1, 3)) -> tuple[OptionSpec, ...]:
    return (o("size", APPAREL_SIZES, (4, 6), run=True, upcharge={"XXL": 1.1}),
            o("color", _CLOTH_COLORS, colors))


_UPPER = ("mesh", "knit", "leather", "suede", "synthetic", "canvas")

RUNNING = Leaf(
    "running-shoes", "Running Shoes",
    ("Running Shoes", "Runners", w("Trail Runners", terrain="trail")), 110, 0.35, weight=1.6,
    attrs=(
        _gender(),
        e("terrain", "Terrain", ("road", "trail"), {"road": "grippy road outsoles",
                                                    "trail": "lugged trail outsoles"},
          weights=(3, 2), title={"trail": "Trail"}),
        e("cushioning", "Cushioning", ("light", "moderate", "max"), "{v} cushioning",
          price={"max": 1.15}),
        i("drop_mm", "Heel-to-toe drop", (0, 4, 6, 8, 10, 12), "a {v} mm drop", unit="mm"),
        e("upper_material", "Upper", ("mesh", "knit", "synthetic"), "a breathable {v} upper"),
        b("waterproof", "Waterproof", 0.2, "a waterproof membrane", price=1.15),
    ),
    options=_shoe_options(),
    lead=("is built for daily miles", "keeps your stride light and springy"),
    blurbs=("A reflective heel tab adds visibility on early runs.",),
)

TRAINING = Leaf(
    "training-shoes", "Training Shoes", ("Training Shoes", "Cross Trainers"), 85, 0.35,
    attrs=(
        _gender(),
        e("upper_material", "Upper", ("mesh", "knit", "synthetic"), "a breathable {v} upper"),
        i("drop_mm", "Heel-to-toe drop", (0, 4, 6, 8), "a stable {v} mm drop", unit="mm"),
        b("rope_guard", "Rope guard", 0.4, "a rope-climb guard on the midfoot"),
    ),
    options=_shoe_options(),
    lead=("gives you a stable base for lifts and circuits",),
    blurbs=("A wide forefoot gives toes room to spread.",),
)

SNEAKERS = Leaf(
    "sneakers", "Sneakers", ("Sneakers", "Low Top Sneakers"), 70, 0.4, weight=1.5,
    attrs=(
        _gender((3, 3, 2)),
        e("upper_material", "Upper", ("canvas", "leather", "suede", "knit"), "a {v} upper"),
        e("closure", "Closure", ("laces", "slip_on"), {"laces": "classic laces",
                                                      "slip_on": "an easy slip-on fit"}),
        b("vegan", "Vegan", 0.3, "vegan materials throughout"),
    ),
    options=_shoe_options((1, 4), 0.2),
    lead=("goes with everything in your closet",),
    blurbs=("A padded collar and cushioned insole make them easy to wear all day.",),
)

LOAFERS = Leaf(
    "loafers", "Loafers", ("Loafers", "Penny Loafers"), 90, 0.35, weight=0.6,
    attrs=(_gender((3, 3, 0)),
           e("upper_material", "Upper", ("leather", "suede"), "a soft {v} upper",
             price={"leather": 1.1}),
           b("lined", "Leather lined", 0.6, "a leather lining")),
    options=_shoe_options((1, 3), 0.3),
    lead=("dresses up or down with ease",),
    blurbs=("A hand-stitched moc toe gives them a classic look.",),
)

SLIPPERS = Leaf(
    "slippers", "Slippers", ("Slippers", "House Shoes"), 35, 0.35, weight=0.6,
    attrs=(_gender(),
           e("lining", "Lining", ("fleece", "shearling", "faux_fur"), "a cozy {v} lining"),
           b("indoor_outdoor_sole", "Indoor/outdoor sole", 0.5,
             "a rubber sole for quick trips outside")),
    options=(o("size", SHOE_SIZES, (6, 12), run=True),
             o("color", ("gray", "charcoal", "navy", "tan", "cream", "pink", "brown"), (1, 3))),
    lead=("keeps your feet warm on cold mornings",),
    blurbs=("Memory-foam footbeds mold to your feet.",),
)

HIKING_BOOTS = Leaf(
    "hiking-boots", "Hiking Boots", ("Hiking Boots", "Hikers"), 140, 0.35, weight=1.0,
    attrs=(
        _gender(),
        b("waterproof", "Waterproof", 0.7, "a waterproof breathable membrane",
          title="Waterproof", price=1.2),
        e("shaft_height", "Shaft height", ("low", "mid", "high"), "a {v}-cut collar"),
        e("upper_material", "Upper", ("leather", "suede", "synthetic"), "a rugged {v} upper"),
        b("insulated", "Insulated", 0.2, "light insulation for cold trails", price=1.1),
    ),
    options=_shoe_options(),
    lead=("keeps you sure-footed on rocky trails",),
    blurbs=("A grippy lug outsole bites into mud and loose gravel.",),
)

WINTER_BOOTS = Leaf(
    "winter-boots", "Winter Boots", ("Winter Boots", "Snow Boots"), 120, 0.35, weight=0.7,
    attrs=(_gender(),
           i("temp_rating_f", "Temperature rating", (-40, -25, -20, 0, 10),
             "a {v} F warmth rating", unit="F"),
           b("waterproof", "Waterproof", 0.85, "a seam-sealed waterproof shell"),
           e("shaft_height", "Shaft height", ("mid", "high"), "a {v} shaft")),
    options=_shoe_options((1, 3), 0.3),
    lead=("keeps feet dry and warm in deep snow",),
    blurbs=("Removable felt liners dry quickly overnight.",),
)

SANDALS = Leaf(
    "sandals", "Sandals", ("Sandals", "Slides"), 45, 0.4, weight=1.0,
    attrs=(_gender((3, 4, 2)),
           e("strap_material", "Straps", ("leather", "webbing", "synthetic", "cork"),
             "{v} straps"),
           b("adjustable", "Adjustable straps", 0.6, "adjustable buckles"),
           b("water_friendly", "Water friendly", 0.5, "a quick-drying, water-friendly build",
             title="Water")),
    options=(o("size", SHOE_SIZES, (6, 12), run=True), o("color", _SHOE_COLORS, (1, 3))),
    lead=("is made for warm days and long walks",),
    blurbs=("A contoured footbed supports your arches.",),
)

SHOES = Department(
    "shoes", "Shoes",
    brands=words(
        "Trailmark Stridewell Fleetsole Summitra Terrapace Pacecraft Roamwell Solvia Ambleworth "
        "Brookstep Duneline Evenstride Footloft Granitehill Hikewell Ironlace Jetrun Kestrelle "
        "Loamcraft Mossfield Northtread Outpace Pathwise Quarrystep"
    ),
    groups=(
        Group("athletic", "Athletic Shoes", (RUNNING, TRAINING)),
        Group("casual", "Casual Shoes", (SNEAKERS, LOAFERS, SLIPPERS)),
        Group("outdoor", "Boots & Sandals", (HIKING_BOOTS, WINTER_BOOTS, SANDALS)),
    ),
    blurbs=("Free exchanges if the size is not right.", "We recommend ordering your usual size.",
            "Wipe clean with a damp cloth."),
)

_MATERIAL = ("cotton", "organic_cotton", "polyester", "cotton_blend", "merino_wool", "linen")

TSHIRTS = Leaf(
    "t-shirts", "T-Shirts", ("Tee", "Crew Tee"), 20, 0.35, weight=1.5,
    attrs=(_gender((4, 4, 2)),
           e("material", "Material", ("cotton", "organic_cotton", "cotton_blend", "linen"),
             "soft {v} fabric", price={"organic_cotton": 1.2}),
           e("fit", "Fit", ("slim", "regular", "relaxed"), "a {v} fit"),
           e("sleeve", "Sleeve", ("short", "long"), "{v} sleeves", weights=(3, 1),
             title={"long": "Long Sleeve"})),
    options=_cloth_options(),
    lead=("is the everyday layer you will reach for first",),
    blurbs=("Pre-shrunk so it keeps its shape wash after wash.",),
)

HOODIES = Leaf(
    "hoodies", "Hoodies", ("Hoodie", w("Pullover Hoodie", zip=False)), 45, 0.35, weight=1.0,
    attrs=(_gender((4, 4, 2)),
           e("material", "Material", ("cotton", "fleece", "cotton_blend", "french_terry"),
             "a brushed {v} body"),
           e("fit", "Fit", ("regular", "relaxed", "oversized"), "a {v} fit"),
           b("zip", "Full zip", 0.35, "a full-length zip", title="Zip")),
    options=_cloth_options(),
    lead=("is warm, soft and made for lounging",),
    blurbs=("A kangaroo pocket keeps your hands warm.",),
)

SWEATERS = Leaf(
    "sweaters", "Sweaters", ("Sweater", "Knit Sweater"), 55, 0.4, weight=0.8,
    attrs=(_gender((3, 4, 1)),
           e("material", "Material", ("merino_wool", "cashmere", "cotton", "acrylic_blend"),
             "a fine {v} knit", price={"cashmere": 2.0, "merino_wool": 1.4}),
           e("neckline", "Neckline", ("crew", "v_neck", "turtleneck", "cardigan"),
             "a {v} neckline")),
    options=_cloth_options((1, 3)),
    lead=("keeps you cozy without the bulk",),
    blurbs=("Hand wash cold and dry flat.",),
)

JEANS = Leaf(
    "jeans", "Jeans", ("Jeans", "Denim Jeans"), 60, 0.35, weight=1.0,
    attrs=(_gender((4, 4, 0)),
           e("fit", "Fit", ("skinny", "slim", "straight", "relaxed", "bootcut"), "a {v} fit"),
           e("rise", "Rise", ("low", "mid", "high"), "a {v} rise"),
           i("inseam_in", "Inseam", (28, 30, 32, 34), "a {v}-inch inseam", unit="in"),
           b("stretch", "Stretch denim", 0.6, "stretch denim that moves with you")),
    options=(o("size", ("26", "27", "28", "29", "30", "31", "32", "33", "34", "36", "38", "40"),
               (6, 10), run=True),
             o("color", ("dark wash", "medium wash", "light wash", "black"), (1, 3))),
    lead=("is cut to look sharp and feel easy",),
    blurbs=("Five-pocket styling with a button fly.",),
)

LEGGINGS = Leaf(
    "leggings", "Leggings", ("Leggings", "Yoga Leggings"), 35, 0.35, weight=0.9,
    attrs=(_gender((0, 6, 1)),
           e("rise", "Rise", ("mid", "high"), "a {v} rise", weights=(1, 3)),
           i("inseam_in", "Inseam", (23, 25, 28), "a {v}-inch inseam", unit="in"),
           b("pockets", "Pockets", 0.6, "side pockets for your phone")),
    options=_cloth_options(),
    lead=("stays put through every stretch and squat",),
    blurbs=("Four-way stretch fabric wicks sweat.",),
)

SHORTS = Leaf(
    "shorts", "Shorts", ("Shorts", "Athletic Shorts"), 30, 0.35, weight=0.8,
    attrs=(_gender((4, 3, 1)),
           i("inseam_in", "Inseam", (5, 7, 9), "a {v}-inch inseam", unit="in"),
           e("material", "Material", ("polyester", "cotton", "nylon"), "light {v} fabric"),
           b("lined", "Lined", 0.5, "a built-in liner")),
    options=_cloth_options(),
    lead=("keeps you cool on hot days",),
    blurbs=("An elastic waistband with a drawcord for a custom fit.",),
)

JACKETS = Leaf(
    "jackets", "Jackets", ("Jacket", w("Shell Jacket", insulation="none"),
                           w("Puffer Jacket", insulation=("synthetic", "down"))),
    110, 0.45, weight=1.1,
    attrs=(_gender((4, 4, 1)),
           e("insulation", "Insulation", ("none", "synthetic", "down"), "{v} insulation",
             price={"down": 1.5}),
           b("waterproof", "Waterproof", 0.5, "a waterproof, breathable shell",
             title="Waterproof", price=1.2),
           b("hood", "Hood", 0.7, "an adjustable hood"),
           b("packable", "Packable", 0.3, "a packable design")),
    options=_cloth_options((1, 3)),
    lead=("shuts out wind and weather",),
    blurbs=("Zippered hand pockets keep essentials secure.",),
)

SOCKS = Leaf(
    "socks", "Socks", ("Socks", w("Crew Socks", height="crew"), w("Ankle Socks", height="ankle")),
    12, 0.4, weight=1.0,
    attrs=(e("material", "Material", ("cotton", "merino_wool", "bamboo", "polyester"),
             "{v} yarn", price={"merino_wool": 1.6}),
           i("pack_count", "Pairs per pack", (1, 3, 6),
             {1: "a single pair", 3: "3 pairs per pack", 6: "6 pairs per pack"},
             price={3: 2.0, 6: 3.2}),
           e("height", "Height", ("no_show", "ankle", "crew", "knee_high"), "a {v} height"),
           b("cushioned", "Cushioned", 0.5, "a cushioned sole")),
    options=(o("size", ("S", "M", "L", "XL"), (3, 4), run=True),
             o("color", _CLOTH_COLORS + ("multicolor",), (1, 3))),
    lead=("keeps feet dry and blister-free",),
    blurbs=("Reinforced heels and toes resist wear.",),
)

HATS = Leaf(
    "hats", "Hats", ("Hat", w("Beanie", style="beanie"), w("Baseball Cap", style="baseball_cap"),
                     w("Bucket Hat", style="bucket_hat"), w("Sun Hat", style="sun_hat")),
    22, 0.4, weight=0.7,
    attrs=(e("style", "Style", ("beanie", "baseball_cap", "bucket_hat", "sun_hat")),
           e("material", "Material", ("cotton", "wool", "acrylic", "polyester"), "{v} fabric"),
           b("upf", "UPF 50 sun protection", 0.3, "UPF 50 sun protection")),
    options=(o("color", _CLOTH_COLORS, (1, 4)),),
    lead=("finishes any outfit",),
    blurbs=("One size fits most.",),
)

CLOTHING = Department(
    "clothing", "Clothing",
    brands=words(
        "Threadwell Loomcraft Linenfold Cottonwick Harborline Wovenly Fablewear Stitchworth "
        "Kindredknit Bayweave Cardenne Driftwear Everloom Fieldthread Greywick Hollowpine Ivyhem "
        "Juniperwear Kettleknit Larkspun Mistweave Northwind Oakhem Purlwise"
    ),
    groups=(
        Group("tops", "Tops", (TSHIRTS, HOODIES, SWEATERS)),
        Group("bottoms", "Bottoms", (JEANS, LEGGINGS, SHORTS)),
        Group("outerwear", "Outerwear", (JACKETS,)),
        Group("accessories", "Accessories", (SOCKS, HATS)),
    ),
    blurbs=("Machine wash cold, tumble dry low.", "True to size; see the size chart for details.",
            "Made in a fair-trade certified factory."),
)
