"""The words of a user's query text and the BM25 query over the index's text fields (cached per
index): the query side of :mod:`mcp_shop.search.index`, which builds and opens the index."""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

import tantivy

from mcp_shop.search.index import TEXT_FIELDS, SearchIndex

__all__ = ["MAX_TERMS", "QueryWord", "text_query", "tokenize", "word_forms"]

MAX_TERMS = 32  # query words considered
_MAX_TEXT = 2000  # query characters considered
_WORD = re.compile(r"[^\W_]+")


@dataclass(frozen=True)
class QueryWord:
    """One word of a user's text: its stem (title, tags) and its plain forms (description)."""

    stem: str
    forms: tuple[str, ...]


def word_forms(word: str) -> tuple[str, ...]:
    """The word with its simple English plural or singular, e.g. 'battery' -> 'batteries'.

    The description is indexed without stemming (stemming it was most of the build time), so
    the query asks for these forms there instead.
    """
    out = [word]
    if len(word) > 3 and word.isalpha():
        if word.endswith("ies"):
            out.append(word[:-3] + "y")
        elif word.endswith(("ses", "xes", "zes", "ches", "shes")):
            out.append(word[:-2])
        elif word.endswith("s") and not word.endswith("ss"):
            out.append(word[:-1])
        elif word.endswith("y") and word[-2] not in "aeiou":
            out.append(word[:-1] + "ies")
        elif word.endswith(("s", "x", "z", "ch", "sh")):
            out.append(word + "es")
        else:
            out.append(word + "s")
    return tuple(out)


def tokenize(index: SearchIndex, text: str) -> list[QueryWord]:
    """The distinct words of a user's text: unicode letters and digits, lowercased.

    Anything else (punctuation, operators, quotes, emoji) is dropped, so no user text ever
    reaches a query parser; at most ``MAX_TERMS`` words of the first 2000 characters are kept.
    Results are cached per index (the analyzers never change).
    """
    known: dict[str, tuple[QueryWord, ...]] = index.cache.setdefault("tokens", {})
    found = known.get(text)
    if found is None:
        found = tuple(_tokenize(index, text))
        if len(known) >= 4096:
            known.clear()
        known[text] = found
    return list(found)


def _tokenize(index: SearchIndex, text: str) -> list[QueryWord]:
    words: dict[str, QueryWord] = {}
    for m in _WORD.finditer(unicodedata.normalize("NFKC", text[:_MAX_TEXT])):
        if len(m.group().encode()) >= 40:  # the index drops such tokens too
            continue
        for plain in index.plain_analyzer.analyze(m.group()):
            for stem in index.analyzer.analyze(plain):
                if stem not in words:
                    words[stem] = QueryWord(stem, word_forms(plain))
        if len(words) >= MAX_TERMS:
            break
    return list(words.values())[:MAX_TERMS]


def text_query(index: SearchIndex, words: list[QueryWord], mode: str) -> tantivy.Query:
    """BM25 query over the text fields: each word in any field; ``mode`` 'all' requires every
    word, 'any' at least one. Cached per index (queries are immutable)."""
    key = (tuple(words), mode)
    known: dict[tuple[tuple[QueryWord, ...], str], tantivy.Query] = index.cache.setdefault(
        "text_queries", {})
    found = known.get(key)
    if found is None:
        found = _text_query(index, words, mode)
        if len(known) >= 4096:
            known.clear()
        known[key] = found
    return found


def _text_query(index: SearchIndex, words: list[QueryWord], mode: str) -> tantivy.Query:
    q, should = tantivy.Query, tantivy.Occur.Should
    per_word = []
    for word in words:
        stem = [(should, q.boost_query(q.term_query(index.schema, name, word.stem,
                                                    index_option="freq"), TEXT_FIELDS[name]))
                for name in ("title", "tags")]
        plain = [(should, q.term_query(index.schema, "description", form, index_option="freq"))
                 for form in word.forms]
        desc = q.boost_query(plain[0][1] if len(plain) == 1 else q.boolean_query(plain),
                             TEXT_FIELDS["description"])
        per_word.append(q.boolean_query([*stem, (should, desc)]))
    if len(per_word) == 1:
        return per_word[0]
    occur = tantivy.Occur.Must if mode == "all" else should
    return q.boolean_query([(occur, w) for w in per_word])
