"""One GRPOTrainer step on the CPU with a tiny randomly initialised model and a tokenizer
trained on the environment's own text (no download), for the tests of the TRL doors: the
shop's ``ShopToolEnv`` and tau2's ``Tau2ToolEnv``. Needs TRL (`pip install torch==2.13.0
trl`); callers skip without it."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

__all__ = ["one_grpo_step"]

_SPECIAL = ["<|endoftext|>", "<|im_start|>", "<|im_end|>", "<tool_call>", "</tool_call>",
            "<tool_response>", "</tool_response>", "<think>", "</think>"]


def one_grpo_step(factory: Callable[[], Any], rows: list[dict[str, Any]],
                  corpus: Iterable[str], out: Path) -> Any:
    """Train one step on ``rows`` with ``environment_factory=factory``; the tokenizer learns
    ``corpus`` (the prompts, tool schemas and opening messages). Returns the trainer."""
    from datasets import Dataset
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast, Qwen3Config, Qwen3ForCausalLM
    from trl import GRPOConfig, GRPOTrainer
    from trl.chat_template_utils import add_response_schema, qwen3_chat_template

    os.environ.setdefault("TRL_EXPERIMENTAL_SILENCE", "1")
    bpe = Tokenizer(models.BPE())
    bpe.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    bpe.decoder = decoders.ByteLevel()
    bpe.train_from_iterator(list(corpus), trainers.BpeTrainer(
        vocab_size=2000, special_tokens=_SPECIAL,
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet()))
    tokenizer = PreTrainedTokenizerFast(tokenizer_object=bpe, eos_token="<|im_end|>",
                                        pad_token="<|endoftext|>",
                                        additional_special_tokens=_SPECIAL[1:])
    tokenizer.chat_template = qwen3_chat_template
    tokenizer = add_response_schema(tokenizer)
    model = Qwen3ForCausalLM(Qwen3Config(
        vocab_size=len(tokenizer), hidden_size=32, intermediate_size=64, num_hidden_layers=1,
        num_attention_heads=2, num_key_value_heads=1, head_dim=16,
        max_position_embeddings=32768, eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id))
    args = GRPOConfig(output_dir=str(out), per_device_train_batch_size=2,
                      num_generations=2, max_completion_length=16, max_steps=1, use_cpu=True,
                      report_to="none", save_strategy="no", max_tool_calling_iterations=2)
    trainer = GRPOTrainer(model=model, processing_class=tokenizer, args=args,
                          train_dataset=Dataset.from_list(rows), environment_factory=factory)
    trainer.train()
    return trainer
