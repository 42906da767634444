"""The heuristic agent: a rule-based shop assistant with no privileged information.

It sees what any agent sees (the shopper's messages, the tool list and tool results) and never
the task. Each turn it:

- cleans the shopper's words (undoes letter swaps and drops against the shop's vocabulary),
- classifies the current request (discovery, "like X but cheaper", buying named items, cart
  changes, a purchase with code, payment and shipping, a gift or kit under a budget, return,
  exchange, cancellation, order status, policy question) and restarts on "One more thing:",
- parses the slots said so far (budget, colour, size and other options, brand, features,
  rating, quantities, product titles, codes, payment, shipping, order ids, reasons), with a
  later statement overriding an earlier one,
- asks one clarifying question when details may be missing, searches and inspects products,
  presents at most three, learns from rejections, and asks before any consequential action.

It is meant to be a reasonable baseline, not an oracle: typos it cannot undo, hidden
constraints it does not ask about, flash sales and near-miss distractors all make it fail now
and then. Its first trial of a task plays one fixed behaviour whatever the seed; later trials
(``--trials``) draw a few behaviour choices from the trial's seed (``style``: how many results
to open and show, tie-breaks between equally good products, whether to ask first or re-read
the cart, the order of independent reads), so that pass^k measures something, while every
trial stays a pure function of the task and the trial.

The policy is one class put together from one mixin per journey: ``discovery`` (search,
present, "cheaper", gifts and kits), ``cart`` (named items, substitutes, checkout), ``orders``
(order look-up and status), ``returns`` (returns, exchanges, cancellations) and
``policy_answers``, over ``naming`` (products named by title) and ``conversation`` (the
plumbing, and the episode's ``style``); ``vocab``, ``reading`` and ``products`` read the
shopper's text and judge products.
"""

from __future__ import annotations

from episodes.agents.heuristic.agent import HeuristicAgent

__all__ = ["HeuristicAgent"]
