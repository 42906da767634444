"""The data the verifiers score: task specs, shopper goals, shop states, episode records and
reward breakdowns.

These types are the contract between the task generators and the episode controller (in
``episodes``) and the pure scoring functions here. They are plain pydantic models, so a task is a
JSON document (``TaskSpec.model_json_schema()`` is its schema) and an episode record round-trips
through JSONL.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, JsonValue, field_validator

from verifiers.reasons import REASON_CODES
from verifiers.terms import ProposalTerms

__all__ = [
    "FAMILIES",
    "SCHEMA_VERSION",
    "Breakdown",
    "CartLine",
    "Component",
    "Confirmation",
    "Difficulty",
    "EpisodeInput",
    "ExchangeState",
    "FactGoal",
    "Family",
    "GoldStep",
    "Intent",
    "IntentKind",
    "IntentResult",
    "IntentSnapshot",
    "ItemGoal",
    "Limits",
    "Message",
    "MindChange",
    "OrderLineState",
    "OrderState",
    "PaymentState",
    "ProductFacts",
    "ProductMatch",
    "Reason",
    "ReturnState",
    "ScenarioEvent",
    "ShopState",
    "Slot",
    "TaskSpec",
    "ToolCall",
    "TraceEntry",
    "VariantFacts",
    "World",
]

SCHEMA_VERSION = 2  # 2: intents state facts (Intent.facts) instead of answer phrases

Family = Literal[
    "discovery",  # find a product meeting constraints and present it
    "substitution",  # the wanted product is out of stock: put an acceptable substitute in the cart
    "cart",  # build a cart of exact variants and quantities
    "purchase",  # cart + discount code + payment + shipping, ending in one order
    "return",  # return the right line(s) of a delivered order for a refund
    "exchange",  # exchange a delivered line for another variant (e.g. the right size)
    "order_status",  # tell the shopper where an order is (status, tracking)
    "cancel",  # cancel a pending order
    "policy",  # answer a question about the shop's policies
    "bundle",  # several items (a gift, a kit) in the cart under a budget
    "price_compare",  # something like product X but cheaper
    "multi",  # several of the above, one after another
]
FAMILIES: tuple[str, ...] = (
    "discovery", "substitution", "cart", "purchase", "return", "exchange", "order_status",
    "cancel", "policy", "bundle", "price_compare", "multi",
)
IntentKind = Literal[
    "discovery", "substitution", "cart", "purchase", "return", "exchange", "order_status",
    "cancel", "policy", "bundle", "price_compare",
]

_STRICT = ConfigDict(extra="forbid")


# -- tasks ------------------------------------------------------------------------------------


class Difficulty(BaseModel):
    """The parameter vector one integer difficulty maps to (see ``episodes.difficulty``)."""

    model_config = _STRICT

    level: int = Field(ge=0, le=20)
    constraints: int = Field(ge=1, description="constraints in the hidden goal")
    omitted_share: float = Field(ge=0, le=1, description="share of constraints left out of "
                                 "the opening message, revealed only when asked")
    typo_rate: float = Field(ge=0, le=1, description="chance each word of a shopper message "
                             "carries a typo")
    changes_of_mind: int = Field(ge=0, description="mid-dialogue changes of a constraint")
    distractors: int = Field(ge=0, description="near-miss products planted beside the target")
    out_of_stock_rate: float = Field(ge=0, le=1, description="share of candidate variants "
                                     "taken out of stock")
    history_depth: int = Field(ge=0, description="past orders in the customer's history")
    policy_branching: int = Field(ge=0, description="policy conditions the outcome depends on")
    budget_tightness: float = Field(ge=0, le=1, description="how close budgets sit to the "
                                    "cheapest solution (1 = no slack)")
    stock_volatility: float = Field(ge=0, le=1, description="per-turn chance that other "
                                    "shoppers drain stock or prices move (flash sale)")
    max_turns: int = Field(ge=1)
    max_tool_calls: int = Field(ge=1)
    patience: int = Field(ge=1, description="unhelpful agent turns the shopper tolerates")


class ProductMatch(BaseModel):
    """What the shopper would accept: every field set must hold for a product (and, where
    ``options`` is set, for the chosen variant)."""

    model_config = _STRICT

    category: str | None = Field(default=None, description="category slug prefix")
    brand: str | None = None
    max_price_cents: int | None = None
    min_rating: float | None = None
    attributes: dict[str, str | bool | int | float] = Field(default_factory=dict)
    attributes_at_least: dict[str, float] = Field(default_factory=dict)
    attributes_at_most: dict[str, float] = Field(default_factory=dict, description="e.g. "
                                                 "{'min_age': 8}: suitable for an 8-year-old")
    options: dict[str, str] = Field(default_factory=dict, description="variant options, "
                                    "e.g. {'size': '10', 'color': 'blue'}")
    product_ids: list[str] | None = Field(default=None, description="only these products")
    exclude_product_ids: list[str] = Field(default_factory=list)
    in_stock: bool = True


class Slot(BaseModel):
    """One piece of the hidden goal the shopper can state or be asked about."""

    model_config = _STRICT

    name: str = Field(description="budget, size, color, brand, feature, category, recipient, "
                      "order, item, quantity, reason, code, payment, shipping, ...")
    value: Any = None
    phrase: str = Field(description="how the shopper says it, e.g. 'under $100'")
    in_opening: bool = True


class ItemGoal(BaseModel):
    """One line the shopper wants in the cart (or in the order)."""

    model_config = _STRICT

    match: ProductMatch
    quantity: int = Field(default=1, ge=1)
    label: str = Field(default="", description="how the shopper names it")


class MindChange(BaseModel):
    """At the shopper's ``at_turn``-th reply, a slot changes: say ``say`` and use the new
    acceptance criteria from then on."""

    model_config = _STRICT

    at_turn: int = Field(ge=1)
    slot: str
    say: str
    new_value: Any = None
    accept: ProductMatch | None = None
    items: list[ItemGoal] | None = None


class FactGoal(BaseModel):
    """A fact the shopper must be told with ``state_facts``: its key, the canonical subjects a
    claim may name to be about the thing asked (any of them; empty: the fact is about nothing
    in particular) and the true value. See ``mcp_shop.facts`` for the keys."""

    model_config = _STRICT

    fact: str
    about: list[str] = Field(default_factory=list)
    value: str | int | bool


class Intent(BaseModel):
    """One thing the shopper wants done. A task has one, a multi-intent journey several."""

    model_config = _STRICT

    kind: IntentKind
    request: str = Field(description="the sentence that asks for it (opening slots only)")
    slots: list[Slot] = Field(default_factory=list)
    accept: ProductMatch | None = Field(default=None, description="product-choosing intents: "
                                        "what the shopper accepts")
    items: list[ItemGoal] = Field(default_factory=list, description="cart, purchase and "
                                  "bundle: the lines wanted")
    exact_cart: bool = Field(default=False, description="the cart must hold exactly ``items``")
    budget_cents: int | None = None
    code: str | None = None
    payment_kind: str | None = Field(default=None, description="card, paypal or gift_card")
    shipping_option: str | None = None
    order_id: str | None = None
    lines: list[tuple[str, int]] = Field(default_factory=list, description="return/exchange: "
                                         "(variant_id, quantity) of the order lines concerned")
    new_options: dict[str, str] = Field(default_factory=dict, description="exchange: the "
                                        "options the replacement variant must have")
    reason: str | None = None
    proceed: bool = Field(default=True, description="False when policy forbids the action: "
                          "success is then no change plus the answer")
    facts: list[FactGoal] = Field(default_factory=list, description="informational: the "
                                  "facts the agent must state (state_facts) to answer")
    change: MindChange | None = None


class World(BaseModel):
    """How the session is set up before the episode starts."""

    model_config = _STRICT

    session_seed: int = Field(ge=0, le=2**31 - 1)
    tier: Literal["standard", "silver", "gold"] | None = None
    history_orders: int = Field(default=0, ge=0, le=50)
    stock: dict[str, int] = Field(default_factory=dict, description="variant_id -> stock")
    prices: dict[str, int] = Field(default_factory=dict, description="variant_id -> cents")
    codes: list[dict[str, Any]] = Field(default_factory=list, description="extra discount "
                                        "codes: {'code': ..., 'kind': ..., 'value': ...}")
    past_orders: list[dict[str, Any]] = Field(default_factory=list, description="{'lines': "
                                              "{variant_id: qty}, 'days_ago': float, "
                                              "'shipping_option': str}")
    cart: dict[str, int] = Field(default_factory=dict, description="variant_id -> qty already "
                                 "in the cart")
    advance_hours: float = Field(default=0, ge=0, le=24 * 3650, description="clock moved "
                                 "after set-up (at most ten years)")


class ScenarioEvent(BaseModel):
    """A change to the world after the agent's ``turn``-th message (flash sales)."""

    model_config = _STRICT

    turn: int = Field(ge=1)
    stock: dict[str, int] = Field(default_factory=dict)
    prices: dict[str, int] = Field(default_factory=dict)


