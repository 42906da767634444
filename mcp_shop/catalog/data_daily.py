"""Catalog data of the Beauty & Personal Care, Grocery and Pet Supplies departments."""

from __future__ import annotations

from mcp_shop.catalog.specs import Department, Group, Leaf, words
from mcp_shop.catalog.specs import boolean as b
from mcp_shop.catalog.specs import enum as e
from mcp_shop.catalog.specs import integer as i
from mcp_shop.catalog.specs import option as o
from mcp_shop.catalog.specs import when as w

__all__ = ["BEAUTY", "GROCERY", "PETS"]

_SKIN = ("all", "dry", "oily", "combination", "sensitive")
_SKIN_PHRASE = {"all": "a formula for all skin types", "dry": "a formula for dry skin",
                "oily": "a formula for oily skin", "combination": "a formula for combination skin",
                "sensitive": "a gentle formula for sensitive skin"}
_INGREDIENT = ("hyaluronic_acid", "niacinamide", "vitamin_c", "retinol", "ceramides",
               "squalane", "aloe_vera", "shea_butter")
_HAIR = {"all": "a formula for all hair types", "dry": "a formula for dry hair",
         "oily": "a formula for oily hair", "curly": "a formula for curly hair",
         "color_treated": "a formula for color-treated hair", "fine": "a formula for fine hair"}
_PACK = o("pack", ("1 pack", "2 pack", "3 pack"), (1, 3), p=0.4,
          upcharge={"2 pack": 1.9, "3 pack": 2.7})


def _skin_care(slug: str, name: str, nouns: tuple[str, ...], price: float, lead: str,
               blurb: str, extra: tuple = ()) -> Leaf:
    return Leaf(
        slug, name, nouns, price, 0.5, weight=0.8, style="pantry",
        attrs=(e("skin_type", "Skin type", _SKIN, _SKIN_PHRASE, weights=(4, 2, 2, 1, 2)),
               e("key_ingredient", "Key ingredient", _INGREDIENT, "{v} as the key ingredient"),
               i("volume_ml", "Volume", (30, 50, 100, 150, 200), "a {v} ml bottle", unit="ml"),
               b("fragrance_free", "Fragrance free", 0.5, "a fragrance-free formula",
                 title="Fragrance Free"),
               b("vegan", "Vegan", 0.4, "a vegan, cruelty-free formula")) + extra,
        options=(_PACK,), lead=(lead,), blurbs=(blurb,),
    )


MOISTURIZERS = _skin_care("moisturizers", "Moisturizers", ("Moisturizer", "Face Cream"), 24,
                          "locks in moisture for soft, supple skin",
                          "Absorbs quickly without a greasy feel.")
CLEANSERS = _skin_care("cleansers", "Cleansers", ("Face Wash", "Facial Cleanser"), 14,
                       "lifts away makeup and grime", "Rinses clean without stripping.")
SERUMS = _skin_care("serums", "Serums", ("Serum", "Face Serum"), 28,
                    "targets dullness and uneven tone", "A few drops morning and night is all "
                    "you need.")
SUNSCREEN = _skin_care("sunscreen", "Sunscreen", ("Sunscreen", "Sunscreen Lotion"), 16,
                       "shields skin from UVA and UVB rays", "Water resistant for 80 minutes.",
                       (i("spf", "SPF", (15, 30, 50, 70), "SPF {v} protection"),))

SHAMPOO = Leaf(
    "shampoo", "Shampoo", ("Shampoo", "Clarifying Shampoo"), 12, 0.45, weight=0.8,
    style="pantry",
    attrs=(e("hair_type", "Hair type", ("all", "dry", "oily", "curly", "color_treated", "fine"),
             _HAIR),
           b("sulfate_free", "Sulfate free", 0.6, "a sulfate-free formula", title="Sulfate Free"),
           i("volume_ml", "Volume", (250, 300, 400, 500, 1000), "a {v} ml bottle", unit="ml"),
           e("scent", "Scent", ("unscented", "citrus", "lavender", "coconut", "eucalyptus",
                                "rosemary_mint"), "a {v} scent")),
    options=(_PACK,),
    lead=("leaves hair clean, soft and shiny",),
    blurbs=("Pair with the matching conditioner.",),
)

