"""Scale benchmark of ``mcp-shop import``: write an Amazon-layout metadata file of N items,
import it into SQLite, time it and measure the import's peak memory, then build the search
index and measure search latency with the shop-core benchmark's query mix (with
--compare-generated, also over the generated catalog of the same size, measured by the same
run on the same machine).

    python bench/import_scale.py --items 100000 --dir /tmp/import-bench
    python bench/import_scale.py --items 1000000 --dir /tmp/import-bench --compare-generated

The file is a pure function of --items and --seed (reused when it exists): ~30 category paths
over 8 departments, text words drawn from a 6,000-word vocabulary with Zipf frequencies,
titles of 40-160 characters, 3-6 feature bullets, 1-3 description
paragraphs with some HTML, 4-9 details (numbers with units, yes/no, colours, materials, free
text), image and video lists the reader ignores, prices as numbers, "$" strings, null (3%)
and "None" (1%), ratings absent on 10% of the items. The import runs in a child process
(``mcp-shop import --no-index``); the peak RSS is that process's plus its reader process's,
sampled every 50 ms.
"""

from __future__ import annotations

import argparse
import json
import random
import shutil
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_core import ms, pct, query_mix, timed  # noqa: E402

from mcp_shop import Shop  # noqa: E402
from mcp_shop.catalog import build_catalog, load_catalog_info  # noqa: E402
from mcp_shop.db import create_schema, make_engine  # noqa: E402

PATHS = [
    ["Electronics", "Headphones, Earbuds & Accessories", "Headphones", "Over-Ear Headphones"],
    ["Electronics", "Headphones, Earbuds & Accessories", "Earbuds"],
    ["Electronics", "Computers & Accessories", "Laptops"],
    ["Electronics", "Computers & Accessories", "Keyboards"],
    ["Electronics", "Camera & Photo", "Tripods"],
    ["Electronics", "Portable Audio & Video", "Bluetooth Speakers"],
    ["Home & Kitchen", "Kitchen & Dining", "Coffee, Tea & Espresso", "Coffee Makers"],
    ["Home & Kitchen", "Kitchen & Dining", "Cookware", "Frying Pans"],
    ["Home & Kitchen", "Bedding", "Sheets & Pillowcases"],
    ["Home & Kitchen", "Home Décor", "Candles"],
    ["Clothing, Shoes & Jewelry", "Men", "Shoes", "Running Shoes"],
    ["Clothing, Shoes & Jewelry", "Women", "Clothing", "Dresses"],
    ["Clothing, Shoes & Jewelry", "Women", "Shoes", "Sandals"],
    ["Clothing, Shoes & Jewelry", "Men", "Clothing", "Jackets & Coats"],
    ["Sports & Outdoors", "Outdoor Recreation", "Camping & Hiking", "Tents"],
    ["Sports & Outdoors", "Exercise & Fitness", "Yoga", "Yoga Mats"],
    ["Sports & Outdoors", "Cycling", "Bike Helmets"],
    ["Toys & Games", "Building Toys", "Building Sets"],
    ["Toys & Games", "Puzzles", "Jigsaw Puzzles"],
    ["Toys & Games", "Games", "Board Games"],
    ["Beauty & Personal Care", "Skin Care", "Face", "Moisturizers"],
    ["Beauty & Personal Care", "Hair Care", "Shampoo & Conditioner"],
    ["Beauty & Personal Care", "Fragrance", "Women's Perfume"],
    ["Books", "Literature & Fiction"],
    ["Books", "Cookbooks, Food & Wine"],
    ["Books", "Science & Math"],
    ["Grocery & Gourmet Food", "Beverages", "Coffee"],
    ["Grocery & Gourmet Food", "Snack Foods", "Chips & Crisps"],
    ["Grocery & Gourmet Food", "Pantry Staples", "Olive Oil"],
    [],  # main_category only
]
WORDS = [
    "premium", "classic", "ultra", "compact", "portable", "wireless", "organic", "deluxe",
    "everyday", "travel", "lightweight", "heavy-duty", "soft", "durable", "modern",
    "vintage", "eco", "smart", "professional", "mini", "max", "plus", "pro", "essential",
    "signature", "natural", "handmade", "waterproof", "quiet", "fast", "slim", "large",
    "small", "original", "advanced", "comfort"
]
NOUNS = [
    "set", "kit", "pack", "bundle", "edition", "model", "series", "collection", "system",
    "unit"
]
COLOURS = ["Black", "White", "Navy", "Red", "Grey", "Green", "Beige", "Blue"]
MATERIALS = ["Cotton", "Polyester", "Stainless Steel", "Aluminium", "Bamboo", "Leather",
             "Plastic", "Glass"]
BRANDS = [f"{a}{b}" for a in ("Nor", "Vel", "Kai", "Lum", "Ast", "Bri", "Cor", "Dex", "Eon",
                              "Fyn") for b in ("tek", "ora", "ix", "ano", "ly", "wave", "ford")]
