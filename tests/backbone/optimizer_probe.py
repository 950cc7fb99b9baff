"""For tests that run a real LearnerWorker in a subprocess: what its optimizer steps with."""

import torch


def record_stepped_norms(worker) -> list[float]:
    """The list that gets, at each step of the worker's AdamW (DeepSpeed's ``basic_optimizer``), the
    norm of the gradient it steps with: after any clipping, by the learner or by DeepSpeed."""
    opt = worker.engine.basic_optimizer
    real_step, stepped = opt.step, []

    def step(*a, **k):
        grads = [p.grad for group in opt.param_groups for p in group["params"] if p.grad is not None]
        stepped.append(float(torch.nn.utils.get_total_norm(grads)))
        return real_step(*a, **k)

    opt.step = step
    return stepped
