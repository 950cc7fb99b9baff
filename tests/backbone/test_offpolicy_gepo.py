"""The learner's off-policy hook with GEPO, on a tiny model in-process (world size 1, no DeepSpeed)."""

import torch
from transformers import AutoModelForCausalLM

from oorl.config import load_config
from oorl.learner.batch import token_logprobs
from oorl.learner.offpolicy import offpolicy_loss
from oorl.models import resolve_model


class _Worker:
    """The attributes of LearnerWorker that off-policy losses use, over plain HF models."""

    def __init__(self, cfg, model, ref):
        self.cfg, self.engine, self.ref, self.world_size = cfg, model, ref, 1

    def _logprobs(self, model, mb):
        return token_logprobs(model(input_ids=mb["input_ids"], attention_mask=mb["attention_mask"]).logits,
                              mb["input_ids"])


def test_gepo_term_prefers_equivalent_group(model_cache):
    cfg = load_config(None, ["algo.gepo.enabled=true", "algo.gepo.beta=1.0", "algo.gepo.weight=1.0"])
    d = resolve_model("tiny", model_cache)
    model, ref = AutoModelForCausalLM.from_pretrained(d), AutoModelForCausalLM.from_pretrained(d)
    w = _Worker(cfg, model, ref)
    batch = {"prompts": [[1, 5, 6]], "winners": [[[7, 8], [7, 9, 10]]], "losers": [[[11, 12, 13]]]}
    loss, stats = offpolicy_loss("gepo", w, batch)
    # policy == reference: every r(y) is 0, so the loss is -log sigmoid(0) = log 2 and the variance 0
    assert abs(float(loss) - float(torch.log(torch.tensor(2.0)))) < 1e-5
    assert stats["gepo/var_w"] == 0.0
    opt = torch.optim.SGD(model.parameters(), lr=0.05)
    for _ in range(5):
        opt.zero_grad()
        loss, stats = offpolicy_loss("gepo", w, batch)
        loss.backward()
        opt.step()
    assert stats["gepo/reward_margin"] > 0  # winners' implicit reward rose above the loser's