SENTENCE = ("This {adj} {noun} is made for people who want {adj2} results every day, with a "
            "{adj3} finish and a design that lasts.")


def _vocabulary(size: int = 6000) -> tuple[list[str], list[float]]:
    """A fixed vocabulary of pseudo-words with Zipf weights (rank r has weight 1/r), so that
    word frequencies look like a real product corpus: a few words are everywhere, most rare."""
    onsets = ["b", "c", "d", "f", "g", "l", "m", "n", "p", "r", "s", "t", "v", "br", "cl",
              "dr", "fl", "gr", "pl", "st", "tr", "sh", "ch", "k"]
    vowels = ["a", "e", "i", "o", "u", "ai", "ea", "oo", "ou"]
    codas = ["", "n", "r", "l", "s", "t", "x", "ck", "nd", "st", "m"]
    rng = random.Random(20261205)
    words: list[str] = list(WORDS)
    seen = set(words)
    while len(words) < size:
        word = "".join(rng.choice(onsets) + rng.choice(vowels) for _ in range(rng.randint(1, 3)))
        word += rng.choice(codas)
        if word not in seen and len(word) > 3:
            seen.add(word)
            words.append(word)
    cum, total = [], 0.0
    for rank in range(1, size + 1):
        total += 1.0 / rank
        cum.append(total)
    return words, cum


VOCABULARY, _CUM = _vocabulary()


def _text(rng: random.Random, n: int) -> str:
    return " ".join(rng.choices(VOCABULARY, cum_weights=_CUM, k=n))


def item(rng: random.Random, i: int) -> dict[str, Any]:
    """One Amazon-layout item (a pure function of the generator's state)."""
    path = PATHS[i % len(PATHS)] if rng.random() < 0.5 else rng.choice(PATHS)
    brand = rng.choice(BRANDS)
    leaf = path[-1] if path else "Gift"
    title = f"{brand} {_text(rng, rng.randint(2, 8))} {leaf} {rng.choice(NOUNS)} {i}"
    details: dict[str, Any] = {"Brand": brand, "Color": rng.choice(COLOURS),
                               "Material": rng.choice(MATERIALS)}
    if rng.random() < 0.8:
        details["Item Weight"] = f"{rng.randint(1, 500) / 10:g} {rng.choice(['ounces', 'pounds'])}"
    if path and path[0] == "Electronics":
        details["Battery Life"] = f"{rng.choice([8, 12, 20, 24, 30, 40, 60])} hours"
        details["Bluetooth"] = rng.choice(["Yes", "No"])
    if rng.random() < 0.5:
        details["Number of Pieces"] = str(rng.randint(1, 12))
    if rng.random() < 0.6:
        details["Style"] = _text(rng, 2).title()
    details["Date First Available"] = f"March {rng.randint(1, 28)}, 20{rng.randint(10, 23)}"
    details["Best Sellers Rank"] = {path[0] if path else "All": rng.randint(1, 900_000)}
    r = rng.random()
    price: Any = (None if r < 0.03 else "None" if r < 0.04
                  else f"${rng.randint(199, 49999) / 100:,.2f}" if r < 0.5
                  else round(rng.uniform(1.99, 499.99), 2))
    paragraphs = []
    for _ in range(rng.randint(1, 3)):
        sentence = SENTENCE.format(adj=rng.choice(WORDS), noun=rng.choice(NOUNS),
                                   adj2=rng.choice(WORDS), adj3=rng.choice(WORDS))
        paragraphs.append(f"<p>{sentence} {_text(rng, rng.randint(10, 60))}</p>")
    out: dict[str, Any] = {
        "main_category": path[0] if path else rng.choice(["Amazon Home", "All Beauty"]),
        "title": title,
        "average_rating": round(rng.uniform(2.5, 5.0), 1) if rng.random() < 0.9 else None,
        "rating_number": int(rng.lognormvariate(3.5, 1.6)) if rng.random() < 0.9 else None,
        "features": [f"{_text(rng, 3).upper()}: {_text(rng, rng.randint(10, 30))}"
                     for _ in range(rng.randint(3, 6))],
        "description": paragraphs,
        "price": price,
        "images": [{"thumb": f"https://m.media-amazon.com/images/I/{i:08d}{k}._SS40_.jpg",
                    "large": f"https://m.media-amazon.com/images/I/{i:08d}{k}.jpg",
                    "variant": "MAIN" if k == 0 else f"PT0{k}"} for k in range(rng.randint(2, 6))],
        "videos": [],
        "store": brand if rng.random() < 0.95 else None,
        "categories": path,
        "details": details,
        "parent_asin": f"B{i:09d}",
        "bought_together": None,
    }
    return out