HAIR_DRYERS = Leaf(
    "hair-dryers", "Hair Dryers", ("Hair Dryer", "Blow Dryer"), 60, 0.6, weight=0.5,
    style="code",
    attrs=(i("wattage", "Power", (1200, 1600, 1800, 1875, 2000), "a {v} W motor", unit="W"),
           b("ionic", "Ionic", 0.7, "ionic technology to fight frizz", title="Ionic"),
           i("heat_settings", "Heat settings", (2, 3, 4), "{v} heat settings"),
           b("diffuser", "Diffuser included", 0.5, "a diffuser attachment")),
    options=(o("color", ("black", "white", "pink", "rose gold"), (1, 2)),),
    lead=("dries hair fast with less heat damage",),
    blurbs=("A cool-shot button sets your style.",),
)

PERFUME = Leaf(
    "perfume", "Perfume", ("Perfume", w("Eau de Parfum", concentration="eau_de_parfum"),
                                 w("Eau de Toilette", concentration="eau_de_toilette"),
                                 w("Cologne", gender="men")), 70, 0.55, weight=0.6,
    style="pantry",
    attrs=(e("scent_family", "Scent family", ("floral", "woody", "citrus", "fresh", "amber",
                                              "gourmand"), "a {v} scent"),
           e("concentration", "Concentration", ("eau_de_toilette", "eau_de_parfum", "parfum"),
             "{v} concentration", price={"parfum": 1.5}),
           e("gender", "Gender", ("women", "men", "unisex"),
             {"women": "a scent for her", "men": "a scent for him",
              "unisex": "a scent for anyone"})),
    options=(o("volume", ("30 ml", "50 ml", "100 ml"), (1, 3), run=True,
               upcharge={"50 ml": 1.4, "100 ml": 2.0}),),
    lead=("opens bright and dries down warm",),
    blurbs=("Long-lasting wear from morning to night.",),
)

BEAUTY = Department(
    "beauty", "Beauty & Personal Care",
    brands=words(
        "Lumera Velvetine Dewbloom Glowvia Purivae Silkora Aurabelle Botanelle Claribel Dermavie "
        "Essentelle Florelle Glossaria Hydrava Irisette Jasmara Kalonia Lustrea Mirelune Nuvessa "
        "Opaline Petalique Radiessa Serumi"
    ),
    groups=(
        Group("skincare", "Skincare", (MOISTURIZERS, CLEANSERS, SERUMS, SUNSCREEN)),
        Group("hair-care", "Hair Care", (SHAMPOO, HAIR_DRYERS)),
        Group("fragrance", "Fragrance", (PERFUME,)),
    ),
    blurbs=("Dermatologist tested.", "Free of parabens and phthalates.",
            "Packaged in recyclable materials."),
)

COFFEE = Leaf(
    "coffee", "Coffee", ("Coffee", w("Whole Bean Coffee", form="whole_bean"),
                         w("Ground Coffee", form="ground"), w("Coffee Pods", form="pods")),
    12, 0.4, weight=0.9,
    style="pantry",
    attrs=(e("roast", "Roast", ("light", "medium", "dark"), "a {v} roast",
             title={"light": "Light Roast", "medium": "Medium Roast", "dark": "Dark Roast"}),
           e("form", "Form", ("whole_bean", "ground", "pods"), "a {v} format"),
           e("origin", "Origin", ("colombia", "ethiopia", "brazil", "guatemala", "sumatra",
                                  "blend"), "beans from {v}"),
           b("organic", "Organic", 0.35, "certified organic beans", title="Organic", price=1.2),
           b("decaf", "Decaf", 0.15, "chemical-free decaffeination", title="Decaf"),
           i("weight_oz", "Weight", (10, 12, 16, 32), "a {v} oz bag", unit="oz",
             price={16: 1.3, 32: 2.3})),
    options=(_PACK,),
    lead=("brews a smooth, balanced cup",),
    blurbs=("Roasted in small batches for peak freshness.",),
)

TEA = Leaf(
    "tea", "Tea", ("Tea", w("Green Tea", tea_type="green"), w("Herbal Tea", tea_type="herbal"),
                    w("Chai Tea", tea_type="chai")), 6, 0.4, weight=0.7, style="pantry",
    attrs=(e("tea_type", "Tea type", ("black", "green", "herbal", "oolong", "white", "chai"),
             "{v} tea"),
           i("count", "Servings", (20, 40, 50, 100), "{v} servings"),
           b("organic", "Organic", 0.4, "certified organic leaves", title="Organic"),
           b("caffeine_free", "Caffeine free", 0.3, "a naturally caffeine-free blend")),
    options=(_PACK,),
    lead=("steeps into a fragrant, soothing cup",),
    blurbs=("Enjoy hot or iced.",),
)

