"""The ``shop-episodes`` command: run agents on generated or hand-written tasks, export tasks,
check that every generated task is solvable.

    shop-episodes run --agent heuristic --families all --difficulty 0-5 --episodes 200 \\
        --concurrency 16 --seed 7 --out runs/demo.jsonl
    shop-episodes run --agent oracle --tasks examples/tasks/
    shop-episodes run --agent heuristic --trials 4 --episodes 50   # pass@k and pass^k
    shop-episodes run --agent heuristic --curriculum cur.json --episodes 500   # adaptive
    shop-episodes run --agent heuristic --episodes 5000 --ray auto   # on a Ray cluster
    shop-episodes tasks --families all --difficulty 0-10 --episodes 500 --out tasks.jsonl
    shop-episodes tasks --schema                 # the task JSON schema
    shop-episodes tasks --suite tau2-retail --tau2-path ~/src/tau2-bench --split train \\
        --format trl --out tau2-train.jsonl      # a tau2 checkout's tasks
    shop-episodes records --schema               # the rollout record's JSON schema
    shop-episodes check --seeds 50 --difficulty 0-10   # the oracle must solve every task

--db defaults to $MCP_SHOP_DB when set, else sqlite:///shop.db. Exit codes: 0 done, 1 check or
audit found failures, 2 the command cannot run as given (bad option, unusable database, server
or output path), 130 interrupted (Ctrl-C; run, check and tasks keep what they finished).
"""

from __future__ import annotations

import argparse

from episodes.cli.check import cmd_check
from episodes.cli.options import (
    add_shop_options,
    add_task_options,
    non_negative,
    positive,
    rate,
)
from episodes.cli.tasks import cmd_tasks
from episodes.export import add_export_command
from episodes.http_env import add_serve_env_command
from episodes.records import add_records_command
from episodes.report import add_report_command
from mcp_shop.cli_support import add_version_option

__all__ = ["add_llm_options", "build_parser"]

CONCURRENCY_HELP = ("episodes played at once in each process (default 8); they overlap their "
                    "waits (a model endpoint, a server), so raise it for --agent llm")
WORKERS_HELP = ("worker processes (default 1; one per core helps: an episode is mostly "
                "Python); each runs --concurrency episodes at a time")


def add_llm_options(p: argparse.ArgumentParser) -> None:
    """The ``--llm-*`` options of ``--agent llm`` (``run``, ``cross-eval``)."""
    llm = p.add_argument_group(
        "llm agent", "--agent llm: a model behind any OpenAI-compatible Chat Completions "
        "endpoint with tool calling (vLLM, SGLang, llama.cpp server, Ollama, hosted APIs)")
    llm.add_argument("--llm-base-url", metavar="URL", help="e.g. http://127.0.0.1:8000/v1 "
                     "(default: $MCP_SHOP_LLM_BASE_URL or $OPENAI_BASE_URL)")
    llm.add_argument("--llm-model", help="the model name the endpoint serves")
    llm.add_argument("--llm-api-key-env", metavar="VAR", help="the environment variable "
                     "holding the API key (default OPENAI_API_KEY; no key is sent when unset)")
    llm.add_argument("--llm-temperature", type=float, help="sampling temperature (default 0)")
    llm.add_argument("--llm-max-calls", type=positive, metavar="N",
                     help="model requests per episode (default 60)")
    llm.add_argument("--llm-max-tokens", type=positive, metavar="N",
                     help="tokens per episode, prompts included (default 500000)")


