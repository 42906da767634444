"""The LLM agent: a language model behind any OpenAI-compatible Chat Completions endpoint (vLLM,
SGLang, llama.cpp server, Ollama, hosted APIs) plays the shop assistant with tool calling.

    agent = LLMAgent("http://127.0.0.1:8000/v1", "Qwen/Qwen2.5-7B-Instruct")
    records = await controller.run(agent, tasks, concurrency=16)

It is the cold-start policy to bootstrap RL from. The model sees what any agent sees: the shop's
MCP tools as listed by the server (OpenAI function specs, without ``session_id``, which the
controller injects into every call), the shopper's messages as ``user`` messages, and each
tool's result (or error text) as a ``tool`` message answering its call. A reply with tool calls
becomes an action making those calls; a reply with only text is said to the shopper (and ends the
agent's turn); an empty reply ends the episode.

Decisions worth knowing:

- Tool calls whose ``arguments`` are not a JSON object never reach the shop: the model is
  answered at once with a ``tool`` message explaining the error and asked again (this counts
  against the model-call budget but not against the task's tool-call budget). Calls to unknown
  tools do reach the controller, which reports them as failed calls, as for any agent.
- Text sent alongside tool calls stays in the model's history but is not said to the shopper:
  the model has not seen the results yet. ``<think>...</think>`` blocks are never said.
- Budgets per episode: ``max_model_calls`` requests and ``max_tokens_per_episode`` tokens (the
  endpoint's ``usage.total_tokens`` summed over the episode's requests, or about four characters
  a token when the endpoint reports no usage). When one is spent the agent ends the episode
  (``Action(done=True)``, stop reason ``agent_done``).
- HTTP 408, 425, 429, 500, 502, 503 and 504, timeouts and connection failures are retried
  ``retries`` times with exponential back-off (honouring ``Retry-After``); then, or at once for
  any other status or a malformed reply, :class:`LLMEndpointError` is raised with the URL, the
  status and an excerpt of the body. By default it propagates and stops the whole run (a
  broken endpoint should not fill a training set with zero-reward episodes); with
  ``on_error="stop"`` the episode ends instead and the error is kept on the policy.

The API key is read from ``OPENAI_API_KEY`` (or the variable ``api_key_env`` names) unless
given; without one no ``Authorization`` header is sent, as local servers expect.
:meth:`LLMAgent.from_env` builds the agent from ``MCP_SHOP_LLM_*`` variables, which is how
``shop-episodes run --agent llm`` reaches worker processes.
"""

from __future__ import annotations

import json
import logging
import os
import random
import re
import ssl
from dataclasses import dataclass, field
from typing import Any, Literal

import anyio
import anyio.lowlevel
import httpx2

from episodes.controller import Action, Observation, Policy, ToolRequest
from verifiers.types import TaskSpec

__all__ = ["DEFAULT_SYSTEM_PROMPT", "LLMAgent", "LLMEndpointError", "LLMPolicy"]

log = logging.getLogger(__name__)

DEFAULT_SYSTEM_PROMPT = (
    "You are the shopping assistant of an online shop, talking with a customer. Use the tools "
    "to look things up and to act; never invent product, variant, order or payment ids, prices "
    "or policies: take them from tool results. When you recommend products, show them with "
    "present_products. When you answer a question about an order or the shop's policies, state "
    "each fact with state_facts (the values exactly as the tools gave them) as well as telling "
    "the customer in words; never guess or list several possible values. Before placing an "
    "order (checkout), cancelling an order, or requesting "
    "a return or an exchange, summarise what you will do, naming every term you will use "
    "(items and quantities, each payment method, shipping option, address, refund route, "
    "reason), and ask a question starting with \"Shall I\"; act only after the customer says "
    "yes, and exactly on the terms they agreed to. Ask the customer when a detail you need "
    "is missing. Keep your messages short and concrete."
)

RETRY_STATUSES = frozenset({408, 425, 429, 500, 502, 503, 504})
ENV_PREFIX = "MCP_SHOP_LLM_"
_THINK = re.compile(r"<think>.*?(?:</think>|$)", re.S)
_MAX_RETRY_AFTER = 60.0


