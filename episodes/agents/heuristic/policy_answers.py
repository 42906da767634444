"""Policy questions: each question answered by quoting the policy lines that apply, and the
facts that answer it stated with ``state_facts``.
"""

from __future__ import annotations

import re
from typing import Any

from episodes.agents.heuristic.conversation import Step, _Conversation
from episodes.agents.heuristic.reading import _PRODUCT_ID, _category
from episodes.agents.heuristic.vocab import _words_of


class _PolicyAnswers(_Conversation):
    """Answering policy questions."""

    def _policy(self) -> Step:
        """Answer each question of the request by quoting the policy lines that apply."""
        questions = [q.strip() for q in re.split(r"(?<=\?)\s+", self.segment[0]) if q.strip()]
        answers: list[str] = []
        facts: list[dict[str, Any]] = []
        tier: str | None = None
        for question in questions:
            if "?" not in question and len(questions) > 1:
                continue
            low = question.lower()
            dept = slug = about = ""
            final_sale = False
            pid = _PRODUCT_ID.search(question)
            if pid:
                view = yield from self._call("get_product", product_id=pid.group(0).upper())
                if view is not None:
                    slug = about = str(view["category_slug"])
                    final_sale = bool(view.get("final_sale"))
                    if final_sale:
                        about = str(view["product_id"])
            else:
                slug = about = _category(low) or ""
            dept = slug.split("/")[0]
            topic = _policy_topic(low)
            if topic == "free" and tier is None:
                m = re.search(r"\b(standard|silver|gold) member", self.said.lower())
                if m:
                    tier = m.group(1)
                else:
                    customer = yield from self._call("get_customer")
                    tier = (customer or {}).get("tier")
            res = yield from self._call("search_policy", query=_POLICY_QUERY.get(
                topic, question)[:200] + (f" {dept}" if dept else ""))
            sections = {m["key"]: m["text"] for m in (res or {}).get("matches", [])}
            known = [f for m in (res or {}).get("matches", []) for f in m.get("facts", [])]
            answers.append(_policy_answer(topic, low, dept, final_sale, tier, sections))
            facts += _policy_facts(topic, low, slug, about, final_sale, tier, known)
        text = " ".join(a for a in answers if a) or "Sorry, I couldn't find that in our policies."
        yield from self._tell_and_say(facts[:10], text)


_POLICY_QUERY = {"window": "return window returns", "fee": "restocking fee returns",
                 "non_returnable": "final sale returns", "ship_cost": "shipping options cost",
                 "ship_time": "shipping delivery days", "free": "free standard shipping",
                 "warranty": "warranty", "cancel": "cancel order pending hours"}


def _policy_topic(low: str) -> str:
    if "warranty" in low:
        return "warranty"
    if "restocking" in low or " fee" in low:
        return "fee"
    if "free shipping" in low or "free standard" in low:
        return "free"
    if "cancel" in low:
        return "cancel"
    if re.search(r"anything i can't return|can't i return|cannot return|non-returnable", low):
        return "non_returnable"
    if "shipping" in low or "delivery" in low:
        return "ship_time" if re.search(r"how long|take|days|arrive", low) else "ship_cost"
    if "return" in low:
        return "window"
    return "other"


def _rule_value(known: list[dict[str, Any]], key: str, slug: str) -> Any:
    """The value of the policy fact ``key`` for category ``slug``: the fact about the longest
    prefix of the slug, else the one about every other category (``*``)."""
    best: tuple[int, Any] | None = None
    for f in known:
        about = str(f.get("about") or "")
        if f.get("fact") != key:
            continue
        size = len(about) if about != "*" and slug.startswith(about) else (
            0 if about == "*" else -1)
        if size >= 0 and (best is None or size > best[0]):
            best = (size, f.get("value"))
    return best[1] if best else None


