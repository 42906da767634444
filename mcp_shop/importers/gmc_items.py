"""The items of a Google Merchant Center feed, TSV or XML, as attribute name -> values, in
constant memory: a tab-separated (or comma-separated) file with a header row of attribute
names (``g:`` prefixes, case and spaces do not matter), or an RSS 2.0 / Atom XML feed with
the ``g:`` namespace read by a streaming expat parser that refuses a DOCTYPE (so no entity
can be declared, let alone expanded)."""

from __future__ import annotations

import csv
from collections.abc import Iterator
from dataclasses import dataclass, field
from functools import lru_cache
from typing import IO
from xml.parsers import expat

from mcp_shop.importers.records import BadRow, Where
from mcp_shop.importers.text import open_text

__all__ = ["Item", "attribute_name", "looks_like_xml", "parse_details", "tsv_items",
           "xml_items"]

G_NS = "http://base.google.com/ns/1.0"
ATOM_NS = "http://www.w3.org/2005/Atom"
MAX_CHARS = 1 << 16  # characters kept of one value (a description longer than this is cut)
MAX_VALUES = 32  # values kept of one repeated attribute
MAX_FIELDS = 256  # attributes kept of one item
_CHUNK = 1 << 16
_PLAIN = {"summary": "description", "content": "description"}  # Atom's names


@dataclass
class Item:
    """One feed item: where it starts, its attributes' values and its product details."""

    line: int
    fields: dict[str, list[str]] = field(default_factory=dict)
    details: list[tuple[str, str]] = field(default_factory=list)

    def first(self, name: str) -> str:
        """The first value of attribute ``name`` ('' when absent)."""
        values = self.fields.get(name)
        return values[0] if values else ""

    def add(self, name: str, value: str) -> None:
        value = value.strip()
        if value and (name in self.fields or len(self.fields) < MAX_FIELDS):
            values = self.fields.setdefault(name, [])
            if len(values) < MAX_VALUES:
                values.append(value[:MAX_CHARS])


@lru_cache(maxsize=4096)
def attribute_name(raw: str) -> str:
    """A feed attribute's name as this reader keys it: 'g:Item Group ID' -> 'item_group_id'."""
    name = " ".join(raw.replace("\ufeff", "").split()).lower()
    if name.startswith("g:"):
        name = name[2:]
    return name.strip().replace(" ", "_").replace("-", "_")


def parse_details(text: str) -> list[tuple[str, str]]:
    """TSV ``product_detail``: comma-separated ``section:name:value`` or ``name:value``; a
    piece without a colon continues the previous value (a comma inside a value)."""
    out: list[tuple[str, str]] = []
    for piece in text.split(","):
        parts = [" ".join(p.split()) for p in piece.split(":")]
        if len(parts) >= 3:
            name, value = parts[1], ":".join(parts[2:])
        elif len(parts) == 2:
            name, value = parts
        elif out and parts[0]:
            out[-1] = (out[-1][0], f"{out[-1][1]}, {parts[0]}")
            continue
        else:
            continue
        if name and value:
            out.append((name, value))
    return out


def looks_like_xml(path: str, encoding: str | None = None) -> bool:
    """Whether the file's first non-blank character is '<' (looked for in its first 64 KiB)."""
    with open_text(path, encoding) as fh:
        head = fh.read(_CHUNK)
    return head.lstrip("\ufeff \t\r\n").startswith("<")


def _header(fh: IO[str]) -> tuple[int, list[str], str]:
    """(line, cells, delimiter) of the first non-blank line: tab unless only commas occur."""
    line = 0
    for text in fh:
        line += 1
        if text.strip():
            delimiter = "\t" if "\t" in text or "," not in text else ","
            return line, next(csv.reader([text], delimiter=delimiter), []), delimiter
    return max(line, 1), [], "\t"


def tsv_items(path: str, encoding: str | None = None) -> Iterator[Item | BadRow]:
    """The items of a delimited feed; a shifted row (more non-empty cells than the header)
    is a bad row, a short row's missing cells are empty."""
    with open_text(path, encoding) as fh:
        first, header, delimiter = _header(fh)
        names = [attribute_name(h) for h in header]
        if "id" not in names:
            shown = "\t".join(h.strip() for h in header[:4])[:80]
            yield BadRow(Where(path, first),
                         f"not a Merchant Center feed: the header ({shown!r}) has no id column "
                         "(a tab-separated header of attributes such as id, title, "
                         "description, link, price)" if header else
                         "the file is empty; a Merchant Center feed has a header row (id, "
                         "title, price, ...) and one item a row")
            return
        rows = csv.reader(fh, delimiter=delimiter)
        kind = "TSV" if delimiter == "\t" else "CSV"
        last = 0
        while True:
            try:
                row = next(rows)
            except StopIteration:
                return
            except csv.Error as exc:
                yield BadRow(Where(path, first + last + 1),
                             f"not readable as {kind} ({exc}); row skipped")
                if rows.line_num <= last:
                    return
                last = rows.line_num
                continue
            line, last = first + last + 1, rows.line_num
            if not any(c.strip() for c in row):
                continue
            if len(row) > len(names) and any(c.strip() for c in row[len(names):]):
                yield BadRow(Where(path, line), f"the row has {len(row)} cells but the header "
                             f"has {len(names)} (a tab inside a value?); row skipped")
                continue
            item = Item(line)
            for name, cell in zip(names, row, strict=False):
                if name == "product_detail":
                    item.details.extend(parse_details(cell))
                elif name:
                    item.add(name, cell)
            yield item


