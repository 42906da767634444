"""Typed records of a tau2-bench retail world: its database, its tasks and its split file.

These models describe the layout of the files in a user's own tau2-bench checkout
(``data/tau2/domains/retail/``): ``db.json`` (products with variant items, users, orders),
``tasks.json`` (user scenarios and evaluation criteria) and ``split_tasks.json`` (named lists
of task ids). Nothing here is downloaded and nothing here changes the shop; the loader
(:mod:`mcp_shop.tau2.loader`) reads and validates the files, and the import into a shop
session builds on these records.

The database models refuse unknown fields, as tau2's own database model does, so a world that
loads here holds exactly what tau2 would hash. The task models ignore unknown fields, as
tau2's task models do. Prices and balances stay the floats the files hold (dollars); the
shop's cents are derived where the world is imported.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field

__all__ = [
    "CANCEL_REASONS",
    "ORDER_STATUSES",
    "READ_TOOLS",
    "REWARD_TYPES",
    "RewardType",
    "TOOL_PARAMS",
    "WRITE_TOOLS",
    "Action",
    "CreditCard",
    "Description",
    "EvaluationCriteria",
    "Fulfillment",
    "GiftCard",
    "Instructions",
    "Order",
    "OrderItem",
    "OrderPayment",
    "PaymentMethod",
    "Paypal",
    "Product",
    "RetailDB",
    "Task",
    "User",
    "UserAddress",
    "UserName",
    "UserScenario",
    "Variant",
]

ORDER_STATUSES = (
    "pending",
    "pending (item modified)",
    "processed",
    "delivered",
    "cancelled",
    "return requested",
    "exchange requested",
)
"""Every status an order of a tau2 retail world can have."""

CANCEL_REASONS = ("no longer needed", "ordered by mistake")
REWARD_TYPES = ("DB", "ENV_ASSERTION", "NL_ASSERTION", "ACTION", "COMMUNICATE")
RewardType = Literal["DB", "ENV_ASSERTION", "NL_ASSERTION", "ACTION", "COMMUNICATE"]

_ADDRESS = ("address1", "address2", "city", "state", "country", "zip")
TOOL_PARAMS: dict[str, tuple[str, ...]] = {
    "find_user_id_by_email": ("email",),
    "find_user_id_by_name_zip": ("first_name", "last_name", "zip"),
    "get_user_details": ("user_id",),
    "get_order_details": ("order_id",),
    "get_product_details": ("product_id",),
    "get_item_details": ("item_id",),
    "list_all_product_types": (),
    "cancel_pending_order": ("order_id", "reason"),
    "modify_pending_order_address": ("order_id", *_ADDRESS),
    "modify_pending_order_items": ("order_id", "item_ids", "new_item_ids", "payment_method_id"),
    "modify_pending_order_payment": ("order_id", "payment_method_id"),
    "modify_user_address": ("user_id", *_ADDRESS),
    "exchange_delivered_order_items": (
        "order_id", "item_ids", "new_item_ids", "payment_method_id"),
    "return_delivered_order_items": ("order_id", "item_ids", "payment_method_id"),
    "calculate": ("expression",),
    "transfer_to_human_agents": ("summary",),
}
"""tau2 retail's agent tools and their parameters (all required), by name."""

WRITE_TOOLS = frozenset({
    "cancel_pending_order", "modify_pending_order_address", "modify_pending_order_items",
    "modify_pending_order_payment", "modify_user_address", "exchange_delivered_order_items",
    "return_delivered_order_items",
})
"""The tools that change the database (the others read it or touch nothing)."""
READ_TOOLS = frozenset(TOOL_PARAMS) - WRITE_TOOLS


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class _Lenient(BaseModel):
    model_config = ConfigDict(extra="ignore")


# --- the database (db.json) ----------------------------------------------------------------


class Variant(_Strict):
    """One item of a product: its options, whether it can be bought, and its price (dollars)."""

    item_id: str
    options: dict[str, str]
    available: bool
    price: float


class Product(_Strict):
    """A product type and its items, keyed by item id."""

    name: str
    product_id: str
    variants: dict[str, Variant]


class UserName(_Strict):
    first_name: str
    last_name: str


class UserAddress(_Strict):
    """A postal address (a user's default one, or where an order ships)."""

    address1: str
    address2: str
    city: str
    country: str
    state: str
    zip: str


class CreditCard(_Strict):
    source: Literal["credit_card"]
    id: str
    brand: str
    last_four: str


class Paypal(_Strict):
    source: Literal["paypal"]
    id: str


