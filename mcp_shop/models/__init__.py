"""SQLModel tables of the shop: the shared catalog and the per-session worlds."""

from __future__ import annotations

from mcp_shop.models.catalog import CatalogInfo, CatalogPolicies, Category, Product, Variant
from mcp_shop.models.session import (
    Address,
    Cart,
    CartLine,
    Customer,
    DiscountCode,
    ExchangeRequest,
    Order,
    OrderLine,
    Payment,
    PaymentMethod,
    PriceOverride,
    ReturnLine,
    ReturnRequest,
    Shipment,
    ShopSession,
    StockOverride,
    TraceEvent,
)

__all__ = [
    "Address",
    "Cart",
    "CartLine",
    "CatalogInfo",
    "CatalogPolicies",
    "Category",
    "Customer",
    "DiscountCode",
    "ExchangeRequest",
    "Order",
    "OrderLine",
    "Payment",
    "PaymentMethod",
    "PriceOverride",
    "Product",
    "ReturnLine",
    "ReturnRequest",
    "Shipment",
    "ShopSession",
    "StockOverride",
    "TraceEvent",
    "Variant",
]

CATALOG_TABLES = (CatalogInfo, CatalogPolicies, Category, Product, Variant)
SESSION_TABLES = (
    ShopSession,
    StockOverride,
    PriceOverride,
    Customer,
    Address,
    PaymentMethod,
    DiscountCode,
    Cart,
    CartLine,
    Order,
    OrderLine,
    Payment,
    Shipment,
    ReturnRequest,
    ReturnLine,
    ExchangeRequest,
    TraceEvent,
)
