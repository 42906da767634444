"""Catalog data of the Toys & Games and Sports & Outdoors departments."""

from __future__ import annotations

from mcp_shop.catalog.specs import AttrSpec, Department, Group, Leaf, age_range, words
from mcp_shop.catalog.specs import boolean as b
from mcp_shop.catalog.specs import enum as e
from mcp_shop.catalog.specs import integer as i
from mcp_shop.catalog.specs import number as f
from mcp_shop.catalog.specs import option as o
from mcp_shop.catalog.specs import when as w

__all__ = ["SPORTS", "THEMES", "THEME_WORDS", "TOYS"]

THEMES = ("dinosaurs", "space", "vehicles", "animals", "princess", "building", "ocean",
          "robots", "fantasy", "farm", "music", "science")
"""Every toy theme (the ``theme`` enum of toy categories)."""

THEME_WORDS: dict[str, tuple[str, ...]] = {
    "dinosaurs": ("Dino", "Dinosaur", "Raptor", "Fossil", "Triceratops"),
    "space": ("Rocket", "Galaxy", "Astronaut", "Lunar", "Planet"),
    "vehicles": ("Truck", "Racer", "Firetruck", "Tractor", "Speedster"),
    "animals": ("Puppy", "Kitten", "Panda", "Lion", "Elephant"),
    "princess": ("Princess", "Fairy", "Royal", "Tiara", "Enchanted"),
    "building": ("Construction", "Crane", "Bulldozer", "Architect", "Blueprint"),
    "ocean": ("Ocean", "Shark", "Mermaid", "Reef", "Submarine"),
    "robots": ("Robot", "Robo", "Cyborg", "Android", "Mech"),
    "fantasy": ("Dragon", "Unicorn", "Wizard", "Knight", "Griffin"),
    "farm": ("Farm", "Barnyard", "Pony", "Harvest", "Chicken"),
    "music": ("Music", "Rockstar", "Drum", "Melody", "Piano"),
    "science": ("Science", "Chemistry", "Volcano", "Crystal", "Magnet"),
}
"""Title words of each theme ('Dino', 'Rocket', ...)."""

_KID_AGES = ((1, 3), (2, 5), (3, 6), (3, 8), (4, 8), (5, 10), (6, 12), (8, 14), (10, 16),
             (12, 18), (14, 99))


def _theme(choices: tuple[str, ...], weights: tuple[float, ...] = ()) -> AttrSpec:
    return e("theme", "Theme", THEMES, "a {v} theme", choices=choices, weights=weights)


BUILDING_SETS = Leaf(
    "building-sets", "Building Sets", ("Building Set", "Brick Set"), 35, 0.7, weight=1.2,
    style="kids",
    attrs=(age_range(_KID_AGES[3:], (2, 3, 3, 3, 2, 2, 1, 1)),
           _theme(("dinosaurs", "space", "vehicles", "princess", "building", "ocean", "robots",
                   "fantasy", "farm")),
           i("piece_count", "Pieces", (120, 250, 400, 650, 900, 1500, 2500), "{v} pieces",
             unit="pieces", price={650: 1.6, 900: 2.0, 1500: 3.0, 2500: 4.5}),
           b("motorized", "Motorized", 0.15, "a motor that brings the build to life",
             price=1.5)),
    lead=("sparks hours of creative building",),
    blurbs=("Numbered bags and illustrated instructions make building easy.",),
)

SCIENCE_KITS = Leaf(
    "science-kits", "Science Kits",
    ("Science Kit", w("Excavation Kit", theme="dinosaurs"), w("Lab Kit", theme="science"),
     w("Space Kit", theme="space")), 28, 0.5,
    weight=0.9, style="kids",
    attrs=(age_range(_KID_AGES[4:9]),
           _theme(("dinosaurs", "space", "science", "ocean", "robots"), (3, 2, 3, 1, 1)),
           i("experiments", "Experiments", (5, 10, 15, 20, 30, 50), "{v} hands-on activities"),
           b("batteries_required", "Batteries required", 0.3,
             "AA battery power (batteries not included)")),
    lead=("turns curiosity into real discoveries",),
    blurbs=("A full-color guide explains the science behind every activity.",),
)

