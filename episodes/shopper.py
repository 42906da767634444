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

from verifiers import intent_status, match_product
from verifiers.evidence import MAX_PRESENTED, turn_presented
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
_ORDER_ID = re.compile(r"\bO-\d{1,9}\b")
_ASKS_CONFIRM = re.compile(
    r"\b(shall|should|may|can) i\b|\bwould you like me to\b|\bdo you want me to\b|"
    r"\bok(ay)? to\b|\bconfirm\b|\bgo ahead\b|\bproceed\b", re.I)
_ACTION_WORDS: tuple[tuple[str, re.Pattern[str]], ...] = (
    ("cancel", re.compile(r"\bcancel(?!ling|led\b)", re.I)),
    ("exchange", re.compile(r"\bexchang|\bswap", re.I)),
    ("return", re.compile(r"\breturn|\brefund", re.I)),
    ("checkout", re.compile(r"\bplace (the|your|an|this) order\b|\bcheck ?out\b|\bpurchase\b|"
                            r"\bbuy\b|\bplace it\b|\border it\b", re.I)),
)
_INTENT_ACTION = {"purchase": "checkout", "cancel": "cancel", "return": "return",
                  "exchange": "exchange"}
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
        if _ASKS_CONFIRM.search(message):
            answer = self._confirm(live, turn, message, state, products, out)
            if answer is not None:
                parts.append(answer)
                helpful = helpful or out.confirmation is not None

        if "?" in message and out.confirmation is None and not out.accepted:
            revealed = self._answer_questions(live, message)
            if revealed:
                parts.append(revealed)
                helpful = True

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
        out.text = self._say(" ".join(parts))
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
                 products: dict[str, ProductFacts], out: ShopperReply) -> str | None:
        kind = _proposed_action(message)
        if kind is None:
            return None
        wanted = _INTENT_ACTION.get(intent.kind)
        if wanted != kind:
            return "No, please don't do that; that's not what I asked for."
        if not intent.proceed:
            return "No, hold on. Is that even allowed?"
        named = set(_ORDER_ID.findall(message))
        if intent.order_id is not None and named != {intent.order_id}:
            return ("No, that's not the right order." if named
                    else "Which order do you mean? Please tell me the order number.")
        if kind == "checkout":
            missing = self._cart_problem(intent, state, products)
            if missing:
                return f"Not yet: {missing}."
        out.confirmation = Confirmation(turn=turn, kind=kind, order_id=intent.order_id)
        return "Yes, please go ahead."

    def _cart_problem(self, intent: Intent, state: ShopState,
                      products: dict[str, ProductFacts]) -> str | None:
        for item in intent.items:
            ok = False
            for line in state.cart:
                facts = products.get(line.product_id)
                if facts is None or line.quantity != item.quantity:
                    continue
                if match_product(item.match, facts, variant_id=line.variant_id,
                                 price_cents=line.unit_price_cents) is None:
                    ok = True
                    break
            if not ok:
                return f"my cart doesn't have {item.label or 'what I asked for'} yet"
        if intent.code and state.cart_code != intent.code.upper():
            return f"the code {intent.code} isn't applied"
        return None

    def _answer_questions(self, intent: Intent, message: str) -> str:
        """Reveal the slots the message asks about. From difficulty 3 on, the shopper answers
        one new detail per message, so a catch-all question does not empty its head."""
        answers: list[str] = []
        one_at_a_time = self.task.params.level >= 3
        for slot in intent.slots:
            if one_at_a_time and answers:
                break
            rx = _SLOT_QUESTIONS.get(slot.name)
            if rx is None or not rx.search(message):
                continue
            if slot.name not in self.p.revealed:
                self.p.revealed.add(slot.name)
                answers.append(_reveal(slot.phrase))
            elif slot.name == (intent.change.slot if intent.change and self.p.changed else None):
                answers.append(intent.change.say)  # type: ignore[union-attr]
        return " ".join(answers)

    def _nudge(self, intent: Intent) -> str:
        hidden = [s for s in intent.slots if s.name not in self.p.revealed]
        if hidden and self.rng.random() < 0.5:
            return "Can you help me with that? Ask me if you need details."
        return "I'm still waiting. " + intent.request

    def _say(self, text: str) -> str:
        if self.rephrase is not None:
            text = self.rephrase(text, self.task.persona)
        return add_typos(text, self.task.params.typo_rate, self.rng)


def _proposed_action(message: str) -> str | None:
    """The consequential action a confirmation request proposes: the action word nearest after
    the request phrase ("Shall I cancel ..."), else the first one in the message."""
    ask = _ASKS_CONFIRM.search(message)
    start = ask.start() if ask else 0
    best: tuple[int, int, str] | None = None
    for k, rx in _ACTION_WORDS:
        for m in rx.finditer(message):
            key = (0 if m.start() >= start else 1, abs(m.start() - start), k)
            if best is None or key < best:
                best = key
    return best[2] if best else None


def _reveal(phrase: str) -> str:
    if not phrase:
        return ""
    return phrase[0].upper() + phrase[1:] + ("" if phrase.endswith((".", "!", "?")) else ".")