class LLMEndpointError(RuntimeError):
    """The Chat Completions endpoint could not be used: unreachable, an error status (after the
    retries, for transient ones), or a reply that is not a Chat Completions response."""

    def __init__(self, message: str, *, url: str = "", status: int | None = None) -> None:
        super().__init__(message)
        self.url = url
        self.status = status

    def __reduce__(self) -> tuple[Any, ...]:  # keep url and status across processes
        return (_rebuild_error, (str(self), self.url, self.status))


def _rebuild_error(message: str, url: str, status: int | None) -> LLMEndpointError:
    return LLMEndpointError(message, url=url, status=status)


@dataclass
class _Reply:
    """One assistant reply: its text, its raw tool calls and the tokens the request cost."""

    text: str | None
    tool_calls: list[dict[str, Any]]
    tokens: int


def _spoken(text: str | None) -> str:
    """What of a reply's text is said to the shopper: without reasoning (``<think>`` blocks,
    or everything up to a lone ``</think>`` when the template opened the block itself)."""
    text = _THINK.sub("", text or "")
    if "</think>" in text:
        text = text.rsplit("</think>", 1)[1]
    return text.strip()


def _excerpt(text: str, limit: int = 300) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[:limit] + "..."


def _parse_reply(data: Any, url: str, request_chars: int) -> _Reply:
    """The assistant message of a Chat Completions response, checked; raises
    :class:`LLMEndpointError` when the response does not have that shape."""

    def bad(why: str) -> LLMEndpointError:
        return LLMEndpointError(f"malformed reply from {url}: {why}; got "
                                f"{_excerpt(json.dumps(data, default=str))}", url=url)

    if not isinstance(data, dict):
        raise bad("the body is not a JSON object")
    if "error" in data and not data.get("choices"):
        raise bad("the endpoint returned an error object")
    choices = data.get("choices")
    if not isinstance(choices, list) or not choices or not isinstance(choices[0], dict):
        raise bad("no choices")
    message = choices[0].get("message")
    if not isinstance(message, dict):
        raise bad("choices[0] has no message")
    content = message.get("content")
    if isinstance(content, list):  # content parts: keep the text ones
        texts = [p["text"] for p in content if isinstance(p, dict) and "text" in p]
        if not all(isinstance(t, str) for t in texts):
            raise bad("a content part's text is not a string")
        content = "".join(texts)
    if content is not None and not isinstance(content, str):
        raise bad("the message content is neither text nor null")
    calls = message.get("tool_calls") or []
    if not isinstance(calls, list):
        raise bad("tool_calls is not a list")
    for call in calls:
        fn = call.get("function") if isinstance(call, dict) else None
        if not isinstance(fn, dict) or not isinstance(fn.get("name"), str) or not fn["name"]:
            raise bad("a tool call has no function name")
        if not isinstance(fn.get("arguments", ""), str | dict):
            raise bad("a tool call's arguments are neither JSON text nor an object")
    usage = data.get("usage")
    tokens = usage.get("total_tokens") if isinstance(usage, dict) else None
    if not isinstance(tokens, int) or isinstance(tokens, bool) or tokens < 0:
        tokens = (request_chars + len(json.dumps(message, default=str))) // 4
    return _Reply(text=content, tool_calls=calls, tokens=tokens)


