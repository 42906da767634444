"""The shopper simulator: a deterministic, rule-based customer who holds the hidden goal.

It opens with the task's opening message, answers questions by revealing the slot asked about,
reacts to presented products (accepts what satisfies its goal, rejects with a reason), agrees to
a consequential action only when it matches the goal, changes its mind when the task says so,
makes typos, loses patience after too many unhelpful turns, and ends the conversation only once
the goal's effects are in place (judged by the verifiers on the live state, never right after a
confirmation). See docs/tasks.md for the rules; every choice is a function of the task and the
conversation so far.
"""

from __future__ import annotations

import random
import re
from collections.abc import Callable
from dataclasses import dataclass, field

from episodes.objections import objections
from mcp_shop.tool_catalog import CONSEQUENTIAL_TOOLS, INTENT_OF_CONFIRMATION
from verifiers import intent_status, match_product
from verifiers.evidence import MAX_PRESENTED, turn_presented
from verifiers.proposals import known_from_trace, read_proposal
from verifiers.types import (
    Confirmation,
    Intent,
    ItemGoal,
    Message,
    ProductFacts,
    ProductMatch,
    ShopState,
    TaskSpec,
    TraceEntry,
)

__all__ = ["MAX_PRESENTED", "Shopper", "ShopperReply", "add_typos"]

_PRODUCT_ID = re.compile(r"\bP-\d{1,9}\b")
_SLOT_QUESTIONS: dict[str, re.Pattern[str]] = {
    "budget": re.compile(r"budget|how much|price range|spend|afford|price", re.I),
    "size": re.compile(r"\bsize", re.I),
    "color": re.compile(r"colou?r", re.I),
    "brand": re.compile(r"\bbrand", re.I),
    "feature": re.compile(r"feature|requirement|need it to|must[- ]have|looking for in|"
                          r"preference|specific", re.I),
    "rating": re.compile(r"rating|reviews?|stars", re.I),
    "category": re.compile(r"what (kind|type|sort) of|which (kind|type|category)|"
                           r"what are you looking for", re.I),
    "recipient": re.compile(r"who is it for|for whom|recipient|how old|\bage\b|gift for", re.I),
    "theme": re.compile(r"theme|interest|favou?rite|what (does|do|would) (he|she|they|the "
                        r"\w+|your \w+) (like|enjoy|love)|(is|are) (he|she|they) into", re.I),
    "width": re.compile(r"\bwidth|wide|narrow", re.I),
    "tier": re.compile(r"\btier|member|loyalty|status", re.I),
    "order": re.compile(r"which order|order (number|id)|what order|when did you (buy|order)",
                        re.I),
    "item": re.compile(r"which (item|product|one)|what (item|product)", re.I),
    "reason": re.compile(r"\bwhy\b|reason|what('s| is| was) wrong", re.I),
    "payment": re.compile(r"\bpay|payment|card|paypal|gift card", re.I),
    "shipping": re.compile(r"shipping|delivery|deliver|how fast|express", re.I),
    "quantity": re.compile(r"how many|quantity|units", re.I),
    "code": re.compile(r"\bcode|coupon|discount|promo", re.I),
}


@dataclass
class ShopperReply:
    """The shopper's answer to one agent message."""

    text: str
    done: bool = False
    quit: bool = False
    helpful: bool = False
    confirmation: Confirmation | None = None
    accepted: list[str] = field(default_factory=list)


_NEAR = dict(zip("qwertyuiopasdfghjklzxcvbnm", "wertyuiopqsdfghjklaxcvbnmz", strict=True))


def add_typos(text: str, rate: float, rng: random.Random) -> str:
    """Swap, drop, double or mistype letters in some words at ``rate``; ids, numbers, codes
    (upper case) and one- and two-letter words are left alone so every fact stays readable."""
    if rate <= 0:
        return text

    def fix(m: re.Match[str]) -> str:
        word = m.group(0)
        if len(word) < 3 or not word.isalpha() or word.isupper() or rng.random() >= rate:
            return word
        i = rng.randrange(1, len(word) - 1)
        kind = rng.random()
        if kind < 0.35:
            return word[:i] + word[i + 1] + word[i] + word[i + 2:]
        if kind < 0.6:
            return word[:i] + word[i + 1:]
        if kind < 0.8:
            return word[:i] + word[i] + word[i:]
        near = _NEAR.get(word[i].lower(), word[i])
        return word[:i] + near + word[i + 1:]

    return re.sub(r"[A-Za-z][A-Za-z'-]*", fix, text)


@dataclass
class _Progress:
    index: int = 0  # current intent
    replies: int = 0  # replies since the current intent began
    since_turn: int = 0  # presentations count from this turn on
    unhelpful: int = 0
    revealed: set[str] = field(default_factory=set)
    accept: ProductMatch | None = None
    items: list[ItemGoal] = field(default_factory=list)
    changed: bool = False
    last_nudge: str = ""
    last_reply: str = ""


