"""Tool methods made from an MCP tool list, for the TRL doors (``episodes.trl_env``,
``episodes.tau2.trl_env``): one method per listed tool, whose signature and Google-style
docstring render back (``transformers.utils.get_json_schema``) into the tool's input schema.

TRL (1.16) takes the public functions of an environment's class for tools and builds each
tool's JSON schema from the method's type hints and docstring. A door's class therefore gets a
subclass per tool list (``with_tools``) holding ``tool_method(tool)`` for every tool: the
listed name, the parameters in the listed order (required ones without a default), their
types (``annotation``), which are nullable, the enums, and the tool's and each parameter's
descriptions, all taken from the list, so the server that lists the tools is the one source of
what TRL shows the model. Each method calls ``self._tool(name, **arguments)``.
"""

from __future__ import annotations

import functools
import inspect
import json
import operator
import threading
from collections.abc import Callable
from typing import Any, Literal

__all__ = ["annotation", "tool_method", "with_tools"]

_TYPES: dict[str, Any] = {"string": str, "integer": int, "number": float, "boolean": bool,
                          "null": type(None)}
_CLASSES: dict[tuple[type, str], type] = {}
_CLASSES_LOCK = threading.Lock()


def _union(kinds: list[Any]) -> Any:
    return functools.reduce(operator.or_, kinds)


def annotation(schema: dict[str, Any], defs: dict[str, Any] | None = None, *,
               where: str = "a parameter", plain: bool = False) -> Any:
    """The Python type that TRL's schema builder renders as ``schema``: a string, integer,
    number or boolean; ``Literal`` for an enum; ``list[...]`` for an array; ``dict[str, ...]``
    for an object (a type hint cannot name an object's keys, so an object with listed
    properties, such as a ``$defs`` model, is a ``dict`` whose values are of its properties'
    types); a union for ``anyOf`` or a list of types, ``None`` in it for ``null``. ``defs``
    resolves ``#/$defs/...`` references; ``plain`` drops enums (a property's values inside
    such an object). ``where`` names the parameter in the error for a schema no type
    renders."""
    defs = defs or {}

    def render(s: dict[str, Any], plain: bool) -> Any:
        ref = s.get("$ref")
        if ref is not None:
            name = str(ref).removeprefix("#/$defs/")
            if name not in defs:
                raise ValueError(f"{where}: unresolved schema reference {ref!r}")
            return render(defs[name], plain)
        if "enum" in s and not plain:
            return Literal[tuple(s["enum"])]  # type: ignore[misc]
        if "enum" in s:
            return _union([type(v) for v in s["enum"]])
        options = s.get("anyOf") or s.get("oneOf")
        if options:
            return _union([render(o, plain) for o in options])
        kind = s.get("type")
        if isinstance(kind, list):
            return _union([render({**s, "type": k}, plain) for k in kind])
        if kind == "array":
            items = s.get("items")
            return list[render(items, plain)] if items else list  # type: ignore[misc]
        if kind == "object":
            values = s.get("additionalProperties")
            if isinstance(values, dict) and values:
                return dict[str, render(values, plain)]  # type: ignore[misc]
            props = s.get("properties") or {}
            if props:
                return dict[str, _union([render(p, True) for p in props.values()])]  # type: ignore[misc]
            return dict
        if kind in _TYPES:
            return _TYPES[kind]
        raise ValueError(f"{where} has a schema no method type renders: "
                         f"{json.dumps(s)[:200]}")

    return render(schema, plain)


def _one_line(text: str) -> str:
    return " ".join(text.split())


def tool_method(tool: dict[str, Any]) -> Callable[..., str]:
    """The method calling ``tool`` (OpenAI function format) through ``self._tool``: its name,
    a signature with the parameters in the listed order (required ones first, without a
    default; the others default to None, which is not sent, so the tool's default applies),
    typed as listed (``annotation``), and a Google-style docstring holding the tool's
    description and each parameter's (on one line, as TRL reads it)."""
    fn = tool["function"]
    name: str = fn["name"]
    params = fn.get("parameters") or {}
    props: dict[str, Any] = params.get("properties") or {}
    defs: dict[str, Any] = params.get("$defs") or {}
    required = set(params.get("required") or [])
    order = [p for p in props if p in required] + [p for p in props if p not in required]
    signature = [inspect.Parameter("self", inspect.Parameter.POSITIONAL_OR_KEYWORD)]
    annotations: dict[str, Any] = {}
    lines = []
    for p in order:
        kind = annotations[p] = annotation(props[p], defs, where=f"tool {name}: parameter {p}")
        default = inspect.Parameter.empty if p in required else None
        signature.append(inspect.Parameter(p, inspect.Parameter.POSITIONAL_OR_KEYWORD,
                                           default=default, annotation=kind))
        lines.append(f"    {p}: {_one_line(props[p].get('description') or p)}")
    annotations["return"] = str
    doc = (fn.get("description") or name).strip()
    if lines:
        doc += "\n\nArgs:\n" + "\n".join(lines)

    def method(self: Any, *args: Any, **kwargs: Any) -> str:
        # positional arguments in the listed order; keywords as given, so that a missing or
        # unknown argument reaches the tool, which refuses it (a failed call of the episode)
        if len(args) > len(order):
            return (f"Error: {name} takes at most {len(order)} arguments "
                    f"({', '.join(order) or 'none'}), not {len(args)}")
        arguments = dict(zip(order, args, strict=False))
        twice = sorted(set(arguments) & set(kwargs))
        if twice:
            return f"Error: {name} got {', '.join(twice)} twice"
        result: str = self._tool(name, **arguments, **kwargs)
        return result

    method.__name__ = method.__qualname__ = name
    method.__doc__ = doc
    method.__signature__ = inspect.Signature(  # type: ignore[attr-defined]
        signature, return_annotation=str)
    method.__annotations__ = annotations
    return method


def with_tools(cls: type, tools: list[dict[str, Any]]) -> type:
    """``cls`` with a method per tool (``tool_method``), made once per class and tool list; a
    class already made so is returned as it is. The subclass has ``cls``'s name, module and
    qualified name (TRL names a reward column after the class)."""
    if getattr(cls, "_tool_list", None) is not None:  # already a class with tools
        return cls
    key = (cls, json.dumps(tools, sort_keys=True))
    with _CLASSES_LOCK:
        made = _CLASSES.get(key)
        if made is None:
            methods: dict[str, Any] = {}
            for t in tools:
                tool_name = t["function"]["name"]
                if hasattr(cls, tool_name):
                    raise ValueError(f"tool {tool_name!r} would hide {cls.__name__}."
                                     f"{tool_name}")
                methods[tool_name] = tool_method(t)
            made = _CLASSES[key] = type(cls.__name__, (cls,), {
                **methods, "_tool_list": tools, "__module__": cls.__module__,
                "__qualname__": cls.__qualname__})
        return made
