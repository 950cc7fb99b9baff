"""Imported inside vLLM's worker processes: registers OORL's weight-transfer engines there and adds
a small read-only helper used by tests."""

from __future__ import annotations

from oorl.weight_sync.backends import register_backends

register_backends()


class OorlWorkerExtension:
    def oorl_param_sum(self, name: str) -> float:
        for n, p in self.model_runner.model.named_parameters():
            if n == name:
                return float(p.detach().float().sum())
        raise KeyError(name)