PLUSH = Leaf(
    "plush-toys", "Plush Toys", ("Plush", "Stuffed Animal"), 18, 0.5, weight=1.0, style="kids",
    attrs=(age_range(((0, 3), (0, 99), (1, 99), (2, 8), (3, 10))),
           _theme(("animals", "dinosaurs", "fantasy", "ocean", "farm"), (4, 2, 2, 1, 1)),
           i("height_in", "Height", (6, 8, 10, 12, 16, 20, 24), "a {v}-inch height",
             unit="in", price={16: 1.6, 20: 2.0, 24: 2.6}),
           b("machine_washable", "Machine washable", 0.6, "a machine-washable build")),
    lead=("is soft, huggable and made to be loved",),
    blurbs=("Embroidered eyes make it safe for little ones.",),
)

ACTION_FIGURES = Leaf(
    "action-figures", "Action Figures",
    ("Action Figure", w("Figure Set", figure_count=(2, 3, 5))), 15, 0.5, weight=0.8,
    style="kids",
    attrs=(age_range(_KID_AGES[2:8]),
           _theme(("space", "robots", "dinosaurs", "fantasy", "vehicles")),
           i("figure_count", "Figures", (1, 2, 3, 5), "{v} poseable figures", price={5: 2.2}),
           i("height_in", "Height", (4, 6, 7, 12), "{v}-inch figures", unit="in")),
    lead=("brings epic battles to the playroom",),
    blurbs=("Over a dozen points of articulation for dynamic poses.",),
)

BOARD_GAMES = Leaf(
    "board-games", "Board Games", ("Board Game", "Strategy Game", "Party Game"), 28, 0.45,
    weight=0.9, style="kids",
    attrs=(age_range(((5, 99), (6, 99), (8, 99), (10, 99), (12, 99), (14, 99))),
           _theme(("fantasy", "space", "animals", "science", "farm", "ocean")),
           i("players_min", "Minimum players", (1, 2, 3), unit="players"),
           i("players_max", "Maximum players", (4, 5, 6, 8), "room for up to {v} players",
             unit="players"),
           i("play_minutes", "Playing time", (15, 30, 45, 60, 90), "{v}-minute games",
             unit="min")),
    lead=("makes game night something everyone looks forward to",),
    blurbs=("Quick to learn, with plenty of strategy to master.",),
)

PUZZLES = Leaf(
    "puzzles", "Jigsaw Puzzles", ("Jigsaw Puzzle", "Puzzle"), 18, 0.4, weight=0.8, style="kids",
    attrs=(age_range(((3, 6), (4, 8), (6, 12), (8, 99), (12, 99), (14, 99))),
           _theme(("animals", "space", "ocean", "fantasy", "farm", "dinosaurs", "vehicles")),
           i("piece_count", "Pieces", (24, 48, 100, 300, 500, 1000, 1500, 2000), "{v} pieces",
             unit="pieces", price={1000: 1.3, 1500: 1.5, 2000: 1.8})),
    lead=("comes together into a vivid, poster-worthy scene",),
    blurbs=("Thick, precision-cut pieces fit snugly together.",),
)

RC_VEHICLES = Leaf(
    "rc-vehicles", "Remote Control Vehicles", ("RC Car", "Remote Control Car", "RC Truck"), 45,
    0.55, weight=0.7, style="kids",
    attrs=(age_range(_KID_AGES[4:11]),
           _theme(("vehicles", "space", "robots", "dinosaurs"), (6, 1, 1, 1)),
           i("top_speed_mph", "Top speed", (8, 12, 15, 20, 25, 30), "a top speed of {v} mph",
             unit="mph", price={20: 1.5, 25: 1.8, 30: 2.2}),
           i("run_minutes", "Run time", (15, 20, 30, 40), "{v} minutes of run time", unit="min"),
           b("all_terrain", "All terrain", 0.5, "all-terrain tires", title="All Terrain")),
    lead=("zooms over carpet, grass and gravel",),
    blurbs=("A rechargeable battery and USB charger are included.",),
)

