"""Public ids shown to agents, derived from the dense integer keys.

Products ``P-000042``, variants ``V-000042-3`` (product 42, third variant), orders ``O-1001``,
returns ``R-1``, exchanges ``X-1``, payment methods ``PM-1``, addresses ``A-1``.
"""

from __future__ import annotations

import re

from mcp_shop.errors import InvalidInput

__all__ = [
    "FIRST_ORDER_NUMBER",
    "VARIANTS_PER_PRODUCT",
    "order_id",
    "parse_order_id",
    "parse_product_id",
    "parse_variant_id",
    "product_id",
    "product_of",
    "variant_id",
    "variant_key",
]

VARIANTS_PER_PRODUCT = 1000
_PRODUCT = re.compile(r"^P-(\d{1,9})$")
_VARIANT = re.compile(r"^V-(\d{1,9})-(\d{1,3})$")
_ORDER = re.compile(r"^O-(\d{1,9})$")


def product_id(pk: int) -> str:
    """'P-000042' for product key 42."""
    return f"P-{pk:06d}"


def variant_key(product_pk: int, position: int) -> int:
    """The integer key of a product's variant at 1-based ``position``."""
    return product_pk * VARIANTS_PER_PRODUCT + position


def variant_id(pk: int) -> str:
    """'V-000042-3' for the third variant of product 42."""
    return f"V-{pk // VARIANTS_PER_PRODUCT:06d}-{pk % VARIANTS_PER_PRODUCT}"


def product_of(variant: str) -> str:
    """The product id of a variant id: 'V-000042-3' -> 'P-000042'; InvalidInput for anything
    that is not a variant id (``verifiers.state.product_of`` gives '' instead)."""
    return product_id(parse_variant_id(variant) // VARIANTS_PER_PRODUCT)


FIRST_ORDER_NUMBER = 1001
"""The number of a session's first order (``O-1001``)."""


def order_id(number: int) -> str:
    """'O-1001' for order number 1001."""
    return f"O-{number}"


def parse_product_id(text: str) -> int:
    """The key of 'P-000042'; InvalidInput for anything else."""
    m = _PRODUCT.match(text.strip()) if isinstance(text, str) else None
    if not m:
        raise InvalidInput(f"{text!r} is not a product id: product ids look like 'P-000042'")
    return int(m.group(1))


def parse_variant_id(text: str) -> int:
    """The key of 'V-000042-3'; InvalidInput for anything else."""
    m = _VARIANT.match(text.strip()) if isinstance(text, str) else None
    if not m or int(m.group(2)) == 0:
        raise InvalidInput(
            f"{text!r} is not a variant id: variant ids look like 'V-000042-3' "
            "(see the variants listed by get_product)"
        )
    return variant_key(int(m.group(1)), int(m.group(2)))


def parse_order_id(text: str) -> int:
    """The number of 'O-1001'; InvalidInput for anything else."""
    m = _ORDER.match(text.strip()) if isinstance(text, str) else None
    if not m:
        raise InvalidInput(f"{text!r} is not an order id: order ids look like 'O-1001'")
    return int(m.group(1))