def _policy_facts(topic: str, low: str, slug: str, about: str, final_sale: bool,
                  tier: str | None, known: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The facts (from search_policy's sections) that answer one policy question."""
    def one(key: str, subject: str | None, value: Any) -> list[dict[str, Any]]:
        if value is None or (subject is not None and not subject):
            return []
        return [{"fact": key, **({"about": subject} if subject else {}), "value": value}]

    if topic in ("window", "fee") and final_sale:
        return one("returnable", about, False)
    if topic == "window":
        if _rule_value(known, "returnable", slug) is False:
            return one("returnable", about, False)
        return one("return_window_days", about, _rule_value(known, "return_window_days", slug))
    if topic == "fee":
        if "defective" in low or "damaged" in low:
            return one("fee_waived_if_defective", about,
                       _rule_value(known, "fee_waived_if_defective", slug))
        return one("restocking_fee_percent", about,
                   _rule_value(known, "restocking_fee_percent", slug))
    if topic == "non_returnable":
        return [{"fact": "returnable", "about": f["about"], "value": False} for f in known
                if f.get("fact") == "returnable" and f.get("value") is False
                and f.get("about") != "*"]
    if topic in ("ship_cost", "ship_time"):
        option = "next_day" if "next" in low else "express" if "express" in low else "standard"
        key = "shipping_cost_cents" if topic == "ship_cost" else "shipping_days"
        return one(key, option, next((f["value"] for f in known if f.get("fact") == key
                                      and f.get("about") == option), None))
    if topic == "free" and tier:
        return one("free_shipping_threshold_cents", tier, next(
            (f["value"] for f in known if f.get("fact") == "free_shipping_threshold_cents"
             and f.get("about") == tier), None))
    if topic == "warranty":
        return one("warranty_months", about, _rule_value(known, "warranty_months", slug))
    if topic == "cancel":
        return one("cancel_window_hours", None, next(
            (f["value"] for f in known if f.get("fact") == "cancel_window_hours"), None))
    return []


def _dept_line(lines: list[str], dept: str, default: str) -> str | None:
    """The bullet line of a policy section that covers department ``dept``."""
    for line in lines:
        label = line.lstrip("- ").split(":", 1)[0].lower()
        if dept and (label.startswith(dept) or dept.startswith(label.split()[0])):
            return line.lstrip("- ")
    for line in lines:
        if line.lstrip("- ").lower().startswith(default):
            return line.lstrip("- ")
    return None


def _policy_answer(topic: str, low: str, dept: str, final_sale: bool, tier: str | None,
                   sections: dict[str, str]) -> str:
    """The sentences of the policy sections that answer one question."""
    def lines(key: str) -> list[str]:
        return [x.strip() for x in sections.get(key, "").splitlines() if x.strip()]

    def sentences(key: str) -> list[str]:
        return [x.strip() for x in re.split(r"(?<=\.)\s+|\n", sections.get(key, ""))
                if x.strip()]

    if topic in ("window", "fee"):
        if final_sale:
            return "That item is a clearance item sold as final sale, so it can't be returned."
        line = _dept_line(lines("returns"), dept, "most items")
        return line or ""
    if topic == "non_returnable":
        return " ".join(x.lstrip("- ") for x in lines("returns") if "final sale" in x)
    if topic in ("ship_cost", "ship_time"):
        names = {"next": "next day", "express": "express", "standard": "standard"}
        want = next((v for k, v in names.items() if k in low), "standard")
        return next((x.lstrip("- ") for x in lines("shipping") if x.lower().lstrip("- ")
                     .startswith(want)), "")
    if topic == "free":
        line = next((x for x in lines("shipping") if "free" in x.lower()), "")
        if tier:
            m = re.search(rf"{tier} members (from \$[\d,.]+|on every order)", line)
            if m:
                return f"As a {tier} member, standard shipping is free {m.group(1)}. {line}"
        return line
    if topic == "warranty":
        line = _dept_line(lines("warranty")[1:], dept, "other items")
        return line or ""
    if topic == "cancel":
        return next((x for x in sentences("cancellation") if "within" in x), "")
    best = max(sections.values(), key=lambda t: len(set(_words_of(t)) & set(_words_of(low))),
               default="")
    return " ".join(best.splitlines()[:3])
