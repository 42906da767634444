"""Catalog data of the Electronics department: audio, computers, phones and wearables, cameras."""

from __future__ import annotations

from mcp_shop.catalog.specs import Department, Group, Leaf, words
from mcp_shop.catalog.specs import boolean as b
from mcp_shop.catalog.specs import enum as e
from mcp_shop.catalog.specs import integer as i
from mcp_shop.catalog.specs import number as f
from mcp_shop.catalog.specs import option as o
from mcp_shop.catalog.specs import when as w

__all__ = ["ELECTRONICS"]

_DARK = ("black", "white", "graphite", "silver", "navy", "midnight", "rose gold", "sand", "teal",
         "red", "sky blue")

HEADPHONES = Leaf(
    "headphones", "Headphones", ("Headphones", w("Headset", has_microphone=True)), 80, 0.6,
    weight=1.4, style="code",
    attrs=(
        b("wireless", "Wireless", 0.75, "wireless Bluetooth 5.3", "a detachable wired cable",
          title="Wireless", price=1.3),
        b("noise_cancelling", "Noise cancelling", 0.45, "active noise cancelling",
          title="Noise Cancelling", price=1.6),
        i("battery_hours", "Battery life", (20, 24, 30, 35, 40, 45, 50, 60, 70),
          "up to {v} hours of battery life", unit="hours", requires="wireless"),
        e("fit", "Fit", ("over_ear", "on_ear"), "a cushioned {v} fit", weights=(3, 1),
          title={"over_ear": "Over-Ear", "on_ear": "On-Ear"}),
        i("driver_mm", "Driver size", (32, 40, 45, 50), "{v} mm drivers", unit="mm"),
        b("has_microphone", "Built-in microphone", 0.7, "a built-in microphone for calls"),
    ),
    options=(o("color", _DARK, (1, 4)),),
    lead=("delivers rich, detailed sound", "is tuned for deep bass and clear vocals",
          "brings studio-grade sound to your commute"),
    blurbs=("Memory-foam ear cushions stay comfortable through long listening sessions.",
            "The headband folds flat for travel and a carry case is included."),
)

EARBUDS = Leaf(
    "earbuds", "Earbuds", ("Earbuds", "Wireless Earbuds"), 60, 0.6, weight=1.2, style="code",
    attrs=(
        b("noise_cancelling", "Noise cancelling", 0.5, "active noise cancelling",
          title="Noise Cancelling", price=1.5),
        i("battery_hours", "Battery life", (5, 6, 7, 8, 9, 10, 12),
          "{v} hours of playback per charge", unit="hours"),
        i("case_battery_hours", "Battery life with case", (20, 24, 28, 30, 36, 40),
          "{v} hours in total with the charging case", unit="hours"),
        e("water_resistance", "Water resistance", ("none", "ipx4", "ipx5", "ipx7"),
          "{v} water resistance", weights=(1, 3, 2, 2)),
        b("wireless_charging", "Wireless charging case", 0.4, "a wireless charging case",
          price=1.1),
    ),
    options=(o("color", _DARK, (1, 4)),),
    lead=("fits securely for workouts and calls", "packs big sound into a pocket-size case"),
    blurbs=("Three sizes of silicone tips are included for a secure seal.",
            "Touch controls handle tracks, calls and volume."),
)

SPEAKERS = Leaf(
    "speakers", "Bluetooth Speakers", ("Bluetooth Speaker", "Portable Speaker"), 70, 0.65,
    style="code",
    attrs=(
        i("battery_hours", "Battery life", (8, 10, 12, 15, 20, 24, 30),
          "up to {v} hours of playtime", unit="hours"),
        b("waterproof", "Waterproof", 0.55, "a waterproof, dustproof shell", title="Waterproof",
          price=1.15),
        i("output_watts", "Output power", (5, 10, 16, 20, 30, 40, 60, 100), "{v} W of output",
          unit="W", price={40: 1.4, 60: 1.6, 100: 2.0}),
        b("stereo_pairing", "Stereo pairing", 0.5, "stereo pairing with a second speaker"),
    ),
    options=(o("color", _DARK, (1, 5)),),
    lead=("fills a room with 360-degree sound", "is built for beach days and backyard parties"),
    blurbs=("A built-in strap makes it easy to carry anywhere.",),
)

