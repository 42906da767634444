"""``shop-episodes export``: training data for TRL from rollout files.

    shop-episodes export sft runs/*.jsonl --out sft.jsonl [--min-reward R] [--include-failures]
    shop-episodes export dpo runs/*.jsonl --out dpo.jsonl [--margin 0.5]
        [--max-pairs-per-group 4]
    shop-episodes export kto runs/*.jsonl --out kto.jsonl [--threshold R]
    (all three) [--policy NAME ...] [--system-prompt TEXT] [--with-metadata]
        [--arguments dict|json]

Every output file is JSONL, one row a line, in TRL's *conversational* dataset formats:

* ``sft``: ``messages``, ``tools`` (conversational language modeling with tool calling, for
  ``SFTTrainer``);
* ``dpo``: ``prompt``, ``chosen``, ``rejected``, ``tools`` (conversational preference with an
  explicit prompt, for ``DPOTrainer``);
* ``kto``: ``prompt``, ``completion``, ``label``, ``tools`` (conversational unpaired
  preference, for ``KTOTrainer``).

``messages``, ``prompt``, ``chosen``, ``rejected`` and ``completion`` are lists of messages,
each of one of these shapes (no other keys)::

    {"role": "system", "content": str}                 # only first (e.g. --system-prompt)
    {"role": "user", "content": str}                   # the shopper
    {"role": "assistant", "content": str}              # the agent's message to the shopper
    {"role": "assistant", "content": "",               # the agent's tool calls
     "tool_calls": [{"id": str, "type": "function",
                     "function": {"name": str, "arguments": {...}}}]}
    {"role": "tool", "tool_call_id": str, "name": str, "content": str}   # a call's result

Tool-call ``arguments`` are JSON objects (dicts), as Hugging Face chat templates and TRL's
tool-calling format expect; the rollouts keep them as JSON text (the OpenAI wire format), which
``--arguments json`` keeps instead, for templates that print them as given. Tool-call messages
carry an empty ``content`` (some templates concatenate it unconditionally). Every tool message
answers a call of the assistant message just before it (same ``tool_call_id``, same ``name``),
and every call is answered before the next assistant message. ``tools`` is the episode's list
of OpenAI function specs (``{"type": "function", "function": {"name", "description",
"parameters"}}``), which chat templates render into the system prompt. ``label`` is a bool.

Opt-in metadata columns (``--with-metadata``), after the fields above:

* ``sft`` and ``kto``: ``rollout_id``, ``task_id``, ``family``, ``difficulty``, ``policy``,
  ``trial``, ``reward``, ``success``;
* ``dpo``: ``task_id``, ``family``, ``difficulty``, ``chosen_rollout_id``,
  ``rejected_rollout_id``, ``chosen_policy``, ``rejected_policy``, ``chosen_reward``,
  ``rejected_reward``.

How episodes become rows:

* Every conversation is converted message by message as above; the shopper's messages after
  the agent's last message are dropped (the agent never writes them), and ``--system-prompt``
  puts a system message first. Identical rows are written once.
* ``sft``: episodes with ``success`` true (unless ``--include-failures``) and ``reward >=
  --min-reward`` (default 0).
* ``dpo``: episodes are grouped by ``group_id`` (the task). In a group, ordered by reward (best
  first, ties in input order), each episode is paired with every episode whose reward is at
  least ``--margin`` lower, worst first; pairs are taken in that order, at most
  ``--max-pairs-per-group`` distinct ones per group. ``prompt`` is the two conversations'
  longest common prefix, cut back so that ``chosen`` and ``rejected`` (the rest of each) both
  start with an assistant message and are not empty. Only episodes with the same ``tools`` are
  paired.
* ``kto``: ``prompt`` is the opening (the system message, if any, and the shopper's first
  message), ``completion`` the rest, ``label`` the episode's ``success`` (or ``reward >=
  --threshold`` when given).

Completions of multi-turn episodes hold the shopper's and the tools' messages too: trainers
that compute the loss over the whole completion learn those tokens as well.

``validate(rows, kind)`` checks rows against these field lists and message shapes. Loading
the files with ``datasets`` keeps them exact from ``datasets`` 4.7 on (its ``Json`` type holds
the arguments and schemas, whose keys differ from row to row; older versions pad every dict
with the keys of all the others, set to null). Nothing here needs ``datasets`` or TRL.
"""

from __future__ import annotations

# The export in modules by concern: formats (kinds, fields, ExportError), conversations
# (rollouts as messages), rows (the three exports), validation, files, cli.
from episodes.export.cli import add_export_command
from episodes.export.cli import cmd_export as cmd_export
from episodes.export.conversations import chat_messages
from episodes.export.files import load_rollouts, read_rows, write_rows
from episodes.export.formats import FIELDS, KINDS, METADATA_FIELDS, ExportError
from episodes.export.formats import ArgumentsForm as ArgumentsForm
from episodes.export.formats import Kind as Kind
from episodes.export.rows import DEFAULT_MARGIN as DEFAULT_MARGIN
from episodes.export.rows import DEFAULT_MAX_PAIRS as DEFAULT_MAX_PAIRS
from episodes.export.rows import export_dpo, export_kto, export_sft
from episodes.export.validation import ROLES as ROLES
from episodes.export.validation import row_problems, validate

__all__ = [
    "FIELDS",
    "KINDS",
    "METADATA_FIELDS",
    "ExportError",
    "add_export_command",
    "chat_messages",
    "export_dpo",
    "export_kto",
    "export_sft",
    "load_rollouts",
    "read_rows",
    "row_problems",
    "validate",
    "write_rows",
]
