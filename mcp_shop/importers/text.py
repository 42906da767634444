"""Text helpers every reader shares: HTML to plain text, prices to cents, opening a file in
whatever encoding it came in (UTF-8 with or without BOM, else cp1252 or latin-1; gzip too)."""

from __future__ import annotations

import codecs
import html
import io
import math
import re
import zlib
from collections.abc import Iterator
from contextlib import contextmanager
from typing import IO, Any

__all__ = ["MAX_PRICE_CENTS", "clean_text", "detect_encoding", "html_to_text", "open_text",
           "parse_price", "split_path"]

MAX_PRICE_CENTS = 100_000_000_000  # a billion dollars: anything above is not a shop price
_BLOCK = frozenset({"p", "div", "br", "li", "tr", "h1", "h2", "h3", "h4", "h5", "h6", "ul", "ol",
                    "table", "section", "article", "blockquote", "dd", "dt", "hr"})
_DROP = re.compile(r"<(script|style|head|title)\b[^>]*>.*?</\1\s*>|<!--.*?-->", re.S | re.I)
_TAG = re.compile(r"<(/?)([A-Za-z][A-Za-z0-9]*)\b[^>]*>|<![^>]*>")
_TAG_HINT = re.compile(r"<[A-Za-z/!]|&[#A-Za-z0-9]+;")


def _tag(m: re.Match[str]) -> str:
    name = (m.group(2) or "").lower()
    if name == "li" and not m.group(1):
        return "\n- "
    return "\n" if name in _BLOCK else ""


def clean_text(text: str) -> str:
    """``text`` as a database can store it: NUL characters dropped (PostgreSQL text cannot
    hold them) and lone surrogates (valid in JSON escapes, not in UTF-8) replaced by U+FFFD."""
    if "\x00" in text:
        text = text.replace("\x00", "")
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        text = "".join("\ufffd" if "\ud800" <= c <= "\udfff" else c for c in text)
    return text


def html_to_text(text: str | None) -> str:
    """Plain text of an HTML fragment: tags dropped (script and style with their content),
    block elements and ``<br>`` as line breaks, list items as ``- ``, entities decoded, runs
    of spaces and blank lines collapsed.

    >>> html_to_text("<p>Soft &amp; warm</p><ul><li>Wool</li><li>Cotton</li></ul>")
    'Soft & warm\\n- Wool\\n- Cotton'
    """
    if not text:
        return ""
    if _TAG_HINT.search(text):
        text = html.unescape(_TAG.sub(_tag, _DROP.sub("", text)))
    if "\n" not in text and "\r" not in text:
        return _fold(text)
    # line by line: white space runs as one space, blank lines and empty list items dropped
    return "\n".join([line for line in map(_fold, text.replace("\r", "\n").split("\n"))
                      if line and line != "-"])


def _fold(line: str) -> str:
    """``line`` with runs of white space as one space, trimmed (the common case of a line with
    single spaces only is checked by two scans instead of a split)."""
    if "  " in line or not line.isprintable():  # tabs, no-break and other spaces
        return " ".join(line.split())
    return line.strip(" ")


_SIGN = "$€£¥₹"
# an amount with at most a currency code or sign before or after it ("US$ 5", "5 EUR")
_PRICE = re.compile(rf"^(?:[A-Za-z]{{3}}|[A-Z]{{0,2}}[{_SIGN}])?\s*(\d[\d.,' ]*?)\s*"
                    rf"(?:[A-Za-z]{{3}}|[{_SIGN}])?$")
_NUMBER = re.compile(r"^\d{1,3}(?:[.,' ]\d{3})*(?:[.,]\d{1,2})?$|^\d+(?:[.,]\d{1,2})?$")


