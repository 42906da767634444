"""The shop as a TRL environment: ``GRPOTrainer(environment_factory=ShopToolEnv)``.

TRL builds one instance per rollout with no arguments, calls ``reset(**row)`` with a dataset
row (its return value, the shopper's opening message, is appended to the row's last user
message), exposes every public method as a tool (schemas from the type hints and the
Google-style docstrings), and scores the rollout with ``get_reward()``:

    from datasets import Dataset
    from trl import GRPOConfig, GRPOTrainer
    from episodes.trl_env import ShopToolEnv, trl_rows

    dataset = Dataset.from_list(trl_rows(tasks))       # or `shop-episodes tasks --format trl`
    trainer = GRPOTrainer(model=..., args=GRPOConfig(...), train_dataset=dataset,
                          environment_factory=ShopToolEnv)

The tools are the shop's MCP tools (without the session handle, which the episode adds) and
``send_message``, the only way to talk to the shopper; each runs one step of an episode of the
``EpisodeController``, so rewards are the controller's. Which shop: the ``MCP_SHOP_*``
environment variables (``episodes.sync``), or ``ShopToolEnv.factory(shop)`` in code;
``ShopToolEnv.factory(shop, connect="direct")`` calls the tools in process without the MCP
protocol (same results, errors, validation and records as the in-memory MCP server, faster).
"""

from __future__ import annotations

import contextlib
import functools
import json
from collections.abc import Callable, Iterable
from typing import Any

from episodes.controller import Action, Episode, RewardMode, StepResult, ToolRequest
from episodes.sync import (
    EpisodeOver,
    HeldRuntime,
    ShopSettings,
    SyncController,
    shared_controller,
)
from mcp_shop import Shop
from mcp_shop.server.inputs import (
    CancelReason,
    ExchangeReason,
    RefundTo,
    ReturnReason,
    ShippingOption,
    SortOrder,
)
from verifiers.types import Breakdown, TaskSpec

__all__ = ["SYSTEM_PROMPT", "EpisodeToolEnv", "ShopToolEnv", "task_from_row", "trl_rows"]

SYSTEM_PROMPT = (
    "You are the shopping assistant of an online shop. A customer writes to you. Use the tools "
    "to look things up and to act, and talk to the customer only with send_message, which "
    "returns their reply; the conversation ends when they are satisfied. Never invent product, "
    "variant, order or payment ids, prices or policies: take them from tool results. Show the "
    "products you recommend with present_products. Before a checkout, a cancellation, a return "
    "or an exchange, say what you will do, naming every term you will use (items, payment "
    "methods, shipping, address, refund route, reason), and ask a question starting with "
    "\"Shall I\"; act only after the customer says yes, exactly on the terms agreed. Prices "
    "are in integer cents."
)

_OVER = "Error: the episode is over (the conversation has ended); no more tools can be used."


def trl_rows(tasks: Iterable[TaskSpec], *, system_prompt: str | None = SYSTEM_PROMPT,
             include_task: bool = True) -> list[dict[str, Any]]:
    """Dataset rows for ``GRPOTrainer`` with ``environment_factory=ShopToolEnv``, one per task.

    ``prompt`` is the conversation before the shopper speaks (a system message, then an empty
    user message that TRL fills with what ``reset`` returns: the shopper's opening message).
    ``task_id``, ``family``, ``difficulty`` and ``seed`` identify the task; ``task`` (unless
    ``include_task`` is false) is the whole ``TaskSpec`` as JSON, so that ``reset`` needs no
    generator and hand-written tasks work too. Without it, ``reset`` regenerates the task from
    (family, difficulty, seed) on the configured catalog. Every row has the same columns, so
    ``datasets.Dataset.from_list(rows)`` takes them.
    """
    rows = []
    for task in tasks:
        prompt = [{"role": "user", "content": ""}]
        if system_prompt:
            prompt.insert(0, {"role": "system", "content": system_prompt})
        row: dict[str, Any] = {"prompt": prompt, "task_id": task.task_id,
                               "family": task.family, "difficulty": task.difficulty,
                               "seed": task.seed}
        if include_task:
            row["task"] = task.model_dump_json()
        rows.append(row)
    return rows


