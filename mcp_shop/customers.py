"""The session's customer: profile, addresses and masked payment methods."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection, select

from mcp_shop.models import Address, Customer, PaymentMethod
from mcp_shop.views import AddressView, CustomerView, PaymentMethodView

__all__ = ["get_customer"]

CU = Customer.__table__  # type: ignore[attr-defined]
AD = Address.__table__  # type: ignore[attr-defined]
PM = PaymentMethod.__table__  # type: ignore[attr-defined]


def get_customer(conn: Connection, session: Any) -> CustomerView:
    """The customer of ``session`` with addresses and payment methods."""
    c = conn.execute(select(CU).where(CU.c.id == session.customer_id)).one()
    addresses = conn.execute(select(AD).where(AD.c.session_id == session.id)
                             .order_by(AD.c.id)).all()
    methods = conn.execute(select(PM).where(PM.c.session_id == session.id)
                           .order_by(PM.c.id)).all()
    return CustomerView(
        customer_id=c.public_id, name=c.name, email=c.email, tier=c.tier,
        member_since=c.member_since,
        addresses=[AddressView(address_id=a.public_id, label=a.label, recipient=a.recipient,
                               line1=a.line1, city=a.city, region=a.region, postcode=a.postcode,
                               country=a.country, is_default=a.is_default) for a in addresses],
        payment_methods=[PaymentMethodView(payment_method_id=m.public_id, kind=m.kind,
                                           label=m.label, balance_cents=m.balance_cents,
                                           is_default=m.is_default) for m in methods],
    )