TOYS = Department(
    "toys", "Toys & Games",
    brands=words(
        "Brickly Wondernook Tinkerfen Playnest Kidwhirl Cuddlewood Funforge Giggleberry "
        "Hopscotchy Jumblejoy Kazoodle Lollyloo Marblenook Noodlebug Owlbright Puzzlepeak "
        "Quillpop Rocketoy Sproutling Toybrook Whimsywren Yoyoville Zoomzoo Cubbycraft"
    ),
    groups=(
        Group("building-science", "Building & Science", (BUILDING_SETS, SCIENCE_KITS)),
        Group("plush-figures", "Plush & Figures", (PLUSH, ACTION_FIGURES)),
        Group("games-puzzles", "Games & Puzzles", (BOARD_GAMES, PUZZLES)),
        Group("ride-on-rc", "Remote Control", (RC_VEHICLES,)),
    ),
    blurbs=("Meets ASTM toy safety standards.", "Makes a great birthday gift.",
            "Parts store neatly in the included box."),
)

YOGA_MATS = Leaf(
    "yoga-mats", "Yoga Mats", ("Yoga Mat", "Exercise Mat"), 30, 0.45, weight=0.8,
    attrs=(i("thickness_mm", "Thickness", (3, 4, 5, 6, 8), "{v} mm of cushioning", unit="mm"),
           e("material", "Material", ("tpe", "pvc", "natural_rubber", "cork"), "{v} construction",
             price={"natural_rubber": 1.5, "cork": 1.4}),
           b("non_slip", "Non-slip", 0.8, "a non-slip textured surface"),
           b("carry_strap", "Carry strap", 0.5, "a carry strap")),
    options=(o("color", ("black", "purple", "teal", "sky blue", "pink", "gray", "sand"), (1, 4)),),
    lead=("grips the floor so you can focus on your flow",),
    blurbs=("Wipe clean after practice.",),
)

DUMBBELLS = Leaf(
    "dumbbells", "Dumbbells", ("Dumbbells", "Dumbbell Set"), 40, 0.6, weight=0.7,
    attrs=(b("adjustable", "Adjustable", 0.35, "dial-adjustable weight plates",
             title="Adjustable", price=4.0),
           e("coating", "Coating", ("neoprene", "rubber", "vinyl", "chrome"), "a {v} coating"),
           e("shape", "Shape", ("hex", "round"), "a {v} head that won't roll")),
    options=(o("weight", ("5 lb", "10 lb", "15 lb", "20 lb", "25 lb", "30 lb", "40 lb", "50 lb"),
               (3, 6), run=True,
               upcharge={"10 lb": 1.6, "15 lb": 2.1, "20 lb": 2.6, "25 lb": 3.1, "30 lb": 3.6,
                         "40 lb": 4.5, "50 lb": 5.5}),),
    lead=("builds strength at home",),
    blurbs=("Knurled handles give a secure grip.",),
)

TENTS = Leaf(
    "tents", "Tents", ("Tent", w("Backpacking Tent", capacity_people=(1, 2)),
                           w("Camping Tent", capacity_people=(4, 6, 8))), 180, 0.5, weight=0.8,
    attrs=(i("capacity_people", "Capacity", (1, 2, 3, 4, 6, 8), "a {v}-person capacity",
             unit="people", price={4: 1.4, 6: 1.8, 8: 2.3}),
           e("season", "Season rating", ("three_season", "four_season"), "{v} protection",
             weights=(4, 1), price={"four_season": 1.6}),
           f("weight_kg", "Packed weight", (1.2, 1.6, 2.0, 2.6, 3.5, 5.0, 7.5),
             "a packed weight of {v} kg", unit="kg"),
           b("freestanding", "Freestanding", 0.7, "a freestanding pole design")),
    lead=("pitches in minutes and stands up to wind and rain",),
    blurbs=("Two doors and vestibules keep gear dry.",),
)

