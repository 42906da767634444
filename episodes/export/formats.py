"""The row formats of ``shop-episodes export``: the kinds, their fields and metadata
columns, and the one error of the export package."""

from __future__ import annotations

from typing import Literal

__all__ = [
    "FIELDS",
    "KINDS",
    "METADATA_FIELDS",
    "ArgumentsForm",
    "ExportError",
    "Kind",
]

Kind = Literal["sft", "dpo", "kto"]
ArgumentsForm = Literal["dict", "json"]

KINDS: tuple[Kind, ...] = ("sft", "dpo", "kto")
FIELDS: dict[str, tuple[str, ...]] = {
    "sft": ("messages", "tools"),
    "dpo": ("prompt", "chosen", "rejected", "tools"),
    "kto": ("prompt", "completion", "label", "tools"),
}
_EPISODE_METADATA = ("rollout_id", "task_id", "family", "difficulty", "policy", "trial",
                     "reward", "success")
METADATA_FIELDS: dict[str, tuple[str, ...]] = {
    "sft": _EPISODE_METADATA,
    "dpo": ("task_id", "family", "difficulty", "chosen_rollout_id", "rejected_rollout_id",
            "chosen_policy", "rejected_policy", "chosen_reward", "rejected_reward"),
    "kto": _EPISODE_METADATA,
}


class ExportError(ValueError):
    """Bad input for an export (missing or malformed files or records, bad options, no rows)
    or rows that do not have the documented shape."""
