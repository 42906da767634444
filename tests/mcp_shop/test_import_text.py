"""The importers' shared helpers: prices, HTML, encodings, names and attribute typing."""

from __future__ import annotations

import gzip
from collections import Counter
from pathlib import Path

import pytest

from mcp_shop.importers.stats import AttrStats, parse_number, slugify, snake_name, spec_for
from mcp_shop.importers.text import (
    detect_encoding,
    html_to_text,
    open_text,
    parse_price,
    split_path,
)


@pytest.mark.parametrize(("value", "cents"), [
    ("15.00 USD", 1500), ("$1,299.99", 129999), ("1.299,99 EUR", 129999), ("12,50 €", 1250),
    (12.99, 1299), (7, 700), ("0.5", 50), ("€ 3", 300), ("1,299", 129900), ("£1 000.50", 100050),
    (None, None), ("", None), ("None", None), ("abc", None), ("-5", None), ("$10 - $20", None),
    (float("nan"), None), (float("inf"), None), (1e308, None), (True, None), ("1" * 70, None),
    ("US$5", 500), ("5 usd", 500), ("12\u00a0€", 1200), ("from $5.99", None), ("12 x 3", None),
    ("EUR12,5", 1250), ("5$", 500), ("abcd12", None),
])
def test_parse_price(value: object, cents: int | None) -> None:
    assert parse_price(value) == cents  # type: ignore[arg-type]


def test_html_to_text() -> None:
    assert html_to_text("<p>Soft &amp; warm</p><ul><li>Wool</li><li>Cotton</li></ul>"
                        "<script>alert(1)</script>") == "Soft & warm\n- Wool\n- Cotton"
    assert html_to_text("Line one<br>Line&nbsp;two<br/><br>") == "Line one\nLine two"
    assert html_to_text("plain  text, no tags") == "plain text, no tags"
    assert html_to_text("<b>unclosed <i>tags") == "unclosed tags"
    assert html_to_text(None) == ""


def test_split_path_and_names() -> None:
    assert split_path(" Apparel >Clothing>  > Shirts & Tops ") == (
        "Apparel", "Clothing", "Shirts & Tops")
    assert split_path("") == ()
    assert slugify("Café & Bar") == "cafe-bar" and slugify("☕") == "c"
    assert snake_name("Battery Life (hrs)") == "battery_life_hrs"
    assert snake_name("3D ready") == "a_3d_ready" and snake_name("«»") == "attribute"


def test_parse_number() -> None:
    assert parse_number("20 hours") == (20.0, "hours")
    assert parse_number("1,5 kg") == (1.5, "kg")
    assert parse_number("500ml") == (500.0, "ml")
    assert parse_number("12") == (12.0, "")
    assert parse_number("about 12 kg") is None and parse_number("12 x 3 cm") is None


def _stats(values: list[str]) -> AttrStats:
    s = AttrStats(label="Label")
    for v in values:
        s.add(v)
    return s


def test_spec_types() -> None:
    assert spec_for("w", _stats(["1.5 kg", "2 kg"]))["type"] == "float"
    assert spec_for("w", _stats(["1 kg", "2 kg"])) == {"name": "w", "label": "Label",
                                                       "type": "int", "unit": "kg"}
    assert spec_for("w", _stats(["1 kg", "2 lb"]))["type"] == "text"  # mixed units
    assert spec_for("b", _stats(["Yes", "no", "TRUE"]))["type"] == "bool"
    assert spec_for("c", _stats(["Red", "Blue", "Red", "Blue"]))["values"] == ["Blue", "Red"]
    assert spec_for("c", _stats(["Red", "Blue", "Green"]))["type"] == "text"  # not repeated
    many = _stats([f"v{i}" for i in range(30)] * 3)
    assert many.values is None and spec_for("c", many)["type"] == "text"
    assert Counter(_stats(["a", "a"]).values or {}) == Counter({"a": 2})


def test_open_text_encodings(tmp_path: Path) -> None:
    text = "Größe;Café\n"
    cases = {"bom.csv": b"\xef\xbb\xbf" + text.encode(), "utf8.csv": text.encode(),
             "cp1252.csv": "Größe;Café – “x”\n".encode("cp1252"),
             "latin1.csv": b"Gr\xf6\xdfe;\x81\x8d\n"}  # 0x81 is undefined in cp1252
    expected = {"bom.csv": ("utf-8-sig", text), "utf8.csv": ("utf-8-sig", text),
                "cp1252.csv": ("cp1252", "Größe;Café – “x”\n"),
                "latin1.csv": ("latin-1", "Größe;\x81\x8d\n")}
    for name, data in cases.items():
        (tmp_path / name).write_bytes(data)
        assert detect_encoding(str(tmp_path / name)) == expected[name][0]
        with open_text(str(tmp_path / name)) as fh:
            assert fh.read() == expected[name][1]
    original = "".join(f"line {i} {i * 7919 % 104729:x}\n" for i in range(5000)).encode()
    packed = gzip.compress(original)
    (tmp_path / "cut.gz").write_bytes(packed[:len(packed) // 2])
    with open_text(str(tmp_path / "cut.gz")) as fh:  # ends early instead of raising
        got = fh.read().encode()
    assert 1000 < len(got) < len(original) and original.startswith(got)


def test_attribute_names_per_category_are_bounded() -> None:
    from mcp_shop.importers.stats import MAX_ATTRIBUTES, Tree

    tree = Tree()
    for i in range(MAX_ATTRIBUTES + 50):
        tree.add(("A", "B"), {f"Key {i}": "1 kg", "Colour": "Red"})
    attrs = tree.nodes[("A", "B")].attrs
    assert len(attrs) == MAX_ATTRIBUTES and attrs["colour"].count == MAX_ATTRIBUTES + 50
    assert "key_0" in attrs and f"key_{MAX_ATTRIBUTES + 10}" not in attrs
