"""The DeepSpeed config built from OORL's learner config (pure).

``model.dtype: bfloat16`` computes in bf16 with fp32 master weights and fp32 Adam state, in one of two
ways (``learner.bf16_mode``; ``auto``: autocast on CPU, master on GPUs):

* ``master``: DeepSpeed's bf16 mode. The module's parameters, activations and gradients are bf16; the
  optimizer updates an fp32 master copy and copies it back to the bf16 module after each update. Which
  wrapper does it depends on the ZeRO stage (checked on CPU with DeepSpeed 0.19): stage 0
  ``FP16_UnfusedOptimizer``, stages 1-2 ``DeepSpeedZeroOptimizer``, stage 3
  ``DeepSpeedZeroOptimizer_Stage3``. Gradients are accumulated over the micro-batches in bf16.
* ``autocast``: DeepSpeed's ``torch_autocast``. The module stays fp32 and is itself what AdamW updates;
  the engine's forward runs under ``torch.autocast(bfloat16)``, so matmuls (and their backward) run in
  bf16 while norms, softmax, the residual stream and the gradients stay fp32.

``LearnerWorker.precision`` reports what a run got.
"""

from __future__ import annotations


def bf16_mode(learner, dtype: str, use_gpu: bool) -> str | None:
    """How a bf16 learner computes: ``master`` (DeepSpeed's bf16 mode) or ``autocast``; None outside bf16.
    ``auto``: autocast on CPU, where the Prolog recipe in DeepSpeed's bf16 mode reached 6.5% held out
    against 24.5% in fp32, master on GPUs (their usual setting, half the memory for weights and grads)."""
    if dtype != "bfloat16":
        return None
    if learner.bf16_mode == "auto":
        return "master" if use_gpu else "autocast"
    return learner.bf16_mode


def learner_clips(learner, dtype: str, use_gpu: bool) -> bool:
    """True where the learner clips the gradients itself: ZeRO stage 0 with the plain optimizer (fp32
    or bf16 autocast), where DeepSpeed's clipping computes the gradient norm and drops it (its
    ``get_global_grad_norm()`` is None), so the run's ``grad_norm`` would read 0."""
    return learner.zero_stage == 0 and dtype != "float16" and bf16_mode(learner, dtype, use_gpu) != "master"


def deepspeed_config(learner, dtype: str, grad_accum_steps: int, use_gpu: bool) -> dict:
    """bf16 autocast: no bf16 section (the module is fp32) but DeepSpeed's ``torch_autocast``, which runs
    the engine's forward under ``torch.autocast(bfloat16)``. Where :func:`learner_clips`, DeepSpeed does
    not clip."""
    zero: dict = {"stage": learner.zero_stage}
    if learner.zero_stage == 3:
        zero.update({"stage3_gather_16bit_weights_on_model_save": True, "stage3_param_persistence_threshold": 0})
    offload = learner.offload_optimizer and learner.zero_stage > 0
    if offload:
        zero["offload_optimizer"] = {"device": "cpu", "pin_memory": use_gpu}
    cfg = {
        "train_micro_batch_size_per_gpu": learner.micro_batch_size,
        "gradient_accumulation_steps": grad_accum_steps,
        "gradient_clipping": 0.0 if learner_clips(learner, dtype, use_gpu) else learner.grad_clip,
        "zero_optimization": zero,
        "steps_per_print": 10**9,
        "wall_clock_breakdown": False,
    }
    if offload:  # the learner's optimizer is PyTorch's fused AdamW, which steps CPU tensors in one kernel;
        # DeepSpeed otherwise refuses any optimizer but its own (JIT-built) CPU Adam under offload
        cfg["zero_force_ds_cpu_optimizer"] = False
    mode = bf16_mode(learner, dtype, use_gpu)
    if mode == "autocast":
        cfg["torch_autocast"] = {"enabled": True, "dtype": "bfloat16"}
    elif mode == "master":
        cfg["bf16"] = {"enabled": True}
    elif dtype == "float16":
        cfg["fp16"] = {"enabled": True, "initial_scale_power": 16}
    return cfg
