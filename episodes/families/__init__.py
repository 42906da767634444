"""The task families: importing this package registers one generator per family.

- ``products``: discovery, price_compare
- ``substitution``: substitution
- ``bundle``: bundle
- ``cart``: cart, purchase
- ``orders``: return, exchange, order_status, cancel
- ``policy``: policy
- ``multi``: multi-intent journeys chaining an order or policy intent with a product intent
"""

from episodes.families import (  # noqa: F401
    bundle,
    cart,
    multi,
    orders,
    policy,
    products,
    substitution,
)
