"""Model endpoints over worker processes (``--workers 2``): the LLM agent, the shopper's LLM
rephrasing, and tau2's LLM user and LLM judge, each against the stub Chat Completions endpoint
(tests/episodes/chat_stub.py), give the records of one process but for timing, with the
requests coming from the worker processes (so the endpoint options reach them); a failing
endpoint (HTTP 500, connection refused) ends a run over workers as it ends a run in one
process, without leaving the pool hanging."""

from __future__ import annotations

import contextlib
import json
import multiprocessing
import os
import signal
import socket
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from episodes import cli
from episodes.agents.llm import LLMAgent
from episodes.agents.oracle import gold_actions
from episodes.generate import generate_task
from episodes.shopper import Shopper
from episodes.tasks import dump_tasks
from episodes.tau2.judge import JUDGE_PROMPT
from tests.conftest import TEST_SEED, TEST_SIZE
from tests.episodes.chat_stub import ChatStub, Reply, Status, gold_policy, text_reply
from tests.episodes.records import untimed
from tests.episodes.tau2_doors import FIXTURE
from tests.episodes.test_tau2_llm import TASKS, _judge_policy, _stub_policy, clean_env, wide

try:
    import psutil
except ImportError:  # pragma: no cover - it comes with trl; without it the requesting
    # processes are not checked
    psutil = None

__all__ = ["clean_env", "wide"]  # test_tau2_llm's fixtures: wide consoles; no endpoint
# settings from outside, and those a run puts in the environment undone afterwards

pytestmark = [pytest.mark.skipif(not hasattr(signal, "setitimer"), reason="POSIX signals"),
              pytest.mark.usefixtures("clean_env")]


FAMILIES = ("purchase", "return", "cart", "policy", "cancel")
DEADLINE = 90.0  # seconds a run may take before it counts as hung
PREFIX = "So, basically: "


class Hung(BaseException):
    """A run outlived ``DEADLINE``."""


@contextlib.contextmanager
def deadline(seconds: float = DEADLINE) -> Iterator[None]:
    """Raise ``Hung`` in this (the main) thread after ``seconds``: a hung pool fails the test
    (and is stopped as by Ctrl-C) instead of blocking the suite."""

    def expire(*_: object) -> None:
        raise Hung(f"the run took more than {seconds} s")

    previous = signal.signal(signal.SIGALRM, expire)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


@pytest.fixture
def no_backoff(monkeypatch: pytest.MonkeyPatch) -> None:
    """Retries without their back-off delays (the retries themselves are kept), in this
    process and in the workers forked from it (the pools start after this patch; elsewhere
    the runs are only slower)."""

    async def at_once(self: LLMAgent, attempt: int, retry_after: str | None) -> None:
        pass

    monkeypatch.setattr(LLMAgent, "_wait", at_once)
    from episodes import rephrase

    monkeypatch.setattr(rephrase, "time", SimpleNamespace(sleep=lambda seconds: None))


@pytest.fixture
def stub() -> Iterator[ChatStub]:
    with ChatStub() as s:
        yield s


@pytest.fixture(scope="module")
def shop_tasks(ep_shop: Any, tmp_path_factory: pytest.TempPathFactory,
               ) -> tuple[list[str], list[Any]]:
    """The options of a run on ``ep_shop``'s database with a file of ten tasks on it, and
    the tasks."""
    tasks = [generate_task(ep_shop, f, d, s) for f in FAMILIES for d, s in ((1, 3), (3, 4))]
    path = tmp_path_factory.mktemp("llmworkers") / "tasks.jsonl"
    dump_tasks(tasks, path)
    return ["--db", str(ep_shop.engine.url), "--catalog-seed", str(TEST_SEED),
            "--catalog-size", str(TEST_SIZE), "--tasks", str(path), "--concurrency", "3"], tasks