class GoldStep(BaseModel):
    """One step of the gold solution: a tool call, or a message to the shopper."""

    model_config = _STRICT

    tool: str | None = None
    args: dict[str, Any] = Field(default_factory=dict)
    say: str | None = None


class Limits(BaseModel):
    model_config = _STRICT

    max_turns: int = Field(ge=1)
    max_tool_calls: int = Field(ge=1)


class TaskSpec(BaseModel):
    """A shopping task: world, hidden goal, opening, gold solution and limits."""

    model_config = _STRICT

    schema_version: int = SCHEMA_VERSION
    task_id: str
    family: Family
    difficulty: int = Field(ge=0, le=20)
    seed: int = Field(ge=0)
    catalog: dict[str, Any] = Field(default_factory=dict, description="the catalog the task "
                                    "was generated on: {'seed': ..., 'size': ...}")
    params: Difficulty
    world: World
    intents: list[Intent] = Field(min_length=1)
    persona: str = ""
    opening: str
    scenario: list[ScenarioEvent] = Field(default_factory=list)
    gold: list[GoldStep]
    limits: Limits
    description: str = Field(default="", description="human summary of the goal")


# -- shop state (normalised from a session snapshot) -----------------------------------------


class CartLine(BaseModel):
    variant_id: str
    product_id: str
    quantity: int
    unit_price_cents: int