LAPTOPS = Leaf(
    "laptops", "Laptops", ("Laptop", "Notebook"), 900, 0.45, style="code",
    attrs=(
        f("screen_inches", "Screen size", (13.3, 14.0, 15.6, 16.0, 17.3), "a {v}-inch display",
          unit="in"),
        i("ram_gb", "Memory", (8, 16, 32, 64), "{v} GB of memory", unit="GB",
          weights=(3, 4, 2, 1), price={16: 1.2, 32: 1.5, 64: 2.0}),
        i("storage_gb", "Storage", (256, 512, 1024, 2048), "a {v} GB SSD", unit="GB",
          weights=(2, 4, 3, 1), price={1024: 1.2, 2048: 1.5}),
        e("processor_tier", "Processor tier", ("everyday", "performance", "pro"),
          "a {v}-class processor", weights=(3, 3, 1), price={"performance": 1.3, "pro": 1.8}),
        i("battery_hours", "Battery life", (6, 8, 10, 12, 14, 18, 22),
          "up to {v} hours of battery life", unit="hours"),
        f("weight_kg", "Weight", (1.1, 1.2, 1.3, 1.4, 1.6, 1.8, 2.1, 2.5), "a {v} kg chassis",
          unit="kg"),
        b("touchscreen", "Touchscreen", 0.3, "a touchscreen", title="Touchscreen", price=1.1),
    ),
    options=(o("color", ("silver", "graphite", "black", "midnight", "sand"), (1, 3)),),
    lead=("handles work, study and streaming with ease", "is slim enough for any backpack"),
    blurbs=("A backlit keyboard and a 1080p webcam are built in.",
            "Fast charging tops up half the battery in about 45 minutes."),
)

MONITORS = Leaf(
    "monitors", "Monitors", ("Monitor", "Gaming Monitor"), 250, 0.55, weight=0.8, style="code",
    attrs=(
        i("screen_inches", "Screen size", (24, 27, 32, 34), "a {v}-inch screen", unit="in",
          price={27: 1.2, 32: 1.5, 34: 1.8}),
        e("resolution", "Resolution", ("1080p", "1440p", "4k"), "{v} resolution",
          price={"1440p": 1.3, "4k": 1.7}),
        i("refresh_hz", "Refresh rate", (60, 75, 120, 144, 165, 240), "a {v} Hz refresh rate",
          unit="Hz", price={144: 1.2, 165: 1.25, 240: 1.5}),
        e("panel", "Panel type", ("ips", "va", "oled"), "a {v} panel", weights=(5, 3, 1),
          price={"oled": 2.0}),
        b("curved", "Curved", 0.25, "a curved design", title="Curved"),
    ),
    lead=("gives you crisp detail for work and play",),
    blurbs=("A height-adjustable stand and VESA mount holes are included.",),
)

KEYBOARDS = Leaf(
    "keyboards", "Keyboards", ("Keyboard", w("Mechanical Keyboard", mechanical=True)), 60, 0.6,
    weight=0.7,
    style="code",
    attrs=(
        b("wireless", "Wireless", 0.55, "wireless connectivity", "a braided USB-C cable",
          title="Wireless", price=1.2),
        b("mechanical", "Mechanical switches", 0.5, "hot-swappable mechanical switches",
          price=1.5),
        b("backlit", "Backlit", 0.7, "per-key backlighting"),
        e("layout", "Layout", ("full_size", "tenkeyless", "compact"), "a {v} layout"),
    ),
    options=(o("color", ("black", "white", "gray", "pink"), (1, 2)),),
    lead=("makes every keystroke crisp and quiet", "brings a satisfying feel to long sessions"),
    blurbs=("Keycaps are double-shot so legends never wear off.",),
)

SMARTPHONES = Leaf(
    "smartphones", "Smartphones", ("Smartphone", "Phone", w("5G Phone", five_g=True)), 600, 0.5,
    weight=1.1, style="code",
    attrs=(
        f("screen_inches", "Screen size", (6.1, 6.3, 6.5, 6.7, 6.8), "a {v}-inch OLED display",
          unit="in"),
        i("camera_mp", "Main camera", (12, 48, 50, 64, 108, 200), "a {v} MP main camera",
          unit="MP", price={108: 1.3, 200: 1.6}),
        i("battery_mah", "Battery capacity", (4000, 4500, 5000, 5500), "a {v} mAh battery",
          unit="mAh"),
        b("five_g", "5G", 0.8, "5G connectivity", title="5G", price=1.15),
        b("unlocked", "Unlocked", 0.7, "unlocked carrier support", title="Unlocked"),
    ),
    options=(o("storage", ("128 GB", "256 GB", "512 GB", "1 TB"), (1, 3), run=True,
               upcharge={"256 GB": 1.15, "512 GB": 1.35, "1 TB": 1.6}),
             o("color", _DARK, (1, 4))),
    lead=("takes sharp photos day and night", "keeps up with everything you do"),
    blurbs=("It ships with a USB-C cable and a one-year warranty.",),
)

