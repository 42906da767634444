"""An optional judge of tau2's NL assertions: a model behind any OpenAI-compatible endpoint
reads the conversation and says, for each assertion, whether it holds.

tau2 judges a task's ``nl_assertions`` with an LLM; without a judge this project reports them
"not judged" (``episodes.tau2.scoring``). With one (``--judge llm``), each episode whose task
has assertions and that ended normally is judged once, at temperature 0, with our own prompt;
its answer must be a JSON object ``{"results": [{"index": 1, "met": true, "why": "..."},
...]}`` with one entry per assertion. An answer that is not that shape leaves the assertions
not judged (and says so in the record's note); an unreachable endpoint stops the run as the
LLM agent's does. The client is the LLM agent's (``LLMAgent.complete``). Verdicts with another
judge model than tau2's are not comparable one to one.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from verifiers.types import Message

__all__ = ["JUDGE_PROMPT", "NLJudge", "parse_judgement", "transcript"]

JUDGE_PROMPT = """\
You review a finished conversation between a customer and the support agent of an online \
retail shop, and decide for each numbered expectation whether the agent's conduct in the \
conversation meets it. Judge only from the conversation shown (the agent's messages, its tool \
calls and their results). Answer with one JSON object and nothing else, in this form:
{"results": [{"index": 1, "met": true, "why": "one short sentence"}, ...]}
with exactly one entry per expectation, in order."""

_OBJECT = re.compile(r"\{.*\}", re.S)


def transcript(messages: Sequence[Message]) -> str:
    """The conversation as text: who said what, each tool call and its result."""
    lines = []
    for m in messages:
        if m.role == "user":
            lines.append(f"CUSTOMER: {m.content or ''}")
        elif m.role == "assistant" and m.tool_calls:
            for call in m.tool_calls:
                lines.append(f"AGENT CALLS {call.function.get('name')}"
                             f"({call.function.get('arguments', '')})")
        elif m.role == "assistant":
            lines.append(f"AGENT: {m.content or ''}")
        elif m.role == "tool":
            lines.append(f"RESULT OF {m.name}: {m.content or ''}")
    return "\n".join(lines)


def parse_judgement(text: str | None, count: int) -> list[bool] | None:
    """The ``met`` flags of a judge's answer, or None when it is not the asked shape."""
    found = _OBJECT.search(text or "")
    if found is None:
        return None
    try:
        data: Any = json.loads(found.group(0))
    except ValueError:
        return None
    results = data.get("results") if isinstance(data, dict) else None
    if not isinstance(results, list) or len(results) != count:
        return None
    flags = [r.get("met") if isinstance(r, dict) else None for r in results]
    if not all(isinstance(f, bool) for f in flags):
        return None
    return [bool(f) for f in flags]


@dataclass
class NLJudge:
    """Judges NL assertions through ``client`` (an ``LLMAgent``, for its endpoint client)."""

    client: Any

    async def judge(self, assertions: Sequence[str], messages: Sequence[Message],
                    ) -> list[bool] | None:
        asked = "\n".join(f"{k}. {a}" for k, a in enumerate(assertions, 1))
        prompt = (f"The conversation:\n{transcript(messages)}\n\nThe expectations:\n{asked}")
        reply = await self.client.complete(
            [{"role": "system", "content": JUDGE_PROMPT}, {"role": "user", "content": prompt}],
            [], seed=0, max_tokens=self.client.max_reply_tokens)
        return parse_judgement(reply.text, len(assertions))