def _records(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


class Requesters:
    """Wraps ``stub``'s policy to note the processes (this one, its children) connected to
    the stub while it answers, for the first ``sample`` requests after each ``restart``
    (nothing without psutil)."""

    def __init__(self, stub: ChatStub, sample: int = 16) -> None:
        self.pids: set[int] = set()
        self.sample = self.left = sample
        self.port = int(stub.url.rsplit(":", 1)[1].split("/")[0])
        self.inner = stub.policy
        assert self.inner is not None
        stub.policy = self.policy

    def restart(self) -> None:
        self.pids = set()
        self.left = self.sample

    def policy(self, body: dict[str, Any]) -> Reply:
        if psutil is not None and self.left > 0:
            self.left -= 1
            me = psutil.Process()
            for proc in (me, *me.children(recursive=True)):
                with contextlib.suppress(psutil.Error):
                    if any(c.raddr and c.raddr.port == self.port
                           for c in proc.net_connections("tcp")):
                        self.pids.add(proc.pid)
        assert self.inner is not None
        return self.inner(body)


def one_and_workers(stub: ChatStub, run: Callable[[list[str], Path], int], tmp_path: Path,
                    *, cached: bool = False,
                    ) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """The records of ``run(more options, out)`` in one process and with ``--workers 2``:
    the first run's requests come from this process, the second's from its children, and
    both ask the same (``cached``: the same requests, each once or more: every process keeps
    a cache of its own)."""
    seen = Requesters(stub)
    one, two = tmp_path / "one.jsonl", tmp_path / "two.jsonl"
    with deadline():
        assert run([], one) == 0
    in_one, seen_one = len(stub.bodies), seen.pids
    seen.restart()
    with deadline():
        assert run(["--workers", "2"], two) == 0
    first, second = map(_canonical, stub.bodies[:in_one]), map(_canonical,
                                                                stub.bodies[in_one:])
    if cached:
        assert set(second) == set(first) and in_one > 0
    else:
        assert sorted(second) == sorted(first) and in_one > 0
    if psutil is not None:
        assert seen_one == {os.getpid()}
        assert seen.pids and os.getpid() not in seen.pids  # the workers asked, not this one
    assert multiprocessing.active_children() == []  # the pool is gone
    return _records(one), _records(two)


def _canonical(body: dict[str, Any]) -> str:
    return json.dumps(body, sort_keys=True)


# -- the shop's own tasks ---------------------------------------------------------------------


def test_the_llm_agent_over_workers(shop_tasks: tuple[list[str], list[Any]], stub: ChatStub,
                                    tmp_path: Path) -> None:
    """The stub replays each task's gold solution as the model's replies: the workers' LLM
    agents (configured by --llm-* in this process) earn the one-process records."""
    options, tasks = shop_tasks
    stub.policy = gold_policy({Shopper(t).opening(): gold_actions(t.gold) for t in tasks})

    def run(more: list[str], out: Path) -> int:
        return cli.main(["run", "--agent", "llm", "--llm-base-url", stub.url, "--llm-model",
                         "stub-model", *options, *more, "--out", str(out)])

    one, two = one_and_workers(stub, run, tmp_path)
    assert [r["task_id"] for r in two] == [t.task_id for t in tasks]
    assert all(r["policy"] == "llm" and r["success"] for r in two)
    assert [untimed(r) for r in two] == [untimed(r) for r in one]
    assert {b["model"] for b in stub.bodies} == {"stub-model"}
    assert _llm_variables() == {}  # the run's --llm-* options ended with it


def _llm_variables() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if k.startswith("MCP_SHOP_LLM_")}


def _rephrase(body: dict[str, Any]) -> Reply:
    """A deterministic rephrasing: the message with a prefix (every fact kept)."""
    return text_reply(PREFIX + body["messages"][-1]["content"])


def test_the_shoppers_rephrasing_over_workers(shop_tasks: tuple[list[str], list[Any]],
                                              stub: ChatStub, tmp_path: Path) -> None:
    options, tasks = shop_tasks
    stub.policy = _rephrase

    def run(more: list[str], out: Path) -> int:
        return cli.main(["run", "--agent", "oracle", "--shopper-llm", stub.url,
                         "--shopper-model", "stub-model", *options, *more, "--out", str(out)])

    one, two = one_and_workers(stub, run, tmp_path, cached=True)
    assert [untimed(r) for r in two] == [untimed(r) for r in one]
    assert all(r["success"] for r in two)
    said = [m["content"] for r in two for m in r["messages"] if m["role"] == "user"]
    assert len(said) >= len(tasks) and all(s.startswith(PREFIX) for s in said)


# -- tau2 retail ------------------------------------------------------------------------------


