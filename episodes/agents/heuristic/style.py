"""The heuristic's behaviour choices for one episode: the few places where a real assistant
could reasonably act one way or another, drawn from the episode's seed on repeated trials.

The first trial of a task (trial 0) plays ``DEFAULT``, the heuristic's long-standing
behaviour, so single-trial runs do not change. Every later trial draws a ``Style`` from
``random.Random(seed)``, the per-trial seed the controller derives from the task and the trial
number, and the same generator breaks ties between equally good candidates during the episode.
An episode is therefore a pure function of (task, trial): the same run gives the same records.

None of the choices is meant to fail: each is one a careful agent might make, and some carry a
genuine risk (opening fewer search results, showing fewer products, skipping the clarifying
question or the first look at the cart) that costs reward now and then, which is what makes
pass^k say something about the heuristic.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

__all__ = ["DEFAULT", "Style", "style_for"]


@dataclass(frozen=True)
class Style:
    """How one episode goes about its work (``Style()``: the heuristic's default)."""

    inspect: int = 5
    """Search hits opened with ``get_product`` per search (more costs calls, fewer may miss
    the product that fits)."""
    show: int = 3
    """Products presented at most at once when several fit."""
    shuffle_ties: bool = False
    """Break ties between equally good candidates at random rather than by search rank."""
    ask_details: bool = True
    """Ask the clarifying question (budget, brand, features) before searching."""
    read_cart_first: bool = True
    """Look at the cart before changing it (without it, lines already there go unseen)."""
    recheck_cart: bool = False
    """Read the cart once more before proposing the order."""
    customer_first: bool = False
    """At checkout, read the payment methods before applying the discount code."""
    order_reads_together: bool = True
    """Read an order and its return eligibility in one step (else one after the other)."""
    facts_with_message: bool = False
    """State facts in the same step as the message that says them (else the step before)."""
    query_words: int = 6
    """Words of a product's name put in the search for it."""
    frugal: bool = False
    """In a gift or kit, take the cheapest fitting product for every part (by default the
    cheapest only while later parts still need budget, the best match for the last)."""

    @classmethod
    def draw(cls, rng: random.Random) -> Style:
        """One style drawn from ``rng`` (always the same draws, in field order)."""
        return cls(
            inspect=rng.choice((4, 5, 5, 6, 8)),
            show=rng.choice((2, 3, 3)),
            shuffle_ties=rng.random() < 0.5,
            ask_details=rng.random() >= 0.1,
            read_cart_first=rng.random() >= 0.1,
            recheck_cart=rng.random() < 0.4,
            customer_first=rng.random() < 0.5,
            order_reads_together=rng.random() >= 0.3,
            facts_with_message=rng.random() < 0.4,
            query_words=rng.choice((5, 6, 6, 8)),
            frugal=rng.random() < 0.3,
        )


DEFAULT = Style()


def style_for(seed: int, trial: int) -> tuple[Style, random.Random | None]:
    """The style of an episode and the generator for its tie-breaks (None: by search rank):
    ``DEFAULT`` on trial 0, drawn from ``seed`` on later trials."""
    if trial < 0:
        raise ValueError(f"trial must be 0 or more (0 is the first play of a task), got {trial}")
    if trial == 0:
        return DEFAULT, None
    rng = random.Random(seed)
    return Style.draw(rng), rng