def _add_run(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    # imported here: episodes.tau2.cli imports this package (its output, writer, options)
    from episodes.tau2.cli import add_tau2_options, cmd_run_suite

    run = sub.add_parser("run", help="run an agent on tasks and write rollouts")
    run.add_argument("--agent", default="heuristic", help="oracle, heuristic, random or llm")
    add_task_options(run, episodes=60)
    run.add_argument("--concurrency", type=positive, default=8, metavar="N",
                     help=CONCURRENCY_HELP)
    run.add_argument("--trials", type=positive, default=1, help="runs per task")
    run.add_argument("--reward-mode", choices=["sparse", "shaped", "dense"], default="sparse")
    run.add_argument("--out", help="rollout JSONL file")
    run.add_argument("--connect", help="URL of a running mcp-shop HTTP server on the same "
                     "--db (default: an in-memory server)")
    run.add_argument("--stdio", help="command line of a stdio mcp-shop server on the same --db")
    run.add_argument("--workers", type=positive, help=WORKERS_HELP + "; with --ray, Ray "
                     "workers (default: one per CPU of the cluster)")
    run.add_argument("--ray", nargs="?", const="local", metavar="ADDRESS",
                     help="spread the episodes over a Ray cluster (pip install "
                     "'mcp-shop[ray]'): with no ADDRESS a local Ray instance, 'auto' the "
                     "cluster this machine belongs to, host:port or ray://host:port another; "
                     "every node opens --db (PostgreSQL: the same database; SQLite: the file "
                     "at that path on each node, its catalog generated there if missing; "
                     "with --suite tau2-retail --tau2-db, the world imported there if "
                     "missing)")
    run.add_argument("--direct", action="store_true",
                     help="call the shop's tools in process without the MCP protocol (the same "
                     "results, errors and records as the in-memory server, faster; for "
                     "trainers); in every worker with --workers or --ray; not with --connect "
                     "or --stdio")
    run.add_argument("--keep-sessions", action="store_true",
                     help="keep each episode's shop session in the database (by default it is "
                     "removed once the episode's record is built: the record holds its "
                     "trace; remove kept ones later with mcp-shop prune)")
    run.add_argument("--shopper-llm", metavar="URL", help="rephrase the shopper's messages "
                     "through this OpenAI-compatible endpoint (e.g. http://127.0.0.1:8001/v1; "
                     "API key from OPENAI_API_KEY); the rules still decide")
    run.add_argument("--shopper-model", help="the model name for --shopper-llm")
    add_llm_options(run)
    cur = run.add_argument_group(
        "curriculum", "adaptive difficulty: per family a window [l, h] from [0, 0]; after "
        "--curriculum-check-every episodes at h, a success rate of at least the threshold "
        "raises h by one (and l to at least h - width + 1)")
    cur.add_argument("--curriculum", metavar="STATE.json", help="draw --episodes more tasks "
                     "from the curriculum saved in this file (created if missing; saved after "
                     "every check and at the end); --families and --seed set up a new file "
                     "(given for an existing one, they must match it)")
    cur.add_argument("--curriculum-check-every", type=positive, metavar="N",
                     help="counted episodes (at d == h) per check (default 32)")
    cur.add_argument("--curriculum-threshold", type=rate, metavar="RATE",
                     help="success rate at h that promotes (default 0.9)")
    cur.add_argument("--curriculum-width", type=positive, metavar="W",
                     help="the widest window (default 4)")
    cur.add_argument("--curriculum-batch", type=positive, metavar="B",
                     help="tasks drawn, run concurrently, then reported per step (default "
                     "--concurrency x --workers). Windows move only between batches, so a "
                     "run depends on it: a resumed run repeats an uninterrupted one exactly "
                     "when B is the same and each part's --episodes is a multiple of B")
    add_shop_options(run)
    add_tau2_options(run)
    run.set_defaults(fn=cmd_run_suite)


def build_parser() -> argparse.ArgumentParser:
    """The parser of every ``shop-episodes`` command; each sets ``fn`` (returns the exit
    code)."""
    parser = argparse.ArgumentParser(prog="shop-episodes", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    add_version_option(parser)
    sub = parser.add_subparsers(dest="command", required=True)
    _add_run(sub)

    tasks = sub.add_parser("tasks", help="export generated tasks (or a tau2 checkout's) as "
                           "JSONL")
    add_task_options(tasks, episodes=60)
    tasks.add_argument("--out", help="JSONL file (default: stdout); tasks are written as they "
                       "are generated")
    tasks.add_argument("--schema", action="store_true", help="print the task JSON schema")
    tasks.add_argument("--supported", action="store_true", help="list which families the "
                       "--db catalog supports (at which difficulties), and why not")
    tasks.add_argument("--format", choices=("tasks", "jsonl", "trl"), default="tasks",
                       help="tasks or jsonl: a task per line (TaskSpec; with --suite "
                       "tau2-retail a Tau2Task, see docs/tau2-retail.md; default); trl: "
                       "dataset rows for GRPOTrainer(environment_factory=ShopToolEnv), see "
                       "episodes.trl_env (tau2: Tau2ToolEnv, episodes.tau2.trl_env)")
    add_shop_options(tasks)
    from episodes.tau2.cli import add_tau2_task_options

    add_tau2_task_options(tasks)
    tasks.set_defaults(fn=cmd_tasks)

    check = sub.add_parser("check", help="the oracle must solve every generated task")
    check.add_argument("--families", default="all")
    check.add_argument("--difficulty", default="0-10")
    check.add_argument("--seeds", type=positive, default=50, help="tasks per family and "
                       "difficulty")
    check.add_argument("--seed", type=non_negative, default=0)
    check.add_argument("--concurrency", type=positive, default=8, metavar="N",
                       help=CONCURRENCY_HELP)
    check.add_argument("--workers", type=positive, default=1, help=WORKERS_HELP)
    check.add_argument("--out", help="rollout JSONL of the check")
    check.add_argument("--verbose", action="store_true", help="a row per family and "
                       "difficulty")
    add_shop_options(check)
    check.set_defaults(fn=cmd_check)
    add_records_command(sub)
    add_report_command(sub)
    add_export_command(sub)
    add_serve_env_command(sub)
    from episodes.audit import add_audit_command

    add_audit_command(sub)
    from episodes.tau2.crosseval import add_cross_eval_command

    add_cross_eval_command(sub)
    return parser
