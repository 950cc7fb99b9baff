"""The DeepSpeed config built from OORL's learner config (pure).

``model.dtype: bfloat16`` turns on DeepSpeed's bf16 mode, on CPU as on GPUs: the module's parameters,
activations and gradients are bf16; the optimizer updates an fp32 master copy of the weights with fp32
Adam state and copies it back to the bf16 module after each update. Which wrapper does it depends on
the ZeRO stage (checked on CPU with DeepSpeed 0.19): stage 0 ``FP16_UnfusedOptimizer`` (fp32 copies
of every parameter), stages 1-2 ``DeepSpeedZeroOptimizer`` and stage 3 ``DeepSpeedZeroOptimizer_Stage3``
(flat fp32 partitions). Gradients are accumulated over the micro-batches of an update in bf16 (DeepSpeed's
default ``grad_accum_dtype`` is the model's dtype). ``LearnerWorker.precision`` reports what a run got.
"""

from __future__ import annotations


def deepspeed_config(learner, dtype: str, grad_accum_steps: int, use_gpu: bool) -> dict:
    """``learner.bf16_mode: autocast`` with bfloat16: no bf16 section (the module is fp32) but DeepSpeed's
    ``torch_autocast``, which runs the engine's forward under ``torch.autocast(bfloat16)``."""
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
    if dtype == "bfloat16" and learner.bf16_mode == "autocast":
        cfg["torch_autocast"] = {"enabled": True, "dtype": "bfloat16"}
    elif dtype == "bfloat16":
        cfg["bf16"] = {"enabled": True}
    elif dtype == "float16":
        cfg["fp16"] = {"enabled": True, "initial_scale_power": 16}
    return cfg