def task_from_row(shop: Shop, row: dict[str, Any]) -> TaskSpec:
    """The task a dataset row names: its ``task`` JSON, else generated from its ``family``,
    ``difficulty`` and ``seed`` (checked against its ``task_id``, if any)."""
    spec = row.get("task")
    if spec:
        task = (TaskSpec.model_validate_json(spec) if isinstance(spec, str | bytes)
                else TaskSpec.model_validate(spec))
    else:
        missing = [k for k in ("family", "difficulty", "seed") if row.get(k) is None]
        if missing:
            raise ValueError(f"the row has no 'task' and no {', '.join(missing)}: cannot tell "
                             "which task to play (rows come from trl_rows or `shop-episodes "
                             "tasks --format trl`)")
        from episodes.generate import generate_task

        task = generate_task(shop, str(row["family"]), int(row["difficulty"]),
                             int(row["seed"]))
        wanted = row.get("task_id")
        if wanted and wanted != task.task_id:
            raise ValueError(f"the row's task_id {wanted!r} is not the generated task "
                             f"{task.task_id!r}: keep the task JSON in the rows")
    made_on = task.catalog.get("fingerprint")
    if made_on and made_on != shop.catalog.fingerprint:
        raise ValueError(f"task {task.task_id} was generated on another catalog "
                         f"({str(made_on)[:12]}) than this shop's "
                         f"({shop.catalog.fingerprint[:12]}); set MCP_SHOP_DB, "
                         "MCP_SHOP_CATALOG_SEED and MCP_SHOP_CATALOG_SIZE to the catalog the "
                         "tasks were made on")
    return task


class EpisodeToolEnv:
    """What the TRL doors share (``ShopToolEnv`` here, ``Tau2ToolEnv`` in
    ``episodes.tau2.trl_env``): tool calls and messages as steps of the episode through a
    ``HeldRuntime``, their results as text (``Error: ...`` for a refused call or after the
    end), and ``get_reward``. A subclass sets ``_runtime``, ``_episode`` and ``_last`` and
    says what the ended episode's reward is (``_reward``)."""

    _runtime: HeldRuntime
    _episode: Any
    _last: StepResult | None

    def get_reward(self) -> float:
        """The episode's reward; an episode still running is ended first (as if the agent
        stopped), so every rollout is scored."""
        episode = self._require()
        if not episode.done:
            with contextlib.suppress(EpisodeOver):  # another thread ended it meanwhile
                self._last = self._runtime.step(episode, Action(done=True))
        return self._reward(episode)

    @property
    def task(self) -> Any:
        """The task being played (None before the first reset)."""
        return self._episode.task if self._episode is not None else None

    @property
    def done(self) -> bool:
        """Whether the episode has ended."""
        return self._episode is not None and self._episode.done

    @property
    def info(self) -> dict[str, Any]:
        """The last step's info (turn, tool calls; at the end success, stop reason and the
        verdict), as the episode reports it."""
        return dict(self._last.info) if self._last is not None else {}

    # -- plumbing (private: TRL exposes every public method as a tool) ----------------------

    def _start(self, task: Any) -> str:
        """Start an episode of ``task`` in place of the current one (whose session leaves
        the database); the user's opening message."""
        self._release()
        self._episode, obs = self._runtime.start(task, policy="trl")
        self._last = None
        return obs.shopper_message or ""

    def _release(self) -> None:
        """The current episode's session leaves the database."""
        raise NotImplementedError

    def _reward(self, episode: Any) -> float:
        """The ended episode's reward."""
        raise NotImplementedError

    def _require(self) -> Any:
        if self._episode is None:
            raise RuntimeError("no episode: call reset() first")
        return self._episode

    def _tool(self, name: str, **arguments: Any) -> str:
        """Call one tool as one step of the episode; the result as JSON text, or an
        ``Error: ...`` text. Arguments left at None are not sent (the tool's default
        applies)."""
        episode = self._require()
        if episode.done:
            return _OVER
        args = {k: v for k, v in arguments.items() if v is not None}
        try:
            self._last = step = self._runtime.step(
                episode, Action(tool_calls=[ToolRequest(name=name, arguments=args)]))
        except EpisodeOver:  # ended by a call from another thread meanwhile
            return _OVER
        if not step.observation.tool_results:
            return ("Error: the tool-call budget is exhausted; the episode is over "
                    f"({step.info.get('stop_reason', 'stopped')}).")
        result = step.observation.tool_results[0]
        if not result.ok:
            return f"Error: {result.content}"
        if isinstance(result.content, str):
            return result.content
        return json.dumps(result.content, ensure_ascii=False, separators=(",", ":"))

    # -- talking to the shopper -------------------------------------------------------------

    def send_message(self, text: str) -> str:
        """Send a message to the customer and return their reply. This is the only way to talk
        to the customer: ask questions, propose products or actions, confirm what was done.

        Args:
            text: The message to the customer.
        """
        episode = self._require()
        if episode.done:
            return _OVER
        try:
            self._last = step = self._runtime.step(episode, Action(message=text))
        except EpisodeOver:  # ended by a call from another thread meanwhile
            return _OVER
        reply = step.observation.shopper_message or ""
        if step.done:
            reply += "\n[The conversation is over.]"
        return reply