class GiftCard(_Strict):
    source: Literal["gift_card"]
    id: str
    balance: float


PaymentMethod = Annotated[CreditCard | GiftCard | Paypal, Field(discriminator="source")]


class User(_Strict):
    """A customer: name, one default address, email, payment methods (by id) and order ids."""

    user_id: str
    name: UserName
    address: UserAddress
    email: str
    payment_methods: dict[str, PaymentMethod]
    orders: list[str]


class Fulfillment(_Strict):
    """A shipment of some of an order's items, with its tracking ids."""

    tracking_id: list[str]
    item_ids: list[str]


class OrderItem(_Strict):
    """One unit of an item in an order, with its price when bought (dollars)."""

    name: str
    product_id: str
    item_id: str
    price: float
    options: dict[str, str]


class OrderPayment(_Strict):
    """Money moved for an order: a payment or a refund, with the payment method's id."""

    transaction_type: Literal["payment", "refund"]
    amount: float
    payment_method_id: str


class Order(_Strict):
    """An order: its user, shipping address, items, status, shipments and payments, and what a
    cancellation, exchange or return request recorded."""

    order_id: str
    user_id: str
    address: UserAddress
    items: list[OrderItem]
    status: Literal[
        "pending", "pending (item modified)", "processed", "delivered", "cancelled",
        "return requested", "exchange requested",
    ]
    fulfillments: list[Fulfillment]
    payment_history: list[OrderPayment]
    cancel_reason: Literal["no longer needed", "ordered by mistake"] | None = None
    exchange_items: list[str] | None = None
    exchange_new_items: list[str] | None = None
    exchange_payment_method_id: str | None = None
    exchange_price_difference: float | None = None
    return_items: list[str] | None = None
    return_payment_method_id: str | None = None


class RetailDB(_Strict):
    """The whole world: products, users and orders, each keyed by its id."""

    products: dict[str, Product]
    users: dict[str, User]
    orders: dict[str, Order]

    def item_product(self) -> dict[str, str]:
        """Every item id and the id of the product it belongs to."""
        return {item: p.product_id for p in self.products.values() for item in p.variants}

    def statistics(self) -> dict[str, int]:
        return {
            "products": len(self.products),
            "items": sum(len(p.variants) for p in self.products.values()),
            "users": len(self.users),
            "orders": len(self.orders),
        }


# --- the tasks (tasks.json) ----------------------------------------------------------------


class Instructions(_Lenient):
    """What the simulated user is told: why they call, what they know and do not know, and
    how to behave."""

    domain: str
    reason_for_call: str
    known_info: str | None = None
    unknown_info: str | None = None
    task_instructions: str


class UserScenario(_Lenient):
    persona: str | None = None
    instructions: Instructions | str


class Description(_Lenient):
    purpose: str | None = None
    relevant_policies: str | None = None
    notes: str | None = None


class Action(_Lenient):
    """One tool call of the gold trajectory."""

    action_id: str
    requestor: Literal["assistant", "user"] = "assistant"
    name: str
    arguments: dict[str, Any]
    info: str | None = None
    compare_args: list[str] | None = Field(
        default=None, description="arguments an action check compares (None: all)")


class EnvAssertion(_Lenient):
    env_type: Literal["assistant", "user"]
    func_name: str
    arguments: dict[str, Any]
    assert_value: bool = True
    message: str | None = None


def _default_basis() -> list[RewardType]:
    return ["DB", "COMMUNICATE"]  # tau2's default when a task names none


class EvaluationCriteria(_Lenient):
    """How an episode of the task is judged: the gold actions (replayed from the start to
    give the expected final database), what the agent must say, natural-language assertions,
    and which of these components gate the reward."""

    actions: list[Action] | None = None
    env_assertions: list[EnvAssertion] | None = None
    communicate_info: list[str] | None = None
    nl_assertions: list[str] | None = None
    reward_basis: list[RewardType] = Field(default_factory=_default_basis)


class InitialState(_Lenient):
    initialization_data: dict[str, Any] | None = None
    initialization_actions: list[dict[str, Any]] | None = None
    message_history: list[dict[str, Any]] | None = None


class Task(_Lenient):
    """One task: the user's scenario and the criteria of its verdict."""

    id: str
    description: Description | None = None
    user_scenario: UserScenario
    ticket: str | None = None
    initial_state: InitialState | None = None
    evaluation_criteria: EvaluationCriteria | None = None
    issues: list[dict[str, Any]] | None = None

    def gold_actions(self) -> list[Action]:
        crit = self.evaluation_criteria
        return list(crit.actions or []) if crit is not None else []
