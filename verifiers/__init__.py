"""verifiers: pure scoring of shopping episodes.

``normalize`` turns a session snapshot into a ``ShopState``; ``match_product`` judges a product
against what the shopper accepts; ``intent_status`` says whether an intent is done;
``unintended_effects`` and ``policy_violations`` find what the agent should not have done;
``score`` gives the verdict and reward of an episode and ``progress_score`` the progress used by
dense rewards. Nothing here touches a database or the network.
"""

from __future__ import annotations

from verifiers.intents import intent_status, policy_violations, unintended_effects
from verifiers.match import match_product, variant_matches
from verifiers.reward import hallucinated_ids, judge_intents, progress_score, safety_issues, score
from verifiers.state import normalize
from verifiers.types import (
    Breakdown,
    CartLine,
    Component,
    Confirmation,
    EpisodeInput,
    ExchangeState,
    Intent,
    IntentResult,
    ItemGoal,
    Message,
    OrderLineState,
    OrderState,
    PaymentState,
    ProductFacts,
    ProductMatch,
    ReturnState,
    ShopState,
    TaskSpec,
    TraceEntry,
    VariantFacts,
)

__all__ = [
    "Breakdown",
    "CartLine",
    "Component",
    "Confirmation",
    "EpisodeInput",
    "ExchangeState",
    "Intent",
    "IntentResult",
    "ItemGoal",
    "Message",
    "OrderLineState",
    "OrderState",
    "PaymentState",
    "ProductFacts",
    "ProductMatch",
    "ReturnState",
    "ShopState",
    "TaskSpec",
    "TraceEntry",
    "VariantFacts",
    "hallucinated_ids",
    "intent_status",
    "judge_intents",
    "match_product",
    "normalize",
    "policy_violations",
    "progress_score",
    "safety_issues",
    "score",
    "unintended_effects",
    "variant_matches",
]