class LLMAgent:
    """An agent whose policy is a model behind an OpenAI-compatible Chat Completions endpoint
    (``POST {base_url}/chat/completions``). One agent serves any number of concurrent
    episodes; each episode gets its own chat history (:class:`LLMPolicy`)."""

    name = "llm"
    privileged = False

    def __init__(self, base_url: str, model: str, *, api_key: str | None = None,
                 api_key_env: str = "OPENAI_API_KEY", system_prompt: str | None = None,
                 temperature: float = 0.0, max_reply_tokens: int | None = None,
                 max_tokens_per_episode: int | None = 500_000, max_model_calls: int = 60,
                 timeout: float = 120.0, retries: int = 3, backoff: float = 1.0,
                 on_error: Literal["raise", "stop"] = "raise",
                 extra_body: dict[str, Any] | None = None) -> None:
        """``base_url`` usually ends in ``/v1``; ``extra_body`` is merged into every request
        (e.g. ``{"chat_template_kwargs": {"enable_thinking": False}}`` for vLLM);
        ``max_reply_tokens`` is sent as ``max_tokens``."""
        if not base_url.startswith(("http://", "https://")):
            raise ValueError(f"the LLM endpoint must be an http(s) URL, got {base_url!r}")
        if not model:
            raise ValueError("the LLM agent needs a model name (the one the endpoint serves)")
        if on_error not in ("raise", "stop"):
            raise ValueError(f"on_error must be 'raise' or 'stop', got {on_error!r}")
        self.url = base_url.rstrip("/") + "/chat/completions"
        self.model = model
        self.api_key_env = api_key_env
        self.api_key = api_key if api_key is not None else os.environ.get(api_key_env, "")
        self.system_prompt = DEFAULT_SYSTEM_PROMPT if system_prompt is None else system_prompt
        self.temperature = temperature
        self.max_reply_tokens = max_reply_tokens
        self.max_tokens_per_episode = max_tokens_per_episode
        self.max_model_calls = max_model_calls
        self.timeout = timeout
        self.retries = max(0, retries)
        self.backoff = max(0.0, backoff)
        self.on_error: Literal["raise", "stop"] = on_error
        self.extra_body = dict(extra_body or {})
        self._ssl: ssl.SSLContext | None = None
        self._client: httpx2.AsyncClient | None = None
        self._client_loop: object = None

    @classmethod
    def from_env(cls, **overrides: Any) -> LLMAgent:
        """The agent configured by ``MCP_SHOP_LLM_BASE_URL`` (or ``OPENAI_BASE_URL``),
        ``MCP_SHOP_LLM_MODEL``, ``MCP_SHOP_LLM_API_KEY_ENV`` (the name of the variable holding
        the key, default ``OPENAI_API_KEY``) and optionally ``MCP_SHOP_LLM_TEMPERATURE``,
        ``MCP_SHOP_LLM_MAX_CALLS`` and ``MCP_SHOP_LLM_MAX_TOKENS``; ``overrides`` win."""
        env = os.environ
        base_url = env.get(ENV_PREFIX + "BASE_URL") or env.get("OPENAI_BASE_URL", "")
        model = env.get(ENV_PREFIX + "MODEL", "")
        if not base_url and "base_url" not in overrides:
            raise ValueError("the llm agent needs an endpoint: give --llm-base-url (or set "
                             f"{ENV_PREFIX}BASE_URL), e.g. http://127.0.0.1:8000/v1")
        if not model and "model" not in overrides:
            raise ValueError("the llm agent needs a model: give --llm-model (or set "
                             f"{ENV_PREFIX}MODEL), the name the endpoint serves")
        options: dict[str, Any] = {"base_url": base_url, "model": model}
        if env.get(ENV_PREFIX + "API_KEY_ENV"):
            options["api_key_env"] = env[ENV_PREFIX + "API_KEY_ENV"]
        for key, option, kind in (("TEMPERATURE", "temperature", float),
                                  ("MAX_CALLS", "max_model_calls", int),
                                  ("MAX_TOKENS", "max_tokens_per_episode", int)):
            if env.get(ENV_PREFIX + key):
                try:
                    options[option] = kind(env[ENV_PREFIX + key])
                except ValueError:
                    raise ValueError(f"{ENV_PREFIX}{key} must be a number, got "
                                     f"{env[ENV_PREFIX + key]!r}") from None
        options.update(overrides)
        return cls(**options)

    def start(self, task: TaskSpec | None, obs: Observation, *, seed: int) -> Policy:
        return LLMPolicy(self, seed=seed)

    # -- the endpoint -----------------------------------------------------------------------

    def _http(self) -> httpx2.AsyncClient:
        """One client per event loop, shared by the loop's episodes."""
        loop = anyio.lowlevel.current_token()
        if self._client is None or self._client_loop != loop:
            if self._ssl is None:
                self._ssl = ssl.create_default_context()
            self._client = httpx2.AsyncClient(timeout=self.timeout, verify=self._ssl)
            self._client_loop = loop
        return self._client

    async def aclose(self) -> None:
        """Close the HTTP client (optional: it holds no connection between requests)."""
        if self._client is not None:
            await self._client.aclose()
            self._client = None

    async def complete(self, messages: list[dict[str, Any]], tools: list[dict[str, Any]],
                       *, seed: int | None = None, max_tokens: int | None = None) -> _Reply:
        """One Chat Completions request, retried on transient failures."""
        body: dict[str, Any] = {"model": self.model, "messages": messages,
                                "temperature": self.temperature}
        if tools:
            body.update(tools=tools, tool_choice="auto")
        if seed is not None:
            body["seed"] = seed
        if max_tokens is not None:
            body["max_tokens"] = max_tokens
        body.update(self.extra_body)
        payload = json.dumps(body).encode()
        # One connection per request: the client (one per event loop) then holds no socket
        # once a request is over, so an event loop may end at any time without leaking one.
        headers = {"Content-Type": "application/json", "Accept": "application/json",
                   "Connection": "close"}
        if self.api_key:
            headers["Authorization"] = f"Bearer {self.api_key}"
        for attempt in range(self.retries + 1):
            last = attempt == self.retries
            try:
                response = await self._http().post(self.url, content=payload, headers=headers)
            except httpx2.TransportError as exc:  # refused, reset, timed out, DNS, TLS...
                if last:
                    raise LLMEndpointError(
                        f"cannot reach the LLM endpoint {self.url} after {attempt + 1} "
                        f"attempt(s): {type(exc).__name__}: {exc}", url=self.url) from None
                await self._wait(attempt, None)
                continue
            if response.status_code in RETRY_STATUSES and not last:
                log.info("LLM endpoint %s answered %s; retrying", self.url,
                         response.status_code)
                await self._wait(attempt, response.headers.get("retry-after"))
                continue
            if response.status_code != 200:
                raise LLMEndpointError(self._status_message(response, attempt + 1),
                                       url=self.url, status=response.status_code)
            try:
                data = response.json()
            except ValueError:
                raise LLMEndpointError(
                    f"malformed reply from {self.url}: the body is not JSON: "
                    f"{_excerpt(response.text)!r}", url=self.url, status=200) from None
            return _parse_reply(data, self.url, len(payload))
        raise AssertionError("unreachable")  # pragma: no cover - the loop returns or raises

    def _status_message(self, response: httpx2.Response, attempts: int) -> str:
        code = response.status_code
        text = f"the LLM endpoint {self.url} answered HTTP {code}"
        if code in RETRY_STATUSES:
            text += f" ({attempts} attempts)"
        body = _excerpt(response.text)
        if body:
            text += f": {body}"
        if code in (401, 403):
            text += (f" (check the API key: it is read from ${self.api_key_env}"
                     f"{'' if self.api_key else ', which is empty'})")
        elif code == 404:
            text += (" (check the base URL, which usually ends in /v1, and the model "
                     f"{self.model!r})")
        return text

    async def _wait(self, attempt: int, retry_after: str | None) -> None:
        delay = self.backoff * 2 ** attempt
        try:
            if retry_after is not None:
                delay = max(delay, min(float(retry_after), _MAX_RETRY_AFTER))
        except ValueError:  # an HTTP date: keep the exponential delay
            pass
        if delay > 0:
            await anyio.sleep(delay * (1 + 0.25 * random.random()))  # noqa: S311 - jitter