class ShopToolEnv(EpisodeToolEnv):
    """One shopping episode at a time, driven through tool methods (TRL's environment
    contract). Built with no arguments, it uses the shop the ``MCP_SHOP_*`` environment
    variables name; ``ShopToolEnv.factory(shop)`` binds an explicit one."""

    def __init__(self, *, shop: Shop | None = None, connect: str | tuple[str, ...] | None = None,
                 reward_mode: RewardMode | None = None,
                 settings: ShopSettings | None = None) -> None:
        """Every argument is optional (TRL passes none): ``shop`` (default: from
        ``settings``, default the environment), ``connect`` (an MCP server URL or stdio
        command; default in memory; ``"direct"``: the in-process tools without the MCP
        protocol, same results and records, faster) and ``reward_mode`` (sparse, shaped or
        dense)."""
        self._runtime: SyncController = shared_controller(
            shop, connect=connect, reward_mode=reward_mode, settings=settings)
        self._episode: Episode | None = None
        self._last: StepResult | None = None

    @classmethod
    def factory(cls, shop: Shop | None = None, *, connect: str | tuple[str, ...] | None = None,
                reward_mode: RewardMode | None = None,
                settings: ShopSettings | None = None) -> Callable[[], ShopToolEnv]:
        """A zero-argument callable making environments bound to these settings (for
        ``environment_factory=``)."""
        return functools.partial(cls, shop=shop, connect=connect, reward_mode=reward_mode,
                                 settings=settings)

    # -- the episode ------------------------------------------------------------------------

    def reset(self, **row: Any) -> str:
        """Start the episode a dataset row names (see ``trl_rows``; other columns, such as
        ``prompt``, are ignored) and return the shopper's opening message."""
        return self._start(task_from_row(self._runtime.shop, row))

    @property
    def breakdown(self) -> Breakdown | None:
        """The verdict (success, reward components with reasons, reward) once the episode has
        ended; None before."""
        return self._episode.breakdown if self._episode is not None else None

    @property
    def record(self) -> dict[str, Any]:
        """The rollout record (the same JSONL line as ``shop-episodes run``) of the ended
        episode."""
        return self._require().record()

    # -- plumbing (private: TRL exposes every public method as a tool) ----------------------

    def _reward(self, episode: Episode) -> float:
        assert episode.breakdown is not None
        return episode.breakdown.reward

    def _release(self) -> None:
        if self._episode is not None:
            self._runtime.controller.release(self._episode)

    def _require(self) -> Episode:
        episode: Episode = super()._require()
        return episode

    # -- catalog ----------------------------------------------------------------------------

    def search_products(self, query: str | None = None, category: str | None = None,
                        brand: str | None = None, min_price_cents: int | None = None,
                        max_price_cents: int | None = None, min_rating: float | None = None,
                        in_stock_only: bool | None = None,
                        attributes: dict[str, str | bool | int | float] | None = None,
                        attributes_at_least: dict[str, float] | None = None,
                        sort: SortOrder | None = None, page: int | None = None,
                        page_size: int | None = None) -> str:
        """Search the catalog by text and filters; returns one page of matching products with
        their ids, titles, brands, prices (integer cents), ratings and stock.

        Args:
            query: Free text, e.g. "wireless noise cancelling headphones"; omit to browse by
                filters only.
            category: A category slug from list_categories, e.g. "electronics/audio"
                (includes subcategories).
            brand: Exact brand name, any case.
            min_price_cents: Lowest price in cents (1999 = $19.99).
            max_price_cents: Highest price in cents.
            min_rating: Minimum average rating, 0 to 5.
            in_stock_only: Only products with a variant in stock (default false).
            attributes: Attribute values the product must have, e.g. {"noise_cancelling": true}
                (get_product shows the attribute names).
            attributes_at_least: Numeric attribute minimums, e.g. {"battery_hours": 20}.
            sort: "relevance" (default), "price_asc", "price_desc", "rating" or "popularity".
            page: 1-based page number (default 1).
            page_size: Results per page, 1 to 50 (default 10).
        """
        return self._tool("search_products", query=query, category=category, brand=brand,
                          min_price_cents=min_price_cents, max_price_cents=max_price_cents,
                          min_rating=min_rating, in_stock_only=in_stock_only,
                          attributes=attributes, attributes_at_least=attributes_at_least,
                          sort=sort, page=page, page_size=page_size)

    def get_product(self, product_id: str) -> str:
        """Full details of one product: description, attributes, and every variant with its
        variant_id, options (size, colour, ...), price in cents and stock.

        Args:
            product_id: A product id such as "P-000042", from search results.
        """
        return self._tool("get_product", product_id=product_id)

    def list_categories(self, parent: str | None = None, depth: int | None = None) -> str:
        """The category tree with product counts; a slug can be the category filter of
        search_products.

        Args:
            parent: A category slug to list the subcategories of; omit for the departments.
            depth: How many levels below the parent, 1 to 4 (default 2).
        """
        return self._tool("list_categories", parent=parent, depth=depth)

    def find_similar(self, product_id: str, cheaper: bool | None = None,
                     max_price_cents: int | None = None, in_stock_only: bool | None = None,
                     limit: int | None = None) -> str:
        """Products similar to one product, most similar first: alternatives to an
        out-of-stock item or a cheaper option.

        Args:
            product_id: The product to find alternatives to, e.g. "P-000042".
            cheaper: Only products cheaper than this one (default false).
            max_price_cents: Only products at or below this price, in cents.
            in_stock_only: Only products in stock (default true).
            limit: How many, 1 to 20 (default 5).
        """
        return self._tool("find_similar", product_id=product_id, cheaper=cheaper,
                          max_price_cents=max_price_cents, in_stock_only=in_stock_only,
                          limit=limit)

    def compare_products(self, product_ids: list[str]) -> str:
        """Compare products side by side: price range, rating, stock, and each attribute with
        a flag for the ones that differ.

        Args:
            product_ids: 2 to 5 product ids, e.g. ["P-000042", "P-000077"].
        """
        return self._tool("compare_products", product_ids=product_ids)

    def present_products(self, product_ids: list[str], message: str | None = None) -> str:
        """Show products to the customer as your recommendation; they see exactly these
        products (and the note) and react to them in their next reply.

        Args:
            product_ids: 1 to 10 product ids to show, e.g. ["P-000042"].
            message: A short note to the customer about these products.
        """
        return self._tool("present_products", product_ids=product_ids, message=message)

    def state_facts(self, facts: list[dict[str, str | int | bool]]) -> str:
        """Tell the customer facts you looked up, as data (say them in words too): order
        status, tracking, delivery dates, why an order cannot be cancelled, returned or
        exchanged, and policy values. Every fact must be right; none may contradict another.
        Returns the facts as recorded (not whether they are right).

        Args:
            facts: Up to a few facts, each {"fact": "order_status", "about": "O-1003",
                "value": "shipped"}; "about" is an order id, a category, a shipping option or
                a tier, and values come from get_order, check_return_eligibility and
                search_policy.
        """
        return self._tool("state_facts", facts=facts)

    # -- cart and checkout ------------------------------------------------------------------

    def view_cart(self) -> str:
        """The cart: lines with variant, quantity, unit price and stock, the discount code and
        whether it applies, and the totals in cents (total includes standard shipping)."""
        return self._tool("view_cart")

    def add_to_cart(self, variant_id: str, quantity: int | None = None) -> str:
        """Add units of a product variant to the cart (a variant already there gets more
        units); returns the updated cart.

        Args:
            variant_id: A variant id such as "V-000042-3", from get_product.
            quantity: Number of units (default 1).
        """
        return self._tool("add_to_cart", variant_id=variant_id, quantity=quantity)

    def update_cart_item(self, variant_id: str, quantity: int) -> str:
        """Set the quantity of a cart line (0 removes it); returns the updated cart.

        Args:
            variant_id: The variant of the cart line, e.g. "V-000042-3".
            quantity: The new quantity; 0 removes the line.
        """
        return self._tool("update_cart_item", variant_id=variant_id, quantity=quantity)

    def remove_from_cart(self, variant_id: str) -> str:
        """Remove a variant's line from the cart; returns the updated cart.

        Args:
            variant_id: The variant of the cart line, e.g. "V-000042-3".
        """
        return self._tool("remove_from_cart", variant_id=variant_id)

    def apply_discount_code(self, code: str) -> str:
        """Apply a discount code to the cart (one code per order); a code that does not apply
        is rejected with the reason. Returns the updated cart.

        Args:
            code: The discount code, e.g. "WELCOME10" (any case).
        """
        return self._tool("apply_discount_code", code=code)

    def remove_discount_code(self) -> str:
        """Remove the discount code from the cart; returns the updated cart."""
        return self._tool("remove_discount_code")

    def get_customer(self) -> str:
        """The customer's profile: name, loyalty tier, shipping addresses (address_id such as
        "A-1") and payment methods (payment_method_id such as "PM-1", gift card balances)."""
        return self._tool("get_customer")

    def checkout(self, payment_method_id: str, shipping_option: ShippingOption | None = None,
                 address_id: str | None = None,
                 second_payment_method_id: str | None = None) -> str:
        """Place an order for everything in the cart and charge the payment method(s). Only
        after the customer has confirmed the cart, the shipping and the payment. Returns the
        order (order_id such as "O-1042").

        Args:
            payment_method_id: A payment method id such as "PM-1", from get_customer.
            shipping_option: "standard" (default), "express" or "next_day".
            address_id: Where to ship, e.g. "A-2"; default the customer's default address.
            second_payment_method_id: A card or PayPal paying what a gift card (the first
                method) does not cover.
        """
        return self._tool("checkout", payment_method_id=payment_method_id,
                          shipping_option=shipping_option, address_id=address_id,
                          second_payment_method_id=second_payment_method_id)

    # -- orders, returns and policies -------------------------------------------------------

    def list_orders(self) -> str:
        """The customer's orders, newest first: order_id, status, date, total in cents and
        item count."""
        return self._tool("list_orders")

    def get_order(self, order_id: str) -> str:
        """One order in full: status, lines (variant_id, quantity, price, returned or
        exchanged units), payments, refunds, shipments with tracking, returns and exchanges.

        Args:
            order_id: An order id such as "O-1042".
        """
        return self._tool("get_order", order_id=order_id)

    def cancel_order(self, order_id: str, reason: CancelReason) -> str:
        """Cancel an order that is still pending; every payment is refunded. Only after the
        customer has confirmed. Returns the updated order.

        Args:
            order_id: The order to cancel, e.g. "O-1042".
            reason: Why the customer cancels.
        """
        return self._tool("cancel_order", order_id=order_id, reason=reason)

    def check_return_eligibility(self, order_id: str) -> str:
        """For each line of an order: whether it can be returned or exchanged now and why, how
        many units, the window's end, any restocking fee and the refund per unit in cents.

        Args:
            order_id: The order to check, e.g. "O-1042".
        """
        return self._tool("check_return_eligibility", order_id=order_id)

    def request_return(self, order_id: str, items: list[dict[str, str | int]],
                       reason: ReturnReason, refund_to: RefundTo | None = None) -> str:
        """Return units of delivered order lines for a refund. Only after the customer has
        confirmed. Returns the return with the refund and any restocking fee in cents.

        Args:
            order_id: The order the items come from, e.g. "O-1042".
            items: The lines to return, e.g. [{"variant_id": "V-000042-3", "quantity": 1}].
            reason: Why the items come back ("defective", "not_as_described" and
                "arrived_damaged" waive any restocking fee).
            refund_to: "original" (default: the payment methods used) or "gift_card".
        """
        return self._tool("request_return", order_id=order_id, items=items, reason=reason,
                          refund_to=refund_to)

    def request_exchange(self, order_id: str, variant_id: str, new_variant_id: str,
                         reason: ExchangeReason, quantity: int | None = None) -> str:
        """Exchange units of a delivered order line for another variant of the same product;
        the price difference is charged or refunded. Only after the customer has confirmed.

        Args:
            order_id: The order, e.g. "O-1042".
            variant_id: The ordered variant to send back, e.g. "V-000042-1".
            new_variant_id: The variant to receive instead, e.g. "V-000042-2".
            reason: Why the customer exchanges.
            quantity: Number of units (default 1).
        """
        return self._tool("request_exchange", order_id=order_id, variant_id=variant_id,
                          new_variant_id=new_variant_id, reason=reason, quantity=quantity)

    def search_policy(self, query: str) -> str:
        """Search the shop's policies (returns, exchanges, shipping, cancellation, discount
        codes, payment, warranty); the matching sections, best first.

        Args:
            query: What the customer asks about, e.g. "return window for electronics".
        """
        return self._tool("search_policy", query=query)