SLEEPING_BAGS = Leaf(
    "sleeping-bags", "Sleeping Bags", ("Sleeping Bag",), 90, 0.5, weight=0.6,
    attrs=(i("temp_rating_f", "Temperature rating", (0, 15, 20, 30, 40, 50),
             "a {v} F comfort rating", unit="F"),
           e("fill", "Fill", ("down", "synthetic"), "{v} insulation", price={"down": 1.7}),
           e("shape", "Shape", ("mummy", "rectangular"), "a {v} cut")),
    options=(o("length", ("regular", "long"), (1, 2), upcharge={"long": 1.1}),),
    lead=("keeps you warm through chilly nights",),
    blurbs=("A compression sack is included.",),
)

BACKPACKS = Leaf(
    "backpacks", "Hiking Backpacks", ("Backpack", "Daypack", "Hiking Pack"), 80, 0.5,
    weight=0.9,
    attrs=(i("capacity_l", "Capacity", (18, 22, 28, 35, 45, 55, 65), "{v} liters of space",
             unit="L", price={45: 1.6, 55: 1.9, 65: 2.2}),
           b("hydration_compatible", "Hydration compatible", 0.6, "a hydration sleeve"),
           b("rain_cover", "Rain cover", 0.4, "an integrated rain cover")),
    options=(o("color", ("black", "navy", "olive", "orange", "red", "gray", "teal"), (1, 3)),),
    lead=("carries everything you need for the trail",),
    blurbs=("A ventilated back panel keeps you cool.",),
)

HELMETS = Leaf(
    "bike-helmets", "Bike Helmets", ("Bike Helmet", "Cycling Helmet"), 60, 0.5, weight=0.6,
    attrs=(b("rotational_protection", "Rotational protection", 0.5,
             "a low-friction liner for rotational impact protection", price=1.4),
           i("vents", "Vents", (6, 12, 16, 20, 24), "{v} vents"),
           e("riding_style", "Riding style", ("road", "mountain", "commuter"),
             "a design for {v} riding"),
           b("integrated_light", "Integrated light", 0.25, "an integrated rear light")),
    options=(o("size", ("S", "M", "L"), (2, 3), run=True),
             o("color", ("black", "white", "red", "sky blue", "yellow"), (1, 3))),
    lead=("keeps you protected on every ride",),
    blurbs=("A dial fit system adjusts on the go.",),
)

WATER_BOTTLES = Leaf(
    "water-bottles", "Water Bottles", ("Water Bottle", w("Insulated Bottle", insulated=True)),
    22, 0.45, weight=0.8,
    attrs=(b("insulated", "Insulated", 0.6, "double-wall vacuum insulation", price=1.4),
           e("material", "Material", ("stainless_steel", "tritan_plastic", "glass"),
             "{v} construction"),
           e("lid", "Lid", ("straw", "chug", "screw_cap"), "a leakproof {v} lid"),
           b("dishwasher_safe", "Dishwasher safe", 0.7, "dishwasher-safe parts")),
    options=(o("capacity", ("18 oz", "24 oz", "32 oz", "40 oz"), (1, 3), run=True,
               upcharge={"24 oz": 1.1, "32 oz": 1.2, "40 oz": 1.3}),
             o("color", ("black", "white", "sky blue", "mint", "coral", "lavender", "olive"),
               (1, 4))),
    lead=("keeps drinks cold all day",),
    blurbs=("BPA-free and built to last.",),
)

SPORTS = Department(
    "sports", "Sports & Outdoors",
    brands=words(
        "Peakform Summitry Ironpeak Trekwell Campcraft Basecrest Alpinova Boulderly Cairnway "
        "Endurant Fitforge Glacierline Hydravale Irongrip Kinetika Lodestar Momentra Nordvik "
        "Outfielder Pacewell Quickhitch Rockhollow Sprintline Trailhaven"
    ),
    groups=(
        Group("fitness", "Fitness", (YOGA_MATS, DUMBBELLS)),
        Group("camping-hiking", "Camping & Hiking", (TENTS, SLEEPING_BAGS, BACKPACKS)),
        Group("cycling", "Cycling", (HELMETS,)),
        Group("hydration", "Hydration", (WATER_BOTTLES,)),
    ),
    blurbs=("Backed by a lifetime warranty against defects.", "Tested in the field by pros.",
            "Built for years of adventures."),
)