def _rss_kb(pid: int) -> int:
    """Resident memory of ``pid`` and its descendants, in KiB (0 once gone)."""
    total = 0
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                total += int(line.split()[1])
        children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
    except (OSError, ValueError):
        return total
    return total + sum(_rss_kb(int(c)) for c in children)


def _sample_rss(proc: subprocess.Popen, peak: list[int]) -> None:
    """Keep the largest total RSS of ``proc``'s process tree in ``peak[0]`` until it ends."""
    while proc.poll() is None:
        peak[0] = max(peak[0], _rss_kb(proc.pid))
        time.sleep(0.05)


def write_file(path: Path, items: int, seed: int) -> float:
    """Write the file (when missing); returns the seconds it took (0 when reused)."""
    if path.exists():
        return 0.0
    started = time.perf_counter()
    rng = random.Random(seed)
    tmp = path.with_suffix(".part")
    with tmp.open("w", encoding="utf-8") as fh:
        buf: list[str] = []
        for i in range(items):
            buf.append(json.dumps(item(rng, i), ensure_ascii=False))
            if len(buf) == 5000:
                fh.write("\n".join(buf) + "\n")
                buf = []
        if buf:
            fh.write("\n".join(buf) + "\n")
    tmp.rename(path)
    return time.perf_counter() - started


def _search(shop: Shop, args: argparse.Namespace, name: str) -> dict[str, Any]:
    """Search latency over bench_core's query mix, drawn from the catalog itself."""
    out: dict[str, Any] = {}
    rng = random.Random(args.seed)
    sid = shop.open_session(seed=1).session_id
    mix = query_mix(shop, rng)
    all_times: list[float] = []
    for kind, queries in mix.items():
        times = [timed(shop.search, sid, q)[0] for _ in range(args.rounds) for q in queries]
        all_times += times
        out[f"{name}_search_{kind}_ms_p50_p95"] = (ms(statistics.median(times)),
                                                   ms(pct(times, 95)))
    out[f"{name}_search_all_ms_p50_p95"] = (ms(statistics.median(all_times)),
                                            ms(pct(all_times, 95)))
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--items", type=int, default=100_000)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--dir", default="/tmp/import-bench")
    ap.add_argument("--rounds", type=int, default=3, help="passes over the query mix")
    ap.add_argument("--compare-generated", action="store_true",
                    help="also measure search over the generated catalog of --items products "
                    "(built once in --dir, then reused)")
    args = ap.parse_args()
    folder = Path(args.dir)
    folder.mkdir(parents=True, exist_ok=True)
    src = folder / f"amazon-v2-{args.items}-{args.seed}.jsonl"
    out: dict[str, Any] = {"items": args.items}
    out["file_write_s"] = round(write_file(src, args.items, args.seed), 1)
    out["file_mb"] = round(src.stat().st_size / 2**20, 1)
    db = folder / f"imported-{args.items}.db"
    for p in [*folder.glob(db.name + "*"), folder / f"index-{args.items}"]:
        if p.is_dir():
            shutil.rmtree(p)
        elif p.exists():
            p.unlink()
    started = time.perf_counter()
    proc = subprocess.Popen(
        [sys.executable, "-m", "mcp_shop.cli", "import", "--format", "amazon", str(src),
         "--db", f"sqlite:///{db}", "--no-index"], stdout=subprocess.PIPE,
        stderr=subprocess.PIPE, text=True)
    peak = [0]
    sampler = threading.Thread(target=_sample_rss, args=(proc, peak), daemon=True)
    sampler.start()
    stdout, stderr = proc.communicate()
    sampler.join()
    out["import_s"] = round(time.perf_counter() - started, 1)
    out["import_peak_rss_mb"] = round(peak[0] / 1024, 1)  # the importer and its reader
    if proc.returncode != 0:
        print(stdout, stderr, file=sys.stderr)
        raise SystemExit(f"import failed with exit code {proc.returncode}")
    out["import_summary"] = stdout.strip().splitlines()[0]
    out["db_mb"] = round(sum(p.stat().st_size for p in folder.glob(db.name + "*")
                             if p.is_file()) / 2**20, 1)
    engine = make_engine(f"sqlite:///{db}")
    t, shop = timed(Shop, engine, index_dir=folder / f"index-{args.items}")
    out["index_build_s"] = round(t, 1)
    out.update(_search(shop, args, "imported"))
    engine.dispose()
    if args.compare_generated:
        gen_db = folder / f"generated-{args.items}.db"
        existed = gen_db.exists()
        engine = make_engine(f"sqlite:///{gen_db}")
        if not existed or load_catalog_info(engine) is None:
            create_schema(engine)
            out["generated_build_s"] = round(timed(build_catalog, engine, seed=args.seed,
                                                   size=args.items)[0], 1)
        shop = Shop(engine, index_dir=folder / f"index-generated-{args.items}")
        out.update(_search(shop, args, "generated"))
        engine.dispose()
    for key, value in out.items():
        print(f"{key}: {value}")


if __name__ == "__main__":
    main()
