"""The learner's off-policy hook with DPO, on a tiny model in-process (world size 1, no DeepSpeed):
the same group batch as GEPO, so an ablation changes only the loss's name."""

import torch
from transformers import AutoModelForCausalLM

from oorl.config import load_config
from oorl.learner.batch import token_logprobs
from oorl.learner.offpolicy import OFFPOLICY_LOSSES, group_logps, offpolicy_loss
from oorl.models import resolve_model


class _Worker:
    """The attributes of LearnerWorker that off-policy losses use, over plain HF models."""

    def __init__(self, cfg, model, ref):
        self.cfg, self.engine, self.ref, self.world_size = cfg, model, ref, 1

    def _logprobs(self, model, mb):
        return token_logprobs(model(input_ids=mb["input_ids"], attention_mask=mb["attention_mask"]).logits,
                              mb["input_ids"])


BATCH = {"prompts": [[1, 5, 6], [2, 3]], "winners": [[[7, 8], [7, 9, 10]], [[4, 4]]],
         "losers": [[[11, 12, 13]], [[5], [6, 7]]]}


def test_dpo_is_registered_next_to_gepo():
    assert {"gepo", "dpo"} <= set(OFFPOLICY_LOSSES.names())


def test_dpo_term_prefers_winners(model_cache):
    cfg = load_config(None, ["algo.gepo.enabled=true", "algo.gepo.beta=1.0", "algo.gepo.weight=1.0"])
    d = resolve_model("tiny", model_cache)
    model, ref = AutoModelForCausalLM.from_pretrained(d), AutoModelForCausalLM.from_pretrained(d)
    w = _Worker(cfg, model, ref)
    pw, rw, mw, pl, rl, ml = group_logps(w, BATCH)
    assert mw.tolist() == [[True, True], [True, False]] and ml.tolist() == [[True, False], [True, True]]
    assert torch.allclose(pw[mw], rw[mw], atol=1e-5)  # policy == reference before training
    loss, stats = offpolicy_loss("dpo", w, BATCH)
    # every r(y) is 0: each pair's loss is -log sigmoid(0) = log 2
    assert abs(float(loss) - float(torch.log(torch.tensor(2.0)))) < 1e-5
    assert set(stats) >= {"dpo/loss", "dpo/reward_margin", "dpo/accuracy"}
    assert stats["dpo/pairs"] == 2.0  # (2 x 1 + 1 x 2) / 2 groups
    opt = torch.optim.SGD(model.parameters(), lr=0.05)
    for _ in range(5):
        opt.zero_grad()
        loss, stats = offpolicy_loss("dpo", w, BATCH)
        loss.backward()
        opt.step()
    assert stats["dpo/reward_margin"] > 0  # the winners' implicit rewards rose above the losers'
    assert stats["dpo/loss"] < float(torch.log(torch.tensor(2.0)))


def test_gepo_still_uses_the_shared_forward(model_cache):
    cfg = load_config(None, ["algo.gepo.enabled=true", "algo.gepo.beta=1.0", "algo.gepo.weight=1.0"])
    d = resolve_model("tiny", model_cache)
    w = _Worker(cfg, AutoModelForCausalLM.from_pretrained(d), AutoModelForCausalLM.from_pretrained(d))
    loss, stats = offpolicy_loss("gepo", w, BATCH)
    assert abs(float(loss) - float(torch.log(torch.tensor(2.0)))) < 1e-5 and stats["gepo/var_w"] == 0.0
