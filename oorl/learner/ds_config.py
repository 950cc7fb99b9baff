"""The DeepSpeed config built from OORL's learner config (pure)."""

from __future__ import annotations


def deepspeed_config(learner, dtype: str, grad_accum_steps: int, use_gpu: bool) -> dict:
    zero: dict = {"stage": learner.zero_stage}
    if learner.zero_stage == 3:
        zero.update({"stage3_gather_16bit_weights_on_model_save": True, "stage3_param_persistence_threshold": 0})
    if learner.offload_optimizer and learner.zero_stage > 0:
        zero["offload_optimizer"] = {"device": "cpu", "pin_memory": use_gpu}
    cfg = {
        "train_micro_batch_size_per_gpu": learner.micro_batch_size,
        "gradient_accumulation_steps": grad_accum_steps,
        "gradient_clipping": learner.grad_clip,
        "zero_optimization": zero,
        "steps_per_print": 10**9,
        "wall_clock_breakdown": False,
    }
    if dtype == "bfloat16":
        cfg["bf16"] = {"enabled": True}
    elif dtype == "float16":
        cfg["fp16"] = {"enabled": True, "initial_scale_power": 16}
    return cfg