PASTA = Leaf(
    "pasta", "Pasta", ("Pasta",), 3.5, 0.4, weight=0.6, style="pantry",
    attrs=(e("shape", "Shape", ("spaghetti", "penne", "fusilli", "rigatoni", "linguine",
                                "farfalle"), "{v} pasta",
             title={"spaghetti": "Spaghetti", "penne": "Penne", "fusilli": "Fusilli",
                    "rigatoni": "Rigatoni", "linguine": "Linguine", "farfalle": "Farfalle"}),
           b("gluten_free", "Gluten free", 0.25, "a gluten-free recipe", title="Gluten Free"),
           b("organic", "Organic", 0.3, "organic durum wheat"),
           i("weight_oz", "Weight", (12, 16, 32), "a {v} oz box", unit="oz")),
    options=(_PACK,),
    lead=("cooks up al dente in minutes",),
    blurbs=("Bronze-cut for a texture that holds sauce.",),
)

OLIVE_OIL = Leaf(
    "olive-oil", "Olive Oil", ("Olive Oil", w("Extra Virgin Olive Oil", extra_virgin=True)), 14,
    0.45, weight=0.5,
    style="pantry",
    attrs=(b("extra_virgin", "Extra virgin", 0.8, "cold-pressed extra virgin oil", price=1.2),
           e("origin", "Origin", ("italy", "spain", "greece", "california", "blend"),
             "olives from {v}"),
           i("volume_ml", "Volume", (500, 750, 1000), "a {v} ml bottle", unit="ml",
             price={750: 1.4, 1000: 1.7})),
    lead=("adds peppery, fruity flavor to any dish",),
    blurbs=("Bottled in dark glass to protect freshness.",),
)

SNACKS = Leaf(
    "snacks", "Snacks", ("Chips", "Crackers", "Snack Bars"), 4.5, 0.4, weight=0.9,
    style="pantry",
    attrs=(e("flavor", "Flavor", ("sea_salt", "barbecue", "cheddar", "sour_cream_onion",
                                  "chocolate", "peanut_butter", "honey_oat"), "{v} flavor"),
           b("gluten_free", "Gluten free", 0.3, "a gluten-free recipe", title="Gluten Free"),
           b("non_gmo", "Non-GMO", 0.5, "non-GMO ingredients"),
           i("count", "Count", (6, 12, 18, 24), "a {v}-count box")),
    options=(_PACK,),
    lead=("is a crunchy, satisfying snack",),
    blurbs=("Great for lunchboxes and road trips.",),
)

GROCERY = Department(
    "grocery", "Grocery",
    brands=words(
        "Harvestlane Bramblewood Goldenacre Meadowfield Orchardly Pantryful Farmhollow Grainery "
        "Honeybrook Kettlecreek Olivella Pastaria Roastworks Saltmarsh Teagrove Cocobay "
        "Morningmill Nutshire Oakbarrel Riverbend Spicewell Sunhollow Wheatfield "
        "Beanhaven"
    ),
    groups=(
        Group("beverages", "Beverages", (COFFEE, TEA)),
        Group("pantry", "Pantry", (PASTA, OLIVE_OIL, SNACKS)),
    ),
    blurbs=("Store in a cool, dry place.", "Packed in a facility that also handles tree nuts.",
            "Sourced from family farms."),
)

_LIFE = {"puppy": "a recipe for growing puppies", "kitten": "a recipe for growing kittens",
         "adult": "complete nutrition for adults", "senior": "gentle nutrition for seniors"}
_FLAVOR = ("chicken", "beef", "salmon", "lamb", "turkey", "duck")


def _food(slug: str, name: str, nouns: tuple, price: float, young: str) -> Leaf:
    return Leaf(
        slug, name, nouns, price, 0.5, weight=0.8, style="pantry",
        attrs=(e("life_stage", "Life stage", (young, "adult", "senior"), _LIFE,
                 weights=(1, 3, 1)),
               e("flavor", "Flavor", _FLAVOR, "real {v} as the first ingredient",
                 title={"chicken": "Chicken", "beef": "Beef", "salmon": "Salmon",
                        "lamb": "Lamb", "turkey": "Turkey", "duck": "Duck"}),
               b("grain_free", "Grain free", 0.4, "a grain-free recipe", title="Grain Free",
                 price=1.2),
               e("food_form", "Form", ("dry", "wet"), "a {v} formula")),
        options=(o("bag_size", ("4 lb", "12 lb", "24 lb", "30 lb"), (1, 3), run=True,
                   upcharge={"12 lb": 2.3, "24 lb": 4.0, "30 lb": 4.8}),),
        lead=("supports healthy digestion and a shiny coat",),
        blurbs=("No artificial colors, flavors or preservatives.",),
    )