class Shopper:
    """Plays the customer of one task."""

    def __init__(self, task: TaskSpec, *,
                 rephrase: Callable[[str, str], str] | None = None) -> None:
        """``rephrase(text, persona)``: an optional rewording of every message (a language
        model, see ``episodes.rephrase``); the decisions stay the rules'."""
        self.task = task
        self.rephrase = rephrase
        self.rng = random.Random(f"shopper:{task.task_id}:{task.seed}")
        self.p = _Progress()
        self.final: list[Intent] = list(task.intents)
        self.since: list[int] = [0] * len(task.intents)
        self._enter(0, turn=0)

    # -- state ------------------------------------------------------------------------------

    @property
    def intent(self) -> Intent:
        return self.task.intents[self.p.index]

    def current_intents_final(self) -> list[Intent]:
        """Every intent with the criteria in force at the end (changes of mind applied)."""
        out = list(self.final)
        out[self.p.index] = self._live(self.intent)
        return out

    def _live(self, intent: Intent) -> Intent:
        if not self.p.changed:
            return intent
        update: dict[str, object] = {}
        if self.p.accept is not None:
            update["accept"] = self.p.accept
        if self.p.items:
            update["items"] = self.p.items
        return intent.model_copy(update=update)

    def _enter(self, index: int, *, turn: int) -> None:
        if index > 0:
            self.final[index - 1] = self._live(self.task.intents[index - 1])
        intent = self.task.intents[index]
        self.since[index] = turn + 1 if index > 0 else 0
        self.p.index = index
        self.p.replies = 0
        self.p.since_turn = self.since[index]
        self.p.accept = intent.accept
        self.p.items = list(intent.items)
        self.p.changed = False
        self.p.revealed = {s.name for s in intent.slots if s.in_opening}

    def opening(self) -> str:
        return self._say(self.task.opening)

    # -- replies ----------------------------------------------------------------------------

    def reply(self, *, turn: int, message: str, new_calls: list[TraceEntry],
              before: ShopState, state: ShopState, trace: list[TraceEntry],
              messages: list[Message], products: dict[str, ProductFacts]) -> ShopperReply:
        """React to the agent's ``turn``-th message (and the tool calls made in that turn)."""
        self.p.replies += 1
        intent = self.intent
        parts: list[str] = []
        helpful = False
        out = ShopperReply(text="")

        live = self._live(intent)
        verdict = self._react_to_products(live, message, new_calls, products, out)
        if verdict is not None:
            parts.append(verdict)
            helpful = helpful or bool(out.accepted)

        change = intent.change
        if change is not None and not self.p.changed and self.p.replies == change.at_turn:
            self.p.changed = True
            if change.accept is not None:
                self.p.accept = change.accept
            if change.items is not None:
                self.p.items = list(change.items)
            self.p.since_turn = self.since[self.p.index] = turn + 1
            self.p.revealed.add(change.slot)
            parts.append(change.say)
            helpful = True

        live = self._live(intent)
        answer = self._confirm(live, turn, message, state, trace, products, out)
        if answer is not None:
            parts.append(answer)
            helpful = helpful or out.confirmation is not None

        if "?" in message and answer is None and not out.accepted:
            revealed, new = self._answer_questions(live, message)
            if revealed:
                parts.append(revealed)
                helpful = helpful or new

        status = intent_status(live, before, state, trace, messages, products,
                               since_turn=self.p.since_turn)
        if status.done:
            helpful = True
            if self.p.index + 1 < len(self.task.intents):
                self._enter(self.p.index + 1, turn=turn)
                parts.append("Great, thanks! One more thing: " + self.intent.request)
            else:
                parts.append("Thanks, that's everything I needed!")
                out.done = True
        elif any(c.ok and c.tool in CONSEQUENTIAL_TOOLS for c in new_calls):
            # an action was taken and the goal is not met: say what is wrong with it
            wrong = [r.text for r in status.reasons] or [status.reason]
            parts.append("That's not what I wanted: " + "; ".join(wrong[:2]) + ".")

        if helpful:
            self.p.unhelpful = 0
        else:
            self.p.unhelpful += 1
            if self.p.unhelpful > self.task.params.patience:
                out.quit = True
                parts.append("This isn't getting anywhere. I'll shop somewhere else, bye.")
            elif not parts:
                parts.append(self._nudge(live))
        out.helpful = helpful
        text = _once(parts)
        if text == self.p.last_reply:  # the same words again: say so rather than parrot
            text = self.rng.choice(_AGAIN) + text
        self.p.last_reply = text
        out.text = self._say(text)
        return out

    def _react_to_products(self, intent: Intent, message: str, new_calls: list[TraceEntry],
                           products: dict[str, ProductFacts], out: ShopperReply) -> str | None:
        # one reading with the verifiers (verifiers.evidence): present_products and product
        # ids named in the message, capped per turn
        shown, too_many = turn_presented(new_calls, message)
        if too_many:
            return (f"That's far too many to look through. Please show me at most "
                    f"{MAX_PRESENTED} good options.")
        criteria = self._product_criteria(intent)
        if not shown or not criteria:
            return None
        first_reason = ""
        seen: set[str] = set()
        for pid, price in shown:
            if pid in seen:
                continue
            seen.add(pid)
            facts = products.get(pid)
            if facts is None:
                first_reason = first_reason or f"I can't find {pid} anywhere"
                continue
            for match in criteria:
                if match_product(match, facts, price_cents=price) is None:
                    out.accepted.append(pid)
                    break
            else:
                first_reason = first_reason or (
                    match_product(criteria[0], facts, price_cents=price) or "not what I want")
        if out.accepted:
            title = products[out.accepted[0]].title
            return f"Yes, the {title} looks right."
        return f"Hmm, not quite: {first_reason}."

    def _product_criteria(self, intent: Intent) -> list[ProductMatch]:
        if intent.kind in ("discovery", "price_compare", "substitution") and intent.accept:
            return [intent.accept]
        if intent.kind in ("bundle", "cart", "purchase"):
            return [item.match for item in intent.items]
        return []

    def _confirm(self, intent: Intent, turn: int, message: str, state: ShopState,
                 trace: list[TraceEntry], products: dict[str, ProductFacts],
                 out: ShopperReply) -> str | None:
        """Answer a proposal (``verifiers.proposals``): yes, binding its terms, when they fit
        the goal; otherwise say what is wrong (and that part of the goal is revealed)."""
        proposal = read_proposal(message, known_from_trace(trace))
        if proposal is None:
            return None
        if INTENT_OF_CONFIRMATION.get(proposal.kind) != intent.kind:
            return "No, please don't do that; that's not what I asked for."
        if not intent.proceed:
            return "No, hold on. Is that even allowed?"
        wrong = objections(proposal, intent, state=state, products=products)
        if wrong:
            self.p.revealed.update(o.slot for o in wrong)
            return " ".join(dict.fromkeys(o.say for o in wrong))
        out.confirmation = Confirmation(turn=turn, kind=proposal.kind, order_id=intent.order_id,
                                        terms=proposal.terms)
        return "Yes, please go ahead."

    def _answer_questions(self, intent: Intent, message: str) -> tuple[str, bool]:
        """Answer the slots the message asks about, in the order asked, and whether anything
        new was told. From difficulty 3 on, the shopper answers one detail per message (the
        first asked it has not told yet, else the first asked), so a catch-all question does
        not empty its head."""
        asked = sorted((m.start(), i, slot) for i, slot in enumerate(intent.slots)
                       if (rx := _SLOT_QUESTIONS.get(slot.name)) is not None
                       and (m := rx.search(message)) is not None)
        slots = [slot for _, _, slot in asked]
        changed = intent.change.slot if intent.change and self.p.changed else None
        if self.task.params.level >= 3 and slots:
            fresh = [s for s in slots if s.name not in self.p.revealed or s.name == changed]
            slots = fresh[:1] or slots[:1]
        answers: list[str] = []
        new = False
        for slot in slots:
            if slot.name == changed and intent.change is not None:
                answers.append(intent.change.say)
                new = True
            elif slot.name not in self.p.revealed:
                self.p.revealed.add(slot.name)
                answers.append(_reveal(slot.phrase))
                new = True
            else:
                answers.append(_reveal(slot.phrase))
        return " ".join(answers), new

    def _nudge(self, intent: Intent) -> str:
        """A nudge, never the one said last (so the opening request is not restated twice in
        a row)."""
        options = ["I'm still waiting. " + intent.request, "Just to recap: " + intent.request,
                   "Are you still there? I'd like to get this sorted.",
                   "Could we get on with it, please?"]
        if any(s.name not in self.p.revealed for s in intent.slots):
            options += ["Can you help me with that? Ask me if you need details.",
                        "Is there anything you need to know from me?"]
        restates = intent.request in self.p.last_nudge
        fresh = [o for o in options if o != self.p.last_nudge
                 and not (restates and intent.request in o)]
        self.p.last_nudge = self.rng.choice(fresh)
        return self.p.last_nudge

    def _say(self, text: str) -> str:
        if self.rephrase is not None:
            text = self.rephrase(text, self.task.persona)
        return add_typos(text, self.task.params.typo_rate, self.rng)


_AGAIN = ("As I said: ", "Again: ", "Like I said: ")
_SENTENCE = re.compile(r"(?<=[.!?])\s+")


def _once(parts: list[str]) -> str:
    """The reply's parts joined, each sentence said once."""
    seen: set[str] = set()
    out: list[str] = []
    for sentence in _SENTENCE.split(" ".join(p for p in parts if p)):
        key = sentence.strip().lower()
        if key and key not in seen:
            seen.add(key)
            out.append(sentence.strip())
    return " ".join(out)


def _reveal(phrase: str) -> str:
    if not phrase:
        return ""
    return phrase[0].upper() + phrase[1:] + ("" if phrase.endswith((".", "!", "?")) else ".")
