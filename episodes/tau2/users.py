"""The customer of a tau2 retail episode: a scripted user (deterministic, for tests and the
oracle) or an LLM user playing the task's scenario through any OpenAI-compatible endpoint.

Both open the conversation, answer each message of the agent, and end it with a stop token,
as tau2's user simulator does: ``###STOP###`` when the user is done, ``###TRANSFER###`` once
the agent handed the conversation to a person, ``###OUT-OF-SCOPE###`` when the scenario does
not say how to go on. The episode ends at the first message holding one of them.

The scripted user (:class:`ScriptedUser`) follows fixed rules over the scenario's text:

- it opens with the scenario's reason for the call, in the first person ("You want" becomes
  "I want");
- a question about confirming an action ("Shall I ...?", "Do you want me to ...?", "Can you
  confirm ...?") gets "Yes, please go ahead.";
- another question gets the sentences of the scenario that answer it, found by keyword (an
  email, a name and zip code, an order, an address, a payment method, a reason), or the
  scenario's unknown info ("I do not remember my email."), or "I have nothing to add." (after
  three of those in a row, it stops: ``###OUT-OF-SCOPE###``);
- a message without a question that reports an outcome ("done", "has been cancelled",
  "updated", "anything else", ...) means the agent is done: ``###STOP###``; another message
  without a question gets "Okay." (the agent is working), and a second such message in a row
  ends the conversation too (``###STOP###``);
- after a successful ``transfer_to_human_agents`` it answers ``###TRANSFER###``.

The LLM user (:class:`LLMUser`) is a model told the scenario in our own prompt; its client is
the LLM agent's (:meth:`episodes.agents.llm.LLMAgent.complete`), so endpoints, keys, retries
and errors behave the same.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any, Protocol

from mcp_shop.tau2.records import Instructions, Task

__all__ = ["OUT_OF_SCOPE", "STOP", "STOP_TOKENS", "TRANSFER", "LLMUser", "ScriptedUser",
           "User", "UserTurn", "first_person", "stop_token", "user_prompt"]

STOP = "###STOP###"
TRANSFER = "###TRANSFER###"
OUT_OF_SCOPE = "###OUT-OF-SCOPE###"
STOP_TOKENS = (STOP, TRANSFER, OUT_OF_SCOPE)
MAX_UNANSWERED = 3  # questions in a row the scripted user cannot answer before it stops
MAX_STATEMENTS = 2  # messages without a question in a row before the scripted user stops
_FINISHED = re.compile(r"\b(done|complete[d]?|cancel+ed|has been|have been|processed|submitted|"
                       r"updated|changed|modified|returned|exchanged|transferr(ed|ing)|all set|"
                       r"anything else|successful(ly)?|refunded)\b", re.I)


def stop_token(text: str | None) -> str | None:
    """The first stop token ``text`` holds, or None."""
    for token in STOP_TOKENS:
        if text and token in text:
            return token
    return None


@dataclass(frozen=True)
class UserTurn:
    """One message of the user; ``stop`` is its stop token (the episode ends), if any."""

    text: str
    stop: str | None = None


class User(Protocol):
    """The customer of one episode."""

    async def opening(self) -> str: ...

    async def reply(self, message: str, tools: list[tuple[str, bool]]) -> UserTurn:
        """The answer to the agent's ``message``; ``tools``: the (name, ok) of the tool calls
        the agent made since the user last spoke."""
        ...


def _instructions(task: Task) -> Instructions:
    given = task.user_scenario.instructions
    if isinstance(given, str):  # an older task: free text only
        return Instructions(domain="retail", reason_for_call=given, task_instructions="")
    return given


_PRONOUNS = [(re.compile(p), r) for p, r in (
    (r"^Ask\b", "I would like to know"),
    (r"\bYou are\b", "I am"), (r"\byou are\b", "I am"), (r"\bYou were\b", "I was"),
    (r"\byou were\b", "I was"), (r"\bYou have\b", "I have"), (r"\byou have\b", "I have"),
    (r"\bYours\b", "Mine"), (r"\byours\b", "mine"), (r"\bYour\b", "My"), (r"\byour\b", "my"),
    (r"\bYou do\b", "I do"), (r"\byou do\b", "I do"), (r"\bYou\b", "I"), (r"\byou\b", "I"),
)]


def first_person(text: str) -> str:
    """A scenario sentence ("You want ... your card") as the user says it ("I want ... my
    card"); one starting "Ask" becomes "I would like to know"."""
    for pattern, repl in _PRONOUNS:
        text = pattern.sub(repl, text)
    return text


def _sentences(text: str | None) -> list[str]:
    if not text:
        return []
    return [s.strip() for s in re.split(r"(?<=[.!?])\s+(?=[A-Z'\"])", text.strip()) if s.strip()]


_CONFIRM = re.compile(r"\b(confirm|proceed|shall i|should i|do you want me to|would you like "
                      r"me to|go ahead|is (that|this) (right|correct|ok|okay)|are you sure|"
                      r"(yes|no)\s*/\s*(yes|no)|ok to|okay to)\b", re.I)

# What a question asks for -> words a scenario sentence must hold to answer it.
_TOPICS: tuple[tuple[re.Pattern[str], tuple[str, ...]], ...] = (
    (re.compile(r"e-?mail", re.I), ("email", "@")),
    (re.compile(r"\bname\b|zip|postal|post code|identify|verify|who", re.I),
     ("I am", "zip", "name")),
    (re.compile(r"\border\b", re.I), ("#W",)),
    (re.compile(r"address|ship|where", re.I), ("address", "Street", "Road", "Ave", "Blvd",
                                              "ship", " go to")),
    (re.compile(r"pay|card|refund|gift|paypal|method|money", re.I),
     ("pay", "card", "gift", "paypal", "refund", "money")),
    (re.compile(r"reason|why", re.I), ("reason", "mistake", "no longer", "needed")),
    (re.compile(r"item|product|size|colou?r|which one|option|version", re.I),
     ("size", "colour", "color", "version", "item", "want")),
)


@dataclass
class ScriptedUser:
    """The deterministic user of the module's rules."""

    task: Task
    unanswered: int = 0
    statements: int = 0
    said: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        ins = _instructions(self.task)
        self.reason = [first_person(s) for s in _sentences(ins.reason_for_call)]
        self.known = [first_person(s) for s in _sentences(ins.known_info)]
        self.unknown = [first_person(s) for s in _sentences(ins.unknown_info)]
        self.manner = [first_person(s) for s in _sentences(ins.task_instructions)]

    async def opening(self) -> str:
        return self._say(" ".join(["Hi.", *self.reason]))

    async def reply(self, message: str, tools: list[tuple[str, bool]]) -> UserTurn:
        if any(name == "transfer_to_human_agents" and ok for name, ok in tools):
            return UserTurn(self._say(TRANSFER), TRANSFER)
        if "?" not in message:
            self.statements += 1
            if _FINISHED.search(message) or self.statements >= MAX_STATEMENTS:
                return UserTurn(self._say(f"Thank you, that is all. {STOP}"), STOP)
            return UserTurn(self._say("Okay."))
        self.statements = 0
        if _CONFIRM.search(message):
            self.unanswered = 0
            return UserTurn(self._say("Yes, please go ahead."))
        answer = self._answer(message)
        if answer:
            self.unanswered = 0
            return UserTurn(self._say(answer))
        self.unanswered += 1
        if self.unanswered >= MAX_UNANSWERED:
            return UserTurn(self._say(f"I cannot help with that. {OUT_OF_SCOPE}"), OUT_OF_SCOPE)
        fallback = " ".join(self.unknown) or "I have nothing to add."
        return UserTurn(self._say(fallback))

    def _answer(self, message: str) -> str:
        """The scenario's sentences answering the question (known info, then the reason for
        the call, then the manner's quoted answers), in the scenario's order."""
        pool = [*self.known, *self.reason, *(s for s in self.manner if "'" in s)]
        wanted: list[str] = []
        for asks, words in _TOPICS:
            if asks.search(message):
                wanted += [s for s in pool if any(w.lower() in s.lower() for w in words)
                           and s not in wanted]
        return " ".join(s for s in pool if s in wanted)

    def _say(self, text: str) -> str:
        self.said.append(text)
        return text


# -- the LLM user ------------------------------------------------------------------------------

_PROMPT = """\
You are playing a customer who contacts the support chat of an online retail shop. Another \
party, the shop's support agent, writes to you; you answer as the customer, one short \
message at a time, in plain conversational text.

Your situation:
{scenario}

Rules:
- Stay in the role. Say only what your situation gives you; never invent names, emails, \
order numbers, addresses or payment details. If you are asked for something your situation \
does not tell you, say you do not know it.
- Do not reveal everything at once: give details when they are needed or asked for.
- When the agent asks you to confirm an action that matches what you want, say yes; refuse \
actions you did not ask for.
- When what you wanted is done, or cannot be done and you accept that, end the conversation: \
write {stop} as your whole message.
- If the agent tells you that you are being transferred to a human agent, write {transfer}.
- If the conversation goes somewhere your situation gives you no way to continue, write \
{out_of_scope}.
"""

GREETING = "Hi! How can I help you today?"
"""What the user model is shown first, as the agent's words (the record starts with the
user's answer to it)."""


def user_prompt(task: Task) -> str:
    """The LLM user's system prompt for ``task``: our rules and the task's scenario."""
    ins = _instructions(task)
    parts = [f"Why you are contacting the shop: {ins.reason_for_call}"]
    if ins.known_info:
        parts.append(f"What you know: {ins.known_info}")
    if ins.unknown_info:
        parts.append(f"What you do not know: {ins.unknown_info}")
    if ins.task_instructions:
        parts.append(f"How to behave: {ins.task_instructions}")
    if task.user_scenario.persona:
        parts.append(f"Who you are: {task.user_scenario.persona}")
    return _PROMPT.format(scenario="\n".join(parts), stop=STOP, transfer=TRANSFER,
                          out_of_scope=OUT_OF_SCOPE)


@dataclass
class LLMUser:
    """A model playing ``task``'s customer through ``client`` (an
    :class:`episodes.agents.llm.LLMAgent`, used only for its endpoint client): the model's
    messages are the user's (``assistant`` in its history), the agent's are ``user``."""

    task: Task
    client: Any
    seed: int | None = None
    messages: list[dict[str, Any]] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.messages = [{"role": "system", "content": user_prompt(self.task)},
                         {"role": "user", "content": GREETING}]

    async def opening(self) -> str:
        return (await self._ask()).text

    async def reply(self, message: str, tools: list[tuple[str, bool]]) -> UserTurn:
        self.messages.append({"role": "user", "content": message})
        return await self._ask()

    async def _ask(self) -> UserTurn:
        reply = await self.client.complete(self.messages, [], seed=self.seed,
                                           max_tokens=self.client.max_reply_tokens)
        from episodes.agents.llm import _spoken

        text = _spoken(reply.text)
        self.messages.append({"role": "assistant", "content": reply.text or ""})
        if not text:  # an empty answer: the user has nothing more to say
            return UserTurn(STOP, STOP)
        return UserTurn(text, stop_token(text))
