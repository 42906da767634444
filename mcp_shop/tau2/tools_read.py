"""tau2 retail's look-up tools over a session's rows: users by email or by name and zip, a
user, an order, a product, an item, and the product list. Records come from the projection
(:mod:`mcp_shop.tau2.projection`), the one reader of tau2's layout, so what a tool shows is
what the DB check hashes."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection

from mcp_shop.models import Address, Customer
from mcp_shop.sql import Sql, fetch_all
from mcp_shop.tau2.projection import (
    find_item,
    product_list,
    project_order,
    project_product,
    project_user,
)
from mcp_shop.tau2.tools_common import fail

__all__ = [
    "find_user_id_by_email",
    "find_user_id_by_name_zip",
    "get_item_details",
    "get_order_details",
    "get_product_details",
    "get_user_details",
    "list_all_product_types",
]

CU = Customer.__table__  # type: ignore[attr-defined]
AD = Address.__table__  # type: ignore[attr-defined]
_EMAILS = Sql(f"SELECT public_id, email FROM {CU.name} WHERE session_id = ? ORDER BY id")
_NAMES = Sql(f"""SELECT c.public_id, c.first_name, c.last_name, a.postcode
    FROM {AD.name} a JOIN {CU.name} c ON c.id = a.customer_id
    WHERE a.session_id = ? AND a.is_default = ? AND c.session_id = a.session_id
    ORDER BY c.id""")


def _user_not_found(**context: Any) -> Exception:
    return fail("user_not_found", "User not found", **context)


def find_user_id_by_email(conn: Connection, session_id: str, email: str) -> str:
    """The id of the first user (in the world's order) whose email equals ``email`` ignoring
    case."""
    wanted = email.lower()
    for user_id, address in fetch_all(conn, _EMAILS, (session_id,)):
        if address.lower() == wanted:
            return str(user_id)
    raise _user_not_found(email=email)


def find_user_id_by_name_zip(conn: Connection, session_id: str, first_name: str,
                             last_name: str, zip: str) -> str:
    """The id of the first user whose first and last name equal the ones given ignoring case
    and whose default address has exactly this zip."""
    wanted = (first_name.lower(), last_name.lower(), zip)
    for user_id, first, last, postcode in fetch_all(conn, _NAMES, (session_id, True)):
        if ((first or "").lower(), (last or "").lower(), postcode) == wanted:
            return str(user_id)
    raise _user_not_found(first_name=first_name, last_name=last_name, zip=zip)


def get_user_details(conn: Connection, session_id: str, user_id: str) -> dict[str, Any]:
    user = project_user(conn, session_id, user_id)
    if user is None:
        raise _user_not_found(user_id=user_id)
    return user.model_dump()


def get_order_details(conn: Connection, session_id: str, order_id: str) -> dict[str, Any]:
    order = project_order(conn, session_id, order_id)
    if order is None:
        raise fail("order_not_found", "Order not found", order_id=order_id)
    return order.model_dump()


def get_product_details(conn: Connection, session_id: str, product_id: str) -> dict[str, Any]:
    product = project_product(conn, session_id, product_id)
    if product is None:
        raise fail("product_not_found", "Product not found", product_id=product_id)
    return product.model_dump()


def get_item_details(conn: Connection, session_id: str, item_id: str) -> dict[str, Any]:
    item = find_item(conn, session_id, item_id)
    if item is None:
        raise fail("item_not_found", "Item not found", item_id=item_id)
    return item.model_dump()


def list_all_product_types(conn: Connection, session_id: str) -> dict[str, str]:
    """Every product type's name and product id, sorted by name."""
    return product_list(conn, session_id)
