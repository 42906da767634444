"""episodes: shopping tasks and their families, the shopper simulator, the episode controller,
baseline agents, task files and the ``shop-episodes`` CLI.

    from episodes import EpisodeController, generate_task, make_agent
"""

from episodes.agents import make_agent
from episodes.controller import (
    Action,
    Agent,
    EpisodeController,
    Observation,
    Policy,
    StepResult,
    ToolRequest,
    ToolResult,
)
from episodes.curriculum import Curriculum
from episodes.difficulty import difficulty_params
from episodes.generate import families, generate_task
from episodes.metrics import pass_at_k, pass_hat_k, trial_summary
from episodes.tasks import dump_tasks, load_tasks, task_mix

__all__ = [
    "Action",
    "Agent",
    "Curriculum",
    "EpisodeController",
    "Observation",
    "Policy",
    "StepResult",
    "ToolRequest",
    "ToolResult",
    "difficulty_params",
    "dump_tasks",
    "families",
    "generate_task",
    "load_tasks",
    "make_agent",
    "pass_at_k",
    "pass_hat_k",
    "task_mix",
    "trial_summary",
]