class _Refused(Exception):
    def __init__(self, line: int, reason: str) -> None:
        super().__init__(reason)
        self.line, self.reason = line, reason


class _Feed:
    """expat handlers collecting the items of an RSS 2.0 or Atom feed as they complete."""

    def __init__(self, path: str) -> None:
        self.path = path
        self.parser = p = expat.ParserCreate(namespace_separator=" ")
        p.buffer_text = True
        p.SetParamEntityParsing(expat.XML_PARAM_ENTITY_PARSING_NEVER)
        p.StartDoctypeDeclHandler = self._doctype
        p.EntityDeclHandler = self._entity
        p.StartElementHandler = self._start
        p.EndElementHandler = self._end
        p.CharacterDataHandler = self._text
        self.depth = 0
        self.item: Item | None = None
        self.item_depth = 0
        self.name = ""  # the item attribute being read
        self.sub = ""  # the product_detail part being read
        self.detail: dict[str, str] | None = None
        self.text: list[str] = []
        self.size = 0
        self.collect = False
        self.done: list[Item] = []

    def _doctype(self, *_: object) -> None:
        raise _Refused(self.parser.CurrentLineNumber,
                       "the feed has a DOCTYPE, which a Merchant Center feed never needs and "
                       "this reader refuses (entities could expand without bound); remove it")

    def _entity(self, *_: object) -> None:
        raise _Refused(self.parser.CurrentLineNumber, "the feed declares an entity; remove it")

    def _start(self, tag: str, attrs: dict[str, str]) -> None:
        self.depth += 1
        ns, _, local = tag.rpartition(" ")
        if self.depth == 1 and local not in ("rss", "feed"):
            raise _Refused(self.parser.CurrentLineNumber,
                           f"not a Merchant Center feed: the root element is <{local}>; an XML "
                           "feed is RSS 2.0 (<rss><channel><item>) or Atom (<feed><entry>) "
                           f"with xmlns:g=\"{G_NS}\"")
        if self.item is None:
            if (local == "item" and not ns) or (local == "entry" and ns == ATOM_NS):
                self.item = Item(self.parser.CurrentLineNumber)
                self.item_depth = self.depth
            return
        level = self.depth - self.item_depth
        if level == 1:
            plain = not ns or ns == ATOM_NS
            self.name = ("~" if plain else "") + attribute_name(_PLAIN.get(local, local)
                                                                if plain else local)
            if self.name == "product_detail":
                self.detail = {}
            else:
                self._collect(attrs.get("href", "") if plain and local == "link" else "")
        elif level == 2 and self.detail is not None:
            self.sub = attribute_name(local)
            self._collect("")

    def _collect(self, start: str) -> None:
        self.collect, self.text, self.size = True, [start] if start else [], len(start)

    def _text(self, data: str) -> None:
        if self.collect and self.size < MAX_CHARS:
            self.text.append(data)
            self.size += len(data)

    def _end(self, tag: str) -> None:
        item = self.item
        if item is not None:
            level = self.depth - self.item_depth
            if level == 0:
                for name in [n for n in item.fields if n.startswith("~")]:
                    values = item.fields.pop(name)
                    item.fields.setdefault(name[1:], values)  # g: attributes come first
                self.done.append(item)
                self.item = None
            elif level == 1 and self.detail is not None:
                label = self.detail.get("attribute_name", "")
                value = self.detail.get("attribute_value", "")
                if label and value and len(item.details) < MAX_VALUES:
                    item.details.append((" ".join(label.split()), " ".join(value.split())))
                self.detail = None
            elif level == 1 and self.collect:
                item.add(self.name, "".join(self.text))
                self.collect = False
            elif level == 2 and self.detail is not None and self.collect:
                self.detail[self.sub] = "".join(self.text).strip()[:MAX_CHARS]
                self.collect = False
        self.depth -= 1

    def drain(self) -> Iterator[Item]:
        done, self.done = self.done, []
        yield from done


def xml_items(path: str, encoding: str | None = None) -> Iterator[Item | BadRow]:
    """The items of an RSS 2.0 or Atom feed; XML that stops being well-formed ends the read
    with one bad row (the items before it are kept)."""
    feed = _Feed(path)
    with open_text(path, encoding) as fh:
        while True:
            chunk = fh.read(_CHUNK)
            try:
                feed.parser.Parse(chunk, not chunk)
            except expat.ExpatError as exc:
                yield from feed.drain()
                lost = (f"; the item starting at line {feed.item.line} and the rest of the "
                        "file are not read" if feed.item is not None
                        else "; the rest of the file is not read")
                yield BadRow(Where(path, exc.lineno or 1),
                             f"not well-formed XML ({expat.ErrorString(exc.code)} at line "
                             f"{exc.lineno}, column {exc.offset + 1}){lost}")
                return
            except _Refused as exc:
                yield from feed.drain()
                yield BadRow(Where(path, exc.line or 1), exc.reason)
                return
            yield from feed.drain()
            if not chunk:
                return