def test_tau2_llm_user_and_judge_over_workers(stub: ChatStub, tmp_path: Path) -> None:
    """The LLM agent, the LLM user (both on --llm-*) and the LLM judge (--judge-llm-*) of
    tau2 episodes, four trials of three tasks (two batches, one per worker)."""
    agent_and_user, judge = _stub_policy(), _judge_policy(refuse="no such text")

    def policy(body: dict[str, Any]) -> Reply:
        return (judge if body["messages"][0]["content"] == JUDGE_PROMPT
                else agent_and_user)(body)

    stub.policy = policy
    db = f"sqlite:///{tmp_path / 'tau2.db'}"

    def run(more: list[str], out: Path) -> int:
        return cli.main(["run", "--suite", "tau2-retail", "--tau2-path", str(FIXTURE),
                         "--task-ids", ",".join(TASKS), "--trials", "4", "--agent", "llm",
                         "--user", "llm", "--judge", "llm", "--llm-base-url", stub.url,
                         "--llm-model", "stub-model", "--judge-llm-model", "judge-model",
                         "--tau2-db", db, *more, "--out", str(out)])

    one, two = one_and_workers(stub, run, tmp_path)
    assert [(r["task_id"], r["trial"]) for r in two] == [
        (f"tau2-retail/{t}", k) for t in TASKS for k in range(4)]
    assert [untimed(r) for r in two] == [untimed(r) for r in one]
    assert all(r["policy"] == "llm" and r["reward"] == 1.0 for r in two)
    assert all(r["tau2"]["termination"] == "user_stop" for r in two)
    judged = [r["tau2"]["nl_assertions"] for r in two if r["tau2"]["task_id"] == "9"]
    assert judged == [[True, True]] * 4  # the fixture's task 9 has two NL assertions
    assert sum(b["model"] == "judge-model" for b in stub.bodies) == 2 * 4
    assert _llm_variables() == {}


# -- failing endpoints ------------------------------------------------------------------------