DOG_FOOD = _food("dog-food", "Dog Food", ("Dog Food", w("Dry Dog Food", food_form="dry"),
                                        w("Wet Dog Food", food_form="wet"),
                                        w("Puppy Food", life_stage="puppy")), 22, "puppy")
CAT_FOOD = _food("cat-food", "Cat Food", ("Cat Food", w("Dry Cat Food", food_form="dry"),
                                        w("Wet Cat Food", food_form="wet"),
                                        w("Kitten Food", life_stage="kitten")), 18, "kitten")

DOG_TOYS = Leaf(
    "dog-toys", "Dog Toys", ("Dog Toy", "Chew Toy", "Tug Toy"), 12, 0.5, weight=0.8,
    style="kids",
    attrs=(e("toy_material", "Material", ("rubber", "rope", "plush", "nylon"),
             "durable {v} construction"),
           e("durability", "Durability", ("gentle", "moderate", "tough"),
             "a build for {v} chewers"),
           b("squeaker", "Squeaker", 0.5, "a squeaker inside", title="Squeaky")),
    options=(o("size", ("S", "M", "L"), (1, 3), run=True, upcharge={"L": 1.2}),),
    lead=("keeps dogs busy and happy",),
    blurbs=("Inspect toys regularly and replace when worn.",),
)

PET_BEDS = Leaf(
    "pet-beds", "Pet Beds", ("Pet Bed", "Dog Bed", "Cat Bed"), 50, 0.5, weight=0.7,
    style="pantry",
    attrs=(b("orthopedic", "Orthopedic", 0.4, "orthopedic memory foam", title="Orthopedic",
             price=1.4),
           b("washable_cover", "Washable cover", 0.7, "a removable washable cover"),
           e("bed_style", "Style", ("bolster", "donut", "mat", "cave"), "a {v} design")),
    options=(o("size", ("S", "M", "L", "XL"), (2, 4), run=True,
               upcharge={"M": 1.2, "L": 1.5, "XL": 1.8}),
             o("color", ("gray", "tan", "navy", "charcoal", "cream"), (1, 2))),
    lead=("gives pets a cozy spot to curl up",),
    blurbs=("A non-skid bottom keeps it in place.",),
)

CAT_LITTER = Leaf(
    "cat-litter", "Cat Litter", ("Cat Litter", w("Clumping Litter", clumping=True)), 18, 0.4,
    weight=0.5,
    style="pantry",
    attrs=(e("litter_material", "Material", ("clay", "pine", "corn", "silica", "wheat"),
             "{v} litter"),
           b("clumping", "Clumping", 0.7, "tight clumps for easy scooping"),
           b("scented", "Scented", 0.4, "a light fresh scent", "an unscented formula"),
           i("weight_lb", "Weight", (10, 20, 28, 40), "a {v} lb bag", unit="lb",
             price={20: 1.7, 28: 2.2, 40: 2.9})),
    lead=("traps odors for up to two weeks",),
    blurbs=("Low dust for cleaner air.",),
)

CAT_TREES = Leaf(
    "cat-trees", "Cat Trees", ("Cat Tree", "Cat Tower"), 80, 0.55, weight=0.5, style="pantry",
    attrs=(i("height_in", "Height", (24, 34, 48, 60, 72), "a {v}-inch height", unit="in",
             price={60: 1.5, 72: 1.9}),
           i("levels", "Levels", (2, 3, 4, 5), "{v} levels"),
           b("condo", "Condo", 0.7, "an enclosed condo for naps")),
    options=(o("color", ("gray", "beige", "brown", "cream"), (1, 2)),),
    lead=("gives cats room to climb, scratch and lounge",),
    blurbs=("Sisal-wrapped posts save your furniture.",),
)

PETS = Department(
    "pets", "Pet Supplies",
    brands=words(
        "Pawfield Whiskerly Barkwell Furrwood Tailbright Kibblecraft Muttsy Purrfield Snoutly "
        "Wagmore Houndstone Catnipper Doggett Fetchwell Goodhound Kittenly Leashcraft Meowmere "
        "Nosebright Pawprinted Ruffhouse Scamperly Treatmoor Furbloom"
    ),
    groups=(
        Group("dogs", "Dog Supplies", (DOG_FOOD, DOG_TOYS, PET_BEDS)),
        Group("cats", "Cat Supplies", (CAT_FOOD, CAT_LITTER, CAT_TREES)),
    ),
    blurbs=("Vet recommended.", "Made in the USA with globally sourced ingredients.",
            "Satisfaction guaranteed or your money back."),
)