class OrderLineState(BaseModel):
    line_no: int
    variant_id: str
    product_id: str
    quantity: int
    unit_price_cents: int
    returned_quantity: int = 0
    exchanged_quantity: int = 0


class PaymentState(BaseModel):
    payment_method_id: str
    kind: str = Field(description="the method's kind: card, paypal or gift_card")
    amount_cents: int
    reason: str
    direction: str = Field(default="charge", description="'charge' or 'refund'")


class OrderState(BaseModel):
    order_id: str
    status: str
    lines: list[OrderLineState]
    code: str | None
    shipping_option: str
    subtotal_cents: int
    discount_cents: int
    shipping_cents: int
    total_cents: int
    payments: list[PaymentState]
    cancel_reason: str | None = None
    tracking_numbers: list[str] = Field(default_factory=list)


class ReturnState(BaseModel):
    return_id: str
    order_id: str
    reason: str
    refund_to: str
    lines: list[tuple[str, int]]


class ExchangeState(BaseModel):
    exchange_id: str
    order_id: str
    from_variant_id: str
    to_variant_id: str
    quantity: int
    reason: str


class ShopState(BaseModel):
    """A session's state with public ids, as the verifiers compare it."""

    clock: str
    cart: list[CartLine]
    cart_code: str | None
    orders: list[OrderState]
    returns: list[ReturnState]
    exchanges: list[ExchangeState]
    used_codes: list[str] = Field(default_factory=list)
    stock: dict[str, int] = Field(default_factory=dict, description="session stock overrides")
    prices: dict[str, int] = Field(default_factory=dict, description="session price overrides "
                                   "(variant_id -> cents)")


class Reason(BaseModel):
    """One typed finding of a verifier: a stable ``code`` from the closed vocabulary of
    ``verifiers.reasons``, its parameters (ids, values, counts) and the sentence people read.
    Programs read ``code`` and ``params``; ``text`` may be reworded freely."""

    model_config = _STRICT

    code: str = Field(description="stable snake_case code (verifiers.reasons.REASON_CODES)",
                      json_schema_extra={"enum": list[JsonValue](sorted(REASON_CODES))})
    params: dict[str, JsonValue] = Field(default_factory=dict, description="what the finding "
                                         "is about, e.g. {'ids': ['O-1009']}")
    text: str = Field(description="the finding in words")

    @field_validator("code")
    @classmethod
    def _known(cls, code: str) -> str:
        if code not in REASON_CODES:
            raise ValueError(f"unknown reason code {code!r} (see verifiers.reasons)")
        return code

    def __str__(self) -> str:
        return self.text

    def within(self, prefix: str = "", **params: JsonValue) -> Reason:
        """The same finding in a wider context: ``prefix`` before the text, ``params`` added
        (e.g. the item or order it concerns); the code stays."""
        return Reason(code=self.code, params={**params, **self.params},
                      text=f"{prefix}{self.text}")