@dataclass
class _Pending:
    """A tool call of the last reply, waiting for its result: ``error`` is set when the call
    was not sent to the shop (its arguments did not parse)."""

    call_id: str
    error: str | None = None


@dataclass
class LLMPolicy:
    """One episode of an :class:`LLMAgent`: the chat history and the budgets' counters."""

    agent: LLMAgent
    seed: int | None = None
    messages: list[dict[str, Any]] = field(default_factory=list)
    tools: list[dict[str, Any]] = field(default_factory=list)
    model_calls: int = 0
    tokens: int = 0
    invalid_calls: int = 0
    error: str | None = None
    stop_reason: str = ""
    _pending: list[_Pending] = field(default_factory=list)

    async def act(self, obs: Observation) -> Action:
        """Take in the observation, then ask the model until it calls tools or speaks."""
        self._absorb(obs)
        while True:
            spent = self._spent()
            if spent:
                self.stop_reason = spent
                return Action(done=True)
            try:
                reply = await self.agent.complete(self.messages, self.tools, seed=self.seed,
                                                  max_tokens=self.agent.max_reply_tokens)
            except LLMEndpointError as exc:
                if self.agent.on_error == "raise":
                    raise
                log.warning("ending the episode: %s", exc)
                self.error, self.stop_reason = str(exc), "endpoint_error"
                return Action(done=True)
            self.model_calls += 1
            self.tokens += reply.tokens
            if reply.tool_calls:
                requests = self._take_calls(reply)
                if requests:
                    return Action(tool_calls=requests)
                self._absorb_pending([])  # every call was malformed: tell the model, ask again
                continue
            self.messages.append({"role": "assistant", "content": reply.text or ""})
            text = _spoken(reply.text)
            if text:
                return Action(message=text)
            self.stop_reason = "empty_reply"
            return Action(done=True)

    def _spent(self) -> str:
        agent = self.agent
        if self.model_calls >= agent.max_model_calls:
            return "model_call_budget"
        if agent.max_tokens_per_episode is not None and \
                self.tokens >= agent.max_tokens_per_episode:
            return "token_budget"
        return ""

    def _absorb(self, obs: Observation) -> None:
        if not self.messages:
            self.tools = list(obs.tools)
            if self.agent.system_prompt:
                self.messages.append({"role": "system", "content": self.agent.system_prompt})
        else:
            self._absorb_pending(obs.tool_results)
        if obs.shopper_message is not None:
            self.messages.append({"role": "user", "content": obs.shopper_message})

    def _absorb_pending(self, results: list[Any]) -> None:
        """Answer every pending call with a tool message: its result (in call order) or why it
        was not made."""
        queue = iter(results)
        for pending in self._pending:
            if pending.error is not None:
                content = pending.error
            else:
                result = next(queue, None)
                if result is None:
                    content = "not executed: the episode's tool-call budget is exhausted"
                elif isinstance(result.content, str):
                    content = result.content
                else:
                    content = json.dumps(result.content, sort_keys=True, default=str)
            self.messages.append({"role": "tool", "tool_call_id": pending.call_id,
                                  "content": content})
        self._pending = []

    def _take_calls(self, reply: _Reply) -> list[ToolRequest]:
        """Record the reply's tool calls in the history; the well-formed ones as requests."""
        requests: list[ToolRequest] = []
        wire: list[dict[str, Any]] = []
        for k, call in enumerate(reply.tool_calls):
            fn = call["function"]
            given = call.get("id")
            call_id = given if isinstance(given, str) and given else f"call_{self.model_calls}_{k}"
            raw = fn.get("arguments") or "{}"
            text = raw if isinstance(raw, str) else json.dumps(raw)
            wire.append({"id": call_id, "type": "function",
                         "function": {"name": fn["name"], "arguments": text}})
            try:
                arguments = json.loads(text) if isinstance(raw, str) else raw
            except ValueError as exc:
                arguments, why = None, f"they are not valid JSON ({exc})"
            else:
                why = "they are not a JSON object"
            if isinstance(arguments, dict):
                requests.append(ToolRequest(name=fn["name"], arguments=arguments))
                self._pending.append(_Pending(call_id))
            else:
                self.invalid_calls += 1
                self._pending.append(_Pending(call_id, error=(
                    f"error: the call was not made: the arguments of {fn['name']} must be a "
                    f"JSON object and {why}. Call the tool again with valid arguments.")))
        self.messages.append({"role": "assistant", "content": reply.text, "tool_calls": wire})
        return requests
