"""Reading a tau2-bench retail world from the user's own checkout, with clear errors.

``load_tau2_retail(path)`` takes either the root of a tau2-bench checkout or its retail data
directory (``data/tau2/domains/retail``, holding ``db.json``, ``tasks.json``,
``split_tasks.json`` and ``policy.md``), validates every file against
:mod:`mcp_shop.tau2.records` and against itself (ids that name what exists, items of the
right product, payment methods of the order's user, gold actions naming tau2's tools with
their parameters), and returns the world. Any problem raises :class:`Tau2DataError` naming
the file, where in it, what is wrong and what was expected. Nothing is downloaded.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import TypeAdapter, ValidationError

from mcp_shop.errors import InvalidInput, shown
from mcp_shop.tau2.records import TOOL_PARAMS, RetailDB, Task

__all__ = ["DOMAIN_SUBDIR", "FILES", "Tau2DataError", "Tau2Retail", "find_domain_dir",
           "load_tau2_retail"]

DOMAIN_SUBDIR = Path("data", "tau2", "domains", "retail")
FILES = ("db.json", "tasks.json", "split_tasks.json", "policy.md")
_MAX_SHOWN = 5  # problems quoted in one error message


class Tau2DataError(InvalidInput):
    """A tau2 retail checkout that cannot be used: a missing or malformed file, or data that
    contradicts itself. ``file`` names the file; ``problems`` lists ``{where, problem,
    expected}``."""

    code = "tau2_data"


@dataclass(frozen=True)
class Problem:
    where: str
    problem: str
    expected: str

    def text(self) -> str:
        return f"{self.where}: {self.problem} (expected {self.expected})"


@dataclass(frozen=True)
class Tau2Retail:
    """A loaded tau2 retail world: where it came from, its database, tasks, splits and the
    agent policy text."""

    domain_dir: Path
    db: RetailDB
    tasks: list[Task]
    splits: dict[str, list[str]]
    policy: str

    def task(self, task_id: str) -> Task:
        for t in self.tasks:
            if t.id == task_id:
                return t
        raise InvalidInput(f"no task {shown(task_id)} in {self.domain_dir / 'tasks.json'}",
                           task_id=task_id)

    def tasks_in(self, split: str) -> list[Task]:
        """The tasks of a named split (e.g. 'train', 'test', 'base'), in file order."""
        if split not in self.splits:
            raise InvalidInput(f"no split {shown(split)}; the splits are "
                               f"{', '.join(sorted(self.splits))}", split=split,
                               valid=sorted(self.splits))
        wanted = set(self.splits[split])
        return [t for t in self.tasks if t.id in wanted]


def _fail(file: Path, problems: list[Problem]) -> Tau2DataError:
    head = "; ".join(p.text() for p in problems[:_MAX_SHOWN])
    more = f" (and {len(problems) - _MAX_SHOWN} more)" if len(problems) > _MAX_SHOWN else ""
    return Tau2DataError(
        f"{file}: {head}{more}", file=str(file),
        problems=[{"where": p.where, "problem": p.problem, "expected": p.expected}
                  for p in problems[:_MAX_SHOWN]], problem_count=len(problems))


def find_domain_dir(path: str | Path) -> Path:
    """The retail data directory under ``path`` (a checkout root, a tau2 data directory, or
    the retail directory itself)."""
    root = Path(path).expanduser()
    if not root.exists():
        raise _fail(root, [Problem("path", "does not exist",
                                   "a tau2-bench checkout or its data/tau2/domains/retail")])
    if not root.is_dir():
        raise _fail(root, [Problem("path", "is a file, not a directory",
                                   "a tau2-bench checkout or its data/tau2/domains/retail")])
    for cand in (root, root / DOMAIN_SUBDIR, root / "tau2" / "domains" / "retail"):
        if (cand / "db.json").is_file() or (cand / "tasks.json").is_file():
            return cand
    raise _fail(root, [Problem(
        "path", "holds no db.json or tasks.json, nor data/tau2/domains/retail/ with them",
        "the root of a tau2-bench checkout or its data/tau2/domains/retail directory")])


def _read_json(file: Path, want: type) -> Any:
    if not file.is_file():
        raise _fail(file, [Problem("file", "is missing",
                                   f"{file.name} of tau2-bench's retail domain here")])
    try:
        data = json.loads(file.read_text(encoding="utf-8"))
    except UnicodeDecodeError as exc:
        raise _fail(file, [Problem(f"byte {exc.start}", "is not UTF-8", "UTF-8 JSON")]) from None
    except json.JSONDecodeError as exc:
        raise _fail(file, [Problem(f"line {exc.lineno} column {exc.colno}", exc.msg,
                                   "valid JSON")]) from None
    if not isinstance(data, want):
        raise _fail(file, [Problem("top level", f"is a JSON {type(data).__name__}",
                                   f"a JSON {'object' if want is dict else 'array'}")])
    return data


_KEYED = frozenset({"products", "variants", "users", "payment_methods", "orders", "options"})


def _where(loc: tuple[int | str, ...]) -> str:
    """A pydantic error location as a path into the file: ``orders['#W1'].items[0].price``
    (keys of the id-keyed objects in brackets, field names after dots)."""
    out, keyed = "", False
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        elif keyed:
            out += f"[{part!r}]"
        elif part in ("credit_card", "paypal", "gift_card"):  # the union's tag, not a key
            continue
        else:
            out += f".{part}" if out else part
        keyed = isinstance(part, str) and part in _KEYED and not keyed
    return out or "top level"


def _validation_problems(exc: ValidationError) -> list[Problem]:
    out = []
    for err in exc.errors(include_url=False):
        kind, msg = err["type"], err["msg"]
        if kind == "missing":
            problem, expected = "is missing", "this field"
        elif kind == "extra_forbidden":
            problem, expected = "is not a field of tau2's layout", "only tau2's fields"
        elif kind == "union_tag_invalid":
            problem, expected = f"has source {shown(err['ctx']['tag'])}", \
                f"source one of {err['ctx']['expected_tags']}"
        else:
            problem = f"is {shown(err.get('input'))}"
            expected = msg.removeprefix("Input should be ").removeprefix("Value error, ")
        out.append(Problem(_where(tuple(err["loc"])), problem, expected))
    return out


def _db_problems(db: RetailDB) -> Iterator[Problem]:
    item_product = db.item_product()
    owners: dict[str, str] = {}
    for key, p in db.products.items():
        for item in p.variants:
            if owners.setdefault(item, key) != key:
                yield Problem(f"products[{key!r}].variants[{item!r}]",
                              f"repeats an item id of products[{owners[item]!r}]",
                              "item ids unique across products")
    for key, p in db.products.items():
        if key != p.product_id:
            yield Problem(f"products[{key!r}]", f"holds product_id {p.product_id!r}",
                          "the key and the product_id to be equal")
        for ikey, v in p.variants.items():
            if ikey != v.item_id:
                yield Problem(f"products[{key!r}].variants[{ikey!r}]",
                              f"holds item_id {v.item_id!r}", "the key and item_id equal")
    for key, u in db.users.items():
        if key != u.user_id:
            yield Problem(f"users[{key!r}]", f"holds user_id {u.user_id!r}",
                          "the key and the user_id to be equal")
        for pkey, pm in u.payment_methods.items():
            if pkey != pm.id:
                yield Problem(f"users[{key!r}].payment_methods[{pkey!r}]",
                              f"holds id {pm.id!r}", "the key and the id to be equal")
        for oid in u.orders:
            o = db.orders.get(oid)
            if o is None or o.user_id != key:
                yield Problem(f"users[{key!r}].orders", f"names {oid!r}, " + (
                    "no order" if o is None else f"an order of {o.user_id!r}"),
                    "orders of this user")
    for key, o in db.orders.items():
        w = f"orders[{key!r}]"
        if key != o.order_id:
            yield Problem(w, f"holds order_id {o.order_id!r}", "the key and order_id equal")
        user = db.users.get(o.user_id)
        if user is None:
            yield Problem(f"{w}.user_id", f"names {o.user_id!r}", "a user of users")
        elif key not in user.orders:
            yield Problem(w, f"is not listed in users[{o.user_id!r}].orders",
                          "every order listed under its user")
        for i, it in enumerate(o.items):
            if item_product.get(it.item_id) != it.product_id:
                yield Problem(f"{w}.items[{i}]", f"item {it.item_id!r} of product "
                              f"{it.product_id!r} is not in products",
                              "an item of that product")
        ids = [it.item_id for it in o.items]
        named = [(f"fulfillments[{i}].item_ids", f.item_ids) for i, f in
                 enumerate(o.fulfillments)] + [("return_items", o.return_items or []),
                                                ("exchange_items", o.exchange_items or [])]
        for field, items in named:
            stray = sorted(set(items) - set(ids))
            if stray:
                yield Problem(f"{w}.{field}", f"names {stray}", "items of this order")
        pay_ids = [p.payment_method_id for p in o.payment_history]
        pay_ids += [x for x in (o.return_payment_method_id, o.exchange_payment_method_id) if x]
        for pid in pay_ids:
            if user is not None and pid not in user.payment_methods:
                yield Problem(w, f"uses payment method {pid!r}",
                              f"a payment method of user {o.user_id!r}")


def _task_problems(tasks: list[Task]) -> Iterator[Problem]:
    seen: set[str] = set()
    for i, t in enumerate(tasks):
        if t.id in seen:
            yield Problem(f"[{i}].id", f"repeats {t.id!r}", "unique task ids")
        seen.add(t.id)
        for j, a in enumerate(t.gold_actions()):
            w = f"[{i}] (task {t.id!r}).evaluation_criteria.actions[{j}]"
            if a.requestor != "assistant":
                yield Problem(f"{w}.requestor", f"is {a.requestor!r}",
                              "'assistant' (retail has no user tools)")
            params = TOOL_PARAMS.get(a.name)
            if params is None:
                yield Problem(f"{w}.name", f"is {shown(a.name)}",
                              f"one of tau2 retail's tools: {', '.join(sorted(TOOL_PARAMS))}")
            elif set(a.arguments) != set(params):
                yield Problem(f"{w}.arguments", f"are {sorted(a.arguments)}",
                              f"the parameters of {a.name}: {list(params) or 'none'}")


def load_tau2_retail(path: str | Path) -> Tau2Retail:
    """Read and check the retail world of a tau2-bench checkout (see the module)."""
    d = find_domain_dir(path)
    db_file, tasks_file, split_file, policy_file = (d / f for f in FILES)
    raw_db = _read_json(db_file, dict)
    try:
        db = RetailDB.model_validate(raw_db)
    except ValidationError as exc:
        raise _fail(db_file, _validation_problems(exc)) from None
    if problems := list(_db_problems(db)):
        raise _fail(db_file, problems)

    raw_tasks = _read_json(tasks_file, list)
    try:
        tasks = TypeAdapter(list[Task]).validate_python(raw_tasks)
    except ValidationError as exc:
        raise _fail(tasks_file, _validation_problems(exc)) from None
    if problems := list(_task_problems(tasks)):
        raise _fail(tasks_file, problems)

    ids = [t.id for t in tasks]
    if split_file.is_file():
        raw_split = _read_json(split_file, dict)
        try:
            splits = TypeAdapter(dict[str, list[str]]).validate_python(raw_split)
        except ValidationError as exc:
            raise _fail(split_file, _validation_problems(exc)) from None
        known = set(ids)
        bad = [Problem(f"[{name!r}]", f"names {sorted(set(v) - known)[:5]}",
                       "ids of tasks in tasks.json") for name, v in splits.items()
               if set(v) - known]
        if bad:
            raise _fail(split_file, bad)
    else:  # older checkouts have no split file: every task is in 'base'
        splits = {"base": ids}

    if not policy_file.is_file():
        raise _fail(policy_file, [Problem("file", "is missing",
                                          "the retail agent policy (markdown) here")])
    policy = policy_file.read_text(encoding="utf-8", errors="replace")
    if not policy.strip():
        raise _fail(policy_file, [Problem("file", "is empty", "the agent policy text")])
    return Tau2Retail(domain_dir=d, db=db, tasks=tasks, splits=splits, policy=policy)