class IntentResult(BaseModel):
    """Whether one intent is done in a state, why not, and how far along it is."""

    done: bool
    reason: str = Field(description="what is missing (or 'done')")
    reasons: list[Reason] = Field(default_factory=list, description="what is missing, typed "
                                  "(empty when done)")
    progress: float = Field(ge=0, le=1, description="share of the intent's requirements met")
    effects: list[str] = Field(default_factory=list, description="ids of the new orders, "
                               "returns or exchanges that fulfil it")


class VariantFacts(BaseModel):
    variant_id: str
    options: dict[str, str]
    price_cents: int
    stock: int


class ProductFacts(BaseModel):
    """What the verifiers need to know of a product (its session prices and stock)."""

    product_id: str
    title: str
    brand: str
    category_slug: str
    attributes: dict[str, Any]
    rating: float
    variants: list[VariantFacts]


# -- episodes ---------------------------------------------------------------------------------


class ToolCall(BaseModel):
    id: str
    type: Literal["function"] = "function"
    function: dict[str, str] = Field(description="{'name': ..., 'arguments': JSON text}")


class Message(BaseModel):
    """A chat message in the OpenAI/TRL format."""

    role: Literal["system", "user", "assistant", "tool"]
    content: str | None = None
    tool_calls: list[ToolCall] | None = None
    tool_call_id: str | None = None
    name: str | None = None


class TraceEntry(BaseModel):
    """One recorded tool call (from the server's trace)."""

    seq: int
    tool: str
    arguments: dict[str, Any]
    ok: bool
    error_code: str | None = None
    error_message: str | None = None
    result: Any = None
    latency_ms: float = 0.0
    turn: int = Field(default=0, description="the agent turn the call was made in")


class Confirmation(BaseModel):
    """The shopper agreed, in its reply to the agent's ``turn``-th message, to an action of
    ``kind`` (checkout, cancel, return, exchange) on ``order_id`` where one was named, on the
    ``terms`` the proposal named (``verifiers.proposals``). Tool calls made in later turns that
    match the terms are covered by it (``verifiers.confirm``)."""

    turn: int
    kind: str
    order_id: str | None = None
    terms: ProposalTerms | None = Field(default=None, description="the accepted terms; None "
                                        "only in records made before terms were bound (then "
                                        "kind and order alone are checked)")


class IntentSnapshot(BaseModel):
    """The moment the shopper accepted an intent and moved on to the next: the intent is
    judged in this state (and with these product facts), not re-judged after later events."""

    index: int = Field(ge=0, description="the intent's position in the task")
    turn: int = Field(ge=0, description="the agent turn whose reply moved on")
    intent: Intent = Field(description="the intent as it ended (changes of mind applied)")
    state: ShopState
    products: dict[str, ProductFacts] = Field(default_factory=dict)


class EpisodeInput(BaseModel):
    """Everything a verifier looks at, and nothing else."""

    task: TaskSpec
    before: ShopState
    after: ShopState
    trace: list[TraceEntry]
    messages: list[Message]
    products: dict[str, ProductFacts] = Field(description="facts of every product the episode "
                                              "touched (presented, carted, ordered, goal)")
    confirmations: list[Confirmation] = Field(default_factory=list, description="the "
                                              "consequential actions the shopper agreed to")
    turns: int = 0
    intent_turns: list[int] = Field(default_factory=list, description="per intent, the agent "
                                    "turn from which its presentations count (after the "
                                    "shopper moved on to it or changed its mind)")
    stop_reason: str = ""
    snapshots: list[IntentSnapshot] = Field(default_factory=list, description="per intent the "
                                            "shopper accepted and moved on from: the state it "
                                            "is judged in")


class Component(BaseModel):
    name: str
    value: float
    weight: float = 1.0
    reason: str = Field(description="the component's verdict in words")
    reasons: list[Reason] = Field(default_factory=list, description="what went wrong, typed "
                                  "(empty when nothing did)")


class Breakdown(BaseModel):
    """The verdict on one episode: success, each component with its reason, and the reward."""

    success: bool
    reward: float
    mode: str
    components: list[Component]
    progress: list[float] = Field(default_factory=list, description="dense mode: per-step "
                                  "progress rewards")