def _refused_url() -> str:
    """An endpoint on a port nothing listens on."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return f"http://127.0.0.1:{s.getsockname()[1]}/v1"


def _failed_runs(run: Callable[[list[str], Path], int], tmp_path: Path,
                 capsys: pytest.CaptureFixture[str]) -> list[tuple[int, str, str | None]]:
    """(exit code, the last line on stderr, the output file or None) of ``run`` in one
    process and with ``--workers 2``, each within the deadline."""
    outcomes = []
    for name, more in (("one", []), ("two", ["--workers", "2"])):
        out = tmp_path / f"{name}.jsonl"
        with deadline():
            code = run(more, out)
        assert multiprocessing.active_children() == []  # no worker left behind
        err = capsys.readouterr().err.strip().splitlines()
        outcomes.append((code, err[-1] if err else "",
                         out.read_text(encoding="utf-8") if out.exists() else None))
    return outcomes


@pytest.mark.parametrize("endpoint", ["500", "refused"])
def test_a_failing_agent_endpoint_over_workers(
        endpoint: str, shop_tasks: tuple[list[str], list[Any]], stub: ChatStub,
        tmp_path: Path, no_backoff: None, capsys: pytest.CaptureFixture[str]) -> None:
    """The run stops with the endpoint's error (exit 2, one line naming it), no episode
    written, in one process and over workers alike."""
    options, _ = shop_tasks
    stub.policy = lambda body: Status(500, '{"error": "model not loaded"}')
    url = stub.url if endpoint == "500" else _refused_url()

    def run(more: list[str], out: Path) -> int:
        return cli.main(["run", "--agent", "llm", "--llm-base-url", url, "--llm-model",
                         "stub-model", *options, *more, "--out", str(out)])

    one, two = _failed_runs(run, tmp_path, capsys)
    assert one == two
    code, line, written = two
    want = ("answered HTTP 500 (4 attempts): {\"error\": \"model not loaded\"}"
            if endpoint == "500" else "after 4 attempt(s): ConnectError")
    assert code == 2 and line.startswith("error: ") and want in line, line
    assert not written  # no episode finished
    if endpoint == "500":
        assert len(stub.requests) >= 2 * 4  # each run retried before giving up


@pytest.mark.parametrize("endpoint", ["500", "refused"])
def test_a_failing_rephrasing_endpoint_over_workers(
        endpoint: str, shop_tasks: tuple[list[str], list[Any]], stub: ChatStub,
        tmp_path: Path, no_backoff: None) -> None:
    """Rephrasing whose endpoint fails keeps the rule-based messages: the records of a run
    without rephrasing, in one process and over workers (each of which asked)."""
    options, _ = shop_tasks
    stub.policy = lambda body: Status(500, "down")
    url = stub.url if endpoint == "500" else _refused_url()
    records, asked = {}, []
    for name, more in (("plain", []), ("one", []), ("two", ["--workers", "2"])):
        out = tmp_path / f"{name}.jsonl"
        if name != "plain":
            more += ["--shopper-llm", url, "--shopper-model", "stub-model"]
        with deadline():
            assert cli.main(["run", "--agent", "oracle", *options, *more,
                             "--out", str(out)]) == 0
        assert multiprocessing.active_children() == []
        records[name] = [untimed(r) for r in _records(out)]
        asked.append(len(stub.requests))
    assert records["two"] == records["one"] == records["plain"]
    if endpoint == "500":  # three tries of each message, in each run
        assert asked[0] == 0 < asked[1] and asked[2] - asked[1] >= asked[1]


@pytest.mark.parametrize("role", ["user", "judge"])
def test_a_failing_tau2_endpoint_over_workers(role: str, stub: ChatStub, tmp_path: Path,
                                              no_backoff: None,
                                              capsys: pytest.CaptureFixture[str]) -> None:
    """An LLM user whose endpoint refuses connections, or an LLM judge whose endpoint answers
    HTTP 503, stops the run with the endpoint's error, in one process and over workers alike
    (the episodes written before it may differ: the judge is not asked about task 0, which
    has no NL assertion, so its episodes can finish first in either)."""
    stub.policy = lambda body: Status(503, "overloaded")
    url = stub.url if role == "judge" else _refused_url()
    db = f"sqlite:///{tmp_path / 'tau2.db'}"

    def run(more: list[str], out: Path) -> int:
        return cli.main(["run", "--suite", "tau2-retail", "--tau2-path", str(FIXTURE),
                         "--task-ids", "4,9,12,0", "--trials", "4", "--agent", "oracle",
                         f"--{role}", "llm", f"--{role}-llm-base-url", url,
                         f"--{role}-llm-model", f"{role}-model", "--tau2-db", db, *more,
                         "--out", str(out)])

    one, two = _failed_runs(run, tmp_path, capsys)
    assert one[0] == two[0] == 2 and one[1] == two[1], (one, two)
    assert (("answered HTTP 503 (4 attempts): overloaded" if role == "judge"
             else "after 4 attempt(s): ConnectError") in two[1]), two[1]


def _leaf(exc: BaseException) -> BaseException:
    while isinstance(exc, BaseExceptionGroup):
        exc = exc.exceptions[0]
    return exc


def test_a_failure_is_not_held_back_by_a_stalled_batch(
        ep_shop: Any, shop_tasks: tuple[list[str], list[Any]], stub: ChatStub,
        no_backoff: None, monkeypatch: pytest.MonkeyPatch) -> None:
    """The endpoint never answers the first batch's conversations and answers the second's
    with HTTP 500: the run fails with the endpoint's error at once, as in one process (where
    the failing episodes cancel the stalled ones), and the stalled worker is ended."""
    import time

    import anyio

    from episodes.agents.llm import LLMEndpointError
    from episodes.controller import EpisodeController
    from episodes.parallel import WorkerPool

    _, tasks = shop_tasks
    stalled = {Shopper(t).opening() for t in tasks[:5]}
    release = threading.Event()

    def policy(body: dict[str, Any]) -> Reply:
        opening = next(m["content"] for m in body["messages"] if m["role"] == "user")
        if opening in stalled:
            release.wait(DEADLINE)
        return Status(500, "down")

    stub.policy = policy
    monkeypatch.setenv("MCP_SHOP_LLM_BASE_URL", stub.url)
    monkeypatch.setenv("MCP_SHOP_LLM_MODEL", "stub-model")

    async def one_process() -> None:
        async with EpisodeController(ep_shop) as controller:
            await controller.run(LLMAgent.from_env(), tasks, concurrency=len(tasks))

    def over_workers() -> None:
        with WorkerPool(str(ep_shop.engine.url), workers=2, catalog_seed=TEST_SEED,
                        catalog_size=TEST_SIZE) as pool:
            pool.run("llm", tasks, batch=5, concurrency=5)

    errors = []
    try:
        for run in (lambda: anyio.run(one_process), over_workers):
            started = time.perf_counter()
            with deadline(30), pytest.raises(BaseExceptionGroup) as info:
                run()
            assert time.perf_counter() - started < 20
            assert multiprocessing.active_children() == []
            errors.append(_leaf(info.value))
    finally:
        release.set()
    assert all(isinstance(e, LLMEndpointError) and e.status == 500 for e in errors)
    assert str(errors[0]) == str(errors[1])