def parse_price(value: str | float | None) -> int | None:
    """A price in cents, or None when ``value`` is not a usable price.

    Accepts numbers and strings with a currency code or sign and thousands separators:
    ``"15.00 USD"`` -> 1500, ``"$1,299.99"`` -> 129999, ``"1.299,99 EUR"`` -> 129999,
    ``"12,50 €"`` -> 1250, ``12.99`` -> 1299. ``None``, ``""``, ``"None"``, words, negative,
    non-finite and absurd (over a billion) amounts give None, and so do ranges ("$10 - $20")
    and amounts among other words ("from $5", "12 x 3").
    """
    if value is None or isinstance(value, bool):
        return None
    if isinstance(value, (int, float)):
        if not math.isfinite(value) or not 0 <= value <= MAX_PRICE_CENTS / 100:
            return None
        cents = round(value * 100)
        return cents if cents <= MAX_PRICE_CENTS else None
    if not isinstance(value, str) or len(value) > 64:
        return None
    m = _PRICE.match(value.replace("\u00a0", " ").strip())
    text = m.group(1) if m else ""
    if not text or not _NUMBER.match(text):
        return None
    last_dot, last_comma = text.rfind("."), text.rfind(",")
    decimal = max(last_dot, last_comma)
    if decimal >= 0 and len(text) - decimal - 1 in (1, 2) and text.count(text[decimal]) == 1:
        whole, frac = text[:decimal], text[decimal + 1:]
    else:  # only thousands separators ("1,299", "1.299.000")
        whole, frac = text, ""
    digits = re.sub(r"[.,' ]", "", whole)
    if not digits.isdigit():
        return None
    cents = int(digits) * 100 + (int(frac.ljust(2, "0")) if frac else 0)
    return cents if cents <= MAX_PRICE_CENTS else None


def split_path(text: str | None) -> tuple[str, ...]:
    """A taxonomy path's names: ``"A > B > C"`` -> ``("A", "B", "C")``, blanks dropped."""
    if not text:
        return ()
    return tuple(p for p in (" ".join(part.split()) for part in text.split(">")) if p)


class _Gzip(io.RawIOBase):
    """A gzip stream that ends where a truncated or corrupt file stops making sense (the
    readers then see a short last record, reported as a bad row) instead of raising; every
    byte that could be decompressed before that point is delivered. Multi-member files are
    read through."""

    def __init__(self, fh: IO[bytes]) -> None:
        self._fh = fh
        self._z = zlib.decompressobj(wbits=31)
        self._pending = b""
        self._done = False

    def readable(self) -> bool:
        return True

    def _more(self) -> None:
        while not self._pending and not self._done:
            data = self._z.unused_data if self._z.eof else b""
            if self._z.eof:
                self._z = zlib.decompressobj(wbits=31)
            data += self._fh.read(1 << 16)
            if not data:
                self._done = True
                return
            try:
                self._pending = self._z.decompress(data)
            except zlib.error:
                self._done = True

    def readinto(self, buffer: Any) -> int:
        self._more()
        n = min(len(buffer), len(self._pending))
        buffer[:n] = self._pending[:n]
        self._pending = self._pending[n:]
        return n

    def close(self) -> None:
        try:
            self._fh.close()
        finally:
            super().close()


def _raw(path: str) -> IO[bytes]:
    fh = open(path, "rb")  # noqa: SIM115 - returned to the caller
    if fh.peek(2)[:2] == b"\x1f\x8b":
        return io.BufferedReader(_Gzip(fh), 1 << 16)
    return fh


def detect_encoding(path: str) -> str:
    """'utf-8-sig' when the whole file decodes as UTF-8 (BOM or not), else 'cp1252' when that
    decodes it, else 'latin-1' (which decodes anything). One streaming scan of the bytes
    per candidate; a gzip file is scanned decompressed."""
    for encoding in ("utf-8-sig", "cp1252"):
        decoder = codecs.getincrementaldecoder(encoding)()
        try:
            with _raw(path) as fh:
                while chunk := fh.read(1 << 20):
                    decoder.decode(chunk)
            decoder.decode(b"", final=True)
            return encoding
        except UnicodeDecodeError:
            continue
    return "latin-1"


@contextmanager
def open_text(path: str, encoding: str | None = None) -> Iterator[IO[str]]:
    """``path`` as text, newlines untranslated (ready for ``csv.reader``): gzip read
    transparently, the encoding detected by :func:`detect_encoding` unless given. Decoding
    errors that remain (a truncated gzip's last bytes) become U+FFFD instead of raising."""
    enc = encoding or detect_encoding(path)
    raw = _raw(path)
    stream = io.TextIOWrapper(raw, encoding=enc, errors="replace", newline="")  # type: ignore[arg-type]
    try:
        yield stream
    finally:
        stream.close()
