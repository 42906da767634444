"""The one reading of a proposal: does an agent message ask the shopper's yes to a consequential
action, which action, and on which terms (``verifiers.terms``).

The shopper simulator decides its answer from this reading and records the terms it accepted in a
``Confirmation``; ``verifiers.confirm`` then holds each consequential call to them. Names in a
message are resolved against what the trace showed the agent (``Known``): the customer's payment
methods and addresses (``get_customer``), and the titles and options of cart and order lines and
products. Pure functions of the message and the trace.
"""

from __future__ import annotations

import re

from pydantic import BaseModel, ConfigDict

from verifiers.proposal_terms import Known, known_from_trace, read_terms
from verifiers.terms import ActionKind, ProposalTerms

__all__ = ["Known", "Proposal", "asks_confirmation", "known_from_trace", "read_proposal"]


class Proposal(BaseModel):
    """A request for the shopper's yes: the action and the terms the message names."""

    model_config = ConfigDict(extra="forbid")

    kind: ActionKind
    terms: ProposalTerms


# -- asking -----------------------------------------------------------------------------------

# asks wherever they stand in a sentence
_STRONG = re.compile(
    r"\b(?:shall|should|may|can|could) (?:i|we)\b|"
    r"\b(?:do|would|did) you (?:want|like|wish) (?:me|us) to\b|"
    r"\bwould you like (?:me|us) to\b", re.I)
# asks in a sentence that ends with a question mark
_WEAK = re.compile(
    r"\b(?:want|like|need) (?:me|us) to\b|"
    r"\b(?:ok(?:ay)?|alright|all right|fine|good)\b,? (?:if|for me to|for us to|to|with)\b|"
    r"\bready\b|\bhappy (?:for|if|with)\b|\bmind if\b|"
    r"\b(?:go[- ]ahead|go ahead|proceed|confirm|permission|approval|consent)\b|"
    r"\b(?:sounds?|looks?) (?:good|ok(?:ay)?|right|fine)\b|\bdoes (?:that|this) work\b|"
    r"\b(?:is|are) (?:that|this|those) (?:ok(?:ay)?|alright|all right|fine|right)\b|"
    r"^\W*(?:ok(?:ay)?|alright|all right|good|fine|agreed|yes or no)\W*$|"
    r"[,—–-]\s*(?:ok(?:ay)?|alright|all right|right|fine|agreed)\s*\?\s*$", re.I)
# asks without a question mark
_IMPERATIVE = re.compile(
    r"\blet me know (?:if|whether) (?:i|we) (?:should|can|may)\b|"
    r"\blet me know if you(?:'d| would)? (?:like|want) (?:me|us) to\b|"
    r"\bplease confirm\b|\bconfirm (?:that |if |whether )?(?:i|we) (?:should|can|may)\b|"
    r"\b(?:say|reply) (?:yes|the word)\b|\bgive me (?:the|your) go[- ]ahead\b", re.I)
# what may follow an ask without naming the action ("... shall I go ahead?")
_FILLER = re.compile(r"^(?:\s|[?!.,:;—–-]|\b(?:go ahead|proceed|do (?:it|that|so|this)|"
                     r"continue|then|now|with (?:it|that|this)|for you|please|and)\b)*$", re.I)

_ACTION_WORDS: tuple[tuple[ActionKind, re.Pattern[str]], ...] = (
    ("cancel", re.compile(r"\bcancel(?!ling|led\b)", re.I)),
    ("exchange", re.compile(r"\bexchang(?!ed\b)|\bswap(?!ped\b)", re.I)),
    ("return", re.compile(r"\breturn(?!ed\b)|\brefund(?!ed\b)", re.I)),
    ("checkout", re.compile(r"\bplace (?:the|your|an|this|that) order\b|\bcheck ?out\b|"
                            r"\bpurchase\b|\bbuy\b|\bplace it\b|\border it\b|"
                            r"\b(?:complete|submit|finali[sz]e) (?:the|your|this) "
                            r"(?:order|purchase)\b|\bpay for\b", re.I)),
)
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+|\n+")


def _sentences(text: str) -> list[tuple[int, str]]:
    out, start = [], 0
    for m in _SENTENCE_END.finditer(text):
        out.append((start, text[start:m.start()]))
        start = m.end()
    out.append((start, text[start:]))
    return [(s, t) for s, t in out if t.strip()]


def _ask_in(sentence: str) -> re.Match[str] | None:
    if (m := _STRONG.search(sentence) or _IMPERATIVE.search(sentence)) is not None:
        return m
    return _WEAK.search(sentence) if sentence.rstrip().endswith("?") else None


def _action_in(text: str, *, last: bool = False) -> ActionKind | None:
    found = sorted((m.start(), kind) for kind, rx in _ACTION_WORDS for m in rx.finditer(text))
    if not found:
        return None
    return found[-1][1] if last else found[0][1]


def asks_confirmation(message: str) -> ActionKind | None:
    """The consequential action ``message`` asks the shopper to agree to, or None: the first
    sentence with an ask whose action is named after the ask, or (when nothing but the ask
    ends the sentence: "I can cancel it, shall I?") before it or in the sentence before."""
    sentences = _sentences(message)
    for i, (_, sentence) in enumerate(sentences):
        ask = _ask_in(sentence)
        if ask is None:
            continue
        kind = _action_in(sentence[ask.end():])
        if kind is None and _FILLER.match(sentence[ask.end():]):
            kind = _action_in(sentence[:ask.start()], last=True)
            if kind is None and i > 0:
                kind = _action_in(sentences[i - 1][1], last=True)
        if kind is not None:
            return kind
    return None


def read_proposal(message: str, known: Known | None = None) -> Proposal | None:
    """The proposal in ``message`` (None when it asks for no consequential action), with the
    terms it names resolved against ``known``."""
    kind = asks_confirmation(message)
    if kind is None:
        return None
    return Proposal(kind=kind, terms=read_terms(message, kind, known or Known()))