SMARTWATCHES = Leaf(
    "smartwatches", "Smartwatches", ("Smartwatch", "Fitness Smartwatch"), 200, 0.55,
    style="code",
    attrs=(
        b("gps", "Built-in GPS", 0.6, "built-in GPS", title="GPS", price=1.25),
        i("battery_days", "Battery life", (2, 3, 5, 7, 10, 14, 21), "up to {v} days per charge",
          unit="days"),
        i("water_resistance_m", "Water resistance", (30, 50, 100), "water resistance to {v} m",
          unit="m"),
        i("case_mm", "Case size", (40, 41, 42, 44, 45, 46), "a {v} mm case", unit="mm"),
        b("cellular", "Cellular", 0.25, "optional cellular connectivity", price=1.3),
    ),
    options=(o("color", ("black", "silver", "rose gold", "graphite", "olive", "pink"), (1, 4)),),
    lead=("tracks workouts, sleep and heart rate", "keeps notifications on your wrist"),
    blurbs=("The quick-release band swaps in seconds.",),
)

CAMERAS = Leaf(
    "digital-cameras", "Digital Cameras", ("Mirrorless Camera", "Digital Camera"), 1000, 0.5,
    weight=0.7, style="code",
    attrs=(
        i("megapixels", "Resolution", (20, 24, 26, 33, 45, 61), "{v} megapixels", unit="MP",
          price={45: 1.5, 61: 1.9}),
        e("sensor", "Sensor format", ("full_frame", "aps_c", "micro_four_thirds", "one_inch"),
          "a {v} sensor", price={"full_frame": 1.6}),
        e("video", "Video", ("1080p", "4k", "6k", "8k"), "{v} video", weights=(1, 5, 2, 1)),
        b("weather_sealed", "Weather sealed", 0.4, "a weather-sealed body"),
        b("kit_lens", "Kit lens included", 0.5, "a zoom kit lens in the box", price=1.2),
    ),
    lead=("captures vivid stills and smooth video",),
    blurbs=("In-body stabilization keeps handheld shots sharp.",),
)

ACTION_CAMERAS = Leaf(
    "action-cameras", "Action Cameras", ("Action Camera",), 250, 0.5, weight=0.6, style="code",
    attrs=(
        i("waterproof_m", "Waterproof depth", (10, 20, 33), "waterproofing to {v} m", unit="m"),
        e("video", "Video", ("4k", "5k", "6k"), "{v} video", weights=(4, 3, 1)),
        b("stabilization", "Stabilization", 0.8, "horizon-leveling stabilization"),
        i("battery_minutes", "Battery life", (60, 90, 120, 150), "{v} minutes of recording",
          unit="min"),
    ),
    lead=("goes wherever the action is",),
    blurbs=("A mounting buckle and a spare battery are included.",),
)

ELECTRONICS = Department(
    "electronics", "Electronics",
    brands=words(
        "Aurelo Voltaro Lumetra Sonarel Pixora Nexalis Quantiq Veridon Kinetra Amplora Zentrix "
        "Orbiqa Helixon Cirvana Tecora Vantrel Solvane Arcvolt Brevix Cobalte Dynara Elektis "
        "Fluxon Gravix"
    ),
    groups=(
        Group("audio", "Audio", (HEADPHONES, EARBUDS, SPEAKERS)),
        Group("computers", "Computers", (LAPTOPS, MONITORS, KEYBOARDS)),
        Group("phones-wearables", "Phones & Wearables", (SMARTPHONES, SMARTWATCHES)),
        Group("cameras", "Cameras", (CAMERAS, ACTION_CAMERAS)),
    ),
    blurbs=("Covered by a two-year limited warranty.",
            "Firmware updates add features over time.",
            "Setup takes minutes with the companion app."),
)
