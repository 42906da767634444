"""Return and final-sale policies of an imported catalog: documented defaults per department,
overridden by a small TOML or JSON file (``mcp-shop import --policies FILE``), stored with
the catalog (table ``catalog_policies``) and read back by the shop.

The file (every key optional)::

    [default]                      # every department not named below
    window_days = 30               # days after delivery a return is accepted (0-365)
    restocking_fee_percent = 0     # kept from refunds unless the shop is at fault (0-100)
    returnable = true              # false: the whole department is final sale
    final_sale_share = 0.0         # share of the department's products marked final sale (0-1)

    [departments."Electronics"]    # a department by name or slug
    window_days = 15
    restocking_fee_percent = 15

Without a file every department gets the default: returnable within 30 days, no fee, no
final-sale products (unless the source marks a product as such). Shipping, cancellation,
discount and payment rules are the shop's usual ones; warranties only where the file gives
``warranty_months``.
"""

from __future__ import annotations

import json
import tomllib
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError
from sqlalchemy import Engine

from mcp_shop.db import read_tx
from mcp_shop.errors import InvalidInput
from mcp_shop.policies import DEFAULT_POLICIES, Policies, ReturnRule, WarrantyRule
from mcp_shop.shop_policies import read_policies

__all__ = ["DepartmentPolicy", "PolicyConfig", "build_policies", "load_policies",
           "read_policy_config"]


class DepartmentPolicy(BaseModel):
    """The return terms of one department (or of every department: ``[default]``)."""

    model_config = ConfigDict(extra="forbid")

    window_days: int = Field(30, ge=0, le=365)
    restocking_fee_percent: int = Field(0, ge=0, le=100)
    returnable: bool = True
    final_sale_share: float = Field(0.0, ge=0.0, le=1.0)
    warranty_months: int | None = Field(None, ge=0, le=240)


class PolicyConfig(BaseModel):
    """A policies file: the default terms and per-department overrides (by name or slug)."""

    model_config = ConfigDict(extra="forbid")

    default: DepartmentPolicy = Field(default_factory=lambda: DepartmentPolicy())
    departments: dict[str, DepartmentPolicy] = Field(default_factory=dict)


def read_policy_config(path: str | Path) -> PolicyConfig:
    """The policies file at ``path`` (``.toml`` or ``.json``), validated.

    Raises:
        InvalidInput: unreadable, not TOML/JSON, or a key or value that is not allowed (the
            message names it and the valid range).
    """
    p = Path(path)
    try:
        raw = p.read_bytes()
    except OSError as exc:
        raise InvalidInput(f"cannot read the policies file {str(p)!r}: {exc.strerror or exc}",
                           file=str(p)) from None
    try:
        data: Any = (json.loads(raw) if p.suffix.lower() == ".json"
                     else tomllib.loads(raw.decode("utf-8-sig")))
    except (ValueError, UnicodeDecodeError) as exc:
        kind = "JSON" if p.suffix.lower() == ".json" else "TOML"
        raise InvalidInput(f"the policies file {str(p)!r} is not valid {kind}: {exc}",
                           file=str(p)) from None
    try:
        return PolicyConfig.model_validate(data)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(x) for x in e['loc']) or '(top level)'}: {e['msg']}"
            for e in exc.errors()[:5])
        raise InvalidInput(
            f"the policies file {str(p)!r} is not usable: {problems}. Allowed: [default] and "
            "[departments.\"NAME\"] tables with window_days (0-365), restocking_fee_percent "
            "(0-100), returnable (true/false), final_sale_share (0-1), warranty_months "
            "(0-240)", file=str(p)) from None


def _resolve(config: PolicyConfig, departments: list[tuple[str, str]]
             ) -> dict[str, DepartmentPolicy]:
    """Each department's terms by slug; a name in the file that is no department: error."""
    by_key: dict[str, str] = {}
    for slug, name in departments:
        by_key[slug] = slug
        by_key.setdefault(name, slug)
        by_key.setdefault(name.casefold(), slug)
    out = {slug: config.default for slug, _ in departments}
    for key, terms in config.departments.items():
        found = by_key.get(key) or by_key.get(key.casefold())
        if found is None:
            known = ", ".join(repr(n) for _, n in departments[:30])
            raise InvalidInput(f"the policies file names a department {key!r} that this "
                               f"catalog does not have; its departments are: {known}",
                               department=key)
        out[found] = terms
    return out


def build_policies(config: PolicyConfig | None, departments: list[tuple[str, str]]
                   ) -> tuple[Policies, dict[str, float]]:
    """The catalog's policies and each department's final-sale share (by slug).

    ``departments`` are ``(slug, name)`` pairs. The default terms become the rule for every
    category (prefix ''); a department whose terms differ gets its own rule (prefix: its
    slug, the longest prefix wins).
    """
    config = config or PolicyConfig()
    terms = _resolve(config, departments)
    base = config.default
    rules = [_rule("", "Most items", base)]
    warranties = []
    for slug, name in departments:
        t = terms[slug]
        if (t.window_days, t.restocking_fee_percent, t.returnable) != (
                base.window_days, base.restocking_fee_percent, base.returnable):
            rules.append(_rule(slug, name, t))
        if t.warranty_months:
            warranties.append(WarrantyRule(slug_prefix=slug, label=name,
                                           months=t.warranty_months))
    policies = DEFAULT_POLICIES.model_copy(update={"return_rules": rules,
                                                   "warranty_rules": warranties})
    return policies, {slug: terms[slug].final_sale_share for slug, _ in departments}


def _rule(prefix: str, label: str, t: DepartmentPolicy) -> ReturnRule:
    return ReturnRule(slug_prefix=prefix, label=label, returnable=t.returnable,
                      window_days=t.window_days if t.returnable else 0,
                      restocking_fee_percent=t.restocking_fee_percent if t.returnable else 0)


def load_policies(engine: Engine) -> Policies:
    """The policies of the database's catalog: its stored ones (imported catalogs), else
    ``DEFAULT_POLICIES`` (generated catalogs, and databases older than the table)."""
    with read_tx(engine) as conn:
        return read_policies(conn)
