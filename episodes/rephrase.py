"""Optional rephrasing of the shopper's messages through an OpenAI-compatible chat endpoint.

The rule-based shopper decides what to say (which slot to reveal, whether to accept a product or
agree to an action); a language model can then say it in its own words, so that agents are not
trained on a handful of templates. The decision stays the ground truth: ids, prices, sizes and
codes must survive the rewrite, and when they do not (or the endpoint fails) the original text is
used. Off by default.

    rephraser = ChatRephraser("http://127.0.0.1:8001/v1", model="qwen2.5-7b-instruct")
    EpisodeController(shop, rephraser=rephraser)

Any server speaking the Chat Completions wire format works (vLLM, SGLang, llama.cpp server,
Ollama, hosted APIs). The API key is read from ``OPENAI_API_KEY`` unless given.
"""

from __future__ import annotations

import http.client
import json
import logging
import os
import re
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from typing import Any

__all__ = ["ChatRephraser", "Rephraser", "facts_kept"]

log = logging.getLogger(__name__)

Rephraser = Callable[[str, str], str]
"""``(text, persona) -> text``: how a rephrased shopper message is produced."""

_FACTS = re.compile(r"\b[POVRX]-\d[\d-]*\b|\$\d[\d,]*(?:\.\d\d)?|\b\d+(?:\.\d+)?\b|"
                    r"\b[A-Z0-9]{4,}\b")

_SYSTEM = (
    "You rewrite a customer's chat message to an online shop's assistant in your own words. "
    "Keep the meaning exactly: every product, order or variant id, price, number, size, colour, "
    "brand and discount code must appear unchanged; add no new facts, requests or questions. "
    "Keep it short and casual, in the voice of this customer: {persona}. Reply with the "
    "rewritten message only."
)


def facts_kept(original: str, rewritten: str) -> bool:
    """Whether every id, price, number and code of ``original`` is still in ``rewritten``."""
    return all(f in rewritten for f in _FACTS.findall(original))


class ChatRephraser:
    """Rephrases through ``POST {base_url}/chat/completions``; falls back to the original text
    on any failure or when a fact did not survive. Results are cached per (text, persona), so
    a run stays repeatable as far as the endpoint is (temperature 0 and a fixed seed are
    requested)."""

    def __init__(self, base_url: str, *, model: str, api_key: str | None = None,
                 timeout: float = 30.0, retries: int = 2, backoff: float = 0.5) -> None:
        if not base_url.startswith(("http://", "https://")):
            raise ValueError(f"the rephrasing endpoint must be an http(s) URL, got {base_url!r}")
        self.url = base_url.rstrip("/") + "/chat/completions"
        self.model = model
        self.api_key = api_key if api_key is not None else os.environ.get("OPENAI_API_KEY", "")
        self.timeout = timeout
        self.retries = retries
        self.backoff = backoff
        self.cache: dict[tuple[str, str], str] = {}
        self.failures = 0

    def __call__(self, text: str, persona: str) -> str:
        key = (text, persona)
        if key not in self.cache:
            self.cache[key] = self._rephrase(text, persona)
        return self.cache[key]

    def _rephrase(self, text: str, persona: str) -> str:
        body = json.dumps({
            "model": self.model, "temperature": 0, "seed": 0,
            "messages": [{"role": "system", "content": _SYSTEM.format(persona=persona or
                                                                       "an ordinary shopper")},
                         {"role": "user", "content": text}],
        }).encode()
        headers = {"Content-Type": "application/json"}
        if self.api_key:
            headers["Authorization"] = f"Bearer {self.api_key}"
        for attempt in range(self.retries + 1):
            try:
                req = urllib.request.Request(self.url, data=body, headers=headers, method="POST")
                with urllib.request.urlopen(req, timeout=self.timeout) as resp:  # noqa: S310
                    data: Any = json.loads(resp.read())
                out = data["choices"][0]["message"]["content"]
                if not isinstance(out, str) or not out.strip():
                    raise ValueError("empty content")
                out = out.strip()
                if not facts_kept(text, out):
                    log.info("rephrasing dropped a fact; keeping the original message")
                    return text
                return out
            except urllib.error.HTTPError as exc:
                if exc.code in (429, 500, 502, 503, 504) and attempt < self.retries:
                    time.sleep(self.backoff * 2 ** attempt)
                    continue
                reason = f"HTTP {exc.code}"
            except (urllib.error.URLError, TimeoutError, OSError,
                    http.client.HTTPException) as exc:  # no reply, or a broken one (a bad
                # status line, a body cut short): worth another try
                if attempt < self.retries:
                    time.sleep(self.backoff * 2 ** attempt)
                    continue
                reason = f"unreachable ({type(exc).__name__}: {exc})"
            except (ValueError, KeyError, IndexError, TypeError, RecursionError) as exc:
                reason = f"malformed reply ({type(exc).__name__}: {exc})"
            except Exception as exc:  # the promise is the original text on *any* failure
                reason = f"failed ({type(exc).__name__}: {exc})"
            self.failures += 1
            log.warning("shopper rephrasing failed at %s: %s; keeping the original message",
                        self.url, reason)
            return text
        return text  # pragma: no cover - the loop always returns
