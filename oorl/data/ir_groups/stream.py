"""The off-policy stream: the IR groups of ``algo.gepo.path`` as the learner ranks receive them.

Built once per run by the driver: the groups are loaded, split by source problem (train / held out,
seeded by the run's seed), tokenised once (the prompt through the model's chat template, each IR as
the response followed by the end-of-sequence token) and filtered by ``algo.gepo.max_tokens`` (an IR
whose prompt + IR is longer is dropped; a group left without a winner or a loser is dropped).

Step ``k`` takes ``groups_per_step`` training groups, a pure function of (seed, k) like the prompts
(``oorl.data.sampling.PromptSampler``), so a resumed run sees the same groups; ``max_winners`` /
``max_losers`` keep a seeded choice of each group's IRs. The step's groups are split over the ranks in
whole groups (contiguous shares), with ``passes``: the most chunk passes any rank has, so that every
rank runs as many forward/backward passes (see ``oorl.learner.offpolicy``).
"""

from __future__ import annotations

import random
from dataclasses import dataclass

from oorl.data.ir_groups.dataset import load_groups, split_groups
from oorl.data.sampling import PromptSampler, encode_prompt
from oorl.errors import UserError


@dataclass
class TokenGroup:
    id: str
    problem: str
    prompt: list[int]
    winners: list[list[int]]
    losers: list[list[int]]

    def tokens(self) -> int:
        return sum(len(self.prompt) + len(y) for y in self.winners + self.losers)


def tokenise_groups(groups: list[dict], tokenizer, max_tokens: int | None) -> tuple[list[TokenGroup], dict]:
    """Token ids of every group; IRs over ``max_tokens`` (prompt + IR) dropped. Returns the groups and
    counts of what the filter removed."""
    eos = tokenizer.eos_token_id
    out, dropped_irs, dropped_groups = [], 0, 0
    for g in groups:
        prompt = encode_prompt(tokenizer, g["prompt"], 10**9)
        sides = []
        for key in ("winners", "losers"):
            ids = [tokenizer(ir, add_special_tokens=False)["input_ids"] + [eos] for ir in g[key]]
            keep = [y for y in ids if max_tokens is None or len(prompt) + len(y) <= max_tokens]
            dropped_irs += len(ids) - len(keep)
            sides.append(keep)
        if sides[0] and sides[1]:
            out.append(TokenGroup(g["id"], g.get("problem", g["id"]), prompt, sides[0], sides[1]))
        else:
            dropped_groups += 1
    return out, {"irs_dropped_by_length": dropped_irs, "groups_dropped_by_length": dropped_groups}


def chunk_count(group: dict, chunk: int) -> int:
    """Forward passes a group takes at ``chunk`` responses a pass (a pass never mixes two groups)."""
    return -(-(len(group["winners"]) + len(group["losers"])) // chunk)


class GroupStream:
    def __init__(self, gc, tokenizer, seed: int) -> None:
        """``gc``: the ``algo.gepo`` config section (path, sizes, filters, held-out share)."""
        self.gc, self.seed = gc, seed
        groups = load_groups(gc.path)
        train, heldout = split_groups(groups, gc.heldout_fraction, seed)
        self.train, self.train_filter = tokenise_groups(train, tokenizer, gc.max_tokens)
        self.heldout, self.heldout_filter = tokenise_groups(heldout, tokenizer, gc.max_tokens)
        if not self.train:
            raise UserError(f"algo.gepo.path {gc.path}: no training group left ({len(groups)} groups, "
                            f"{len(heldout)} held out, {self.train_filter['groups_dropped_by_length']} dropped "
                            f"by algo.gepo.max_tokens={gc.max_tokens})")
        self.sampler = PromptSampler(len(self.train), gc.groups_per_step, seed)
        if gc.eval_groups:
            self.heldout = self.heldout[: gc.eval_groups]

    def summary(self) -> dict:
        return {"gepo/train_groups": len(self.train), "gepo/heldout_groups": len(self.heldout),
                **{f"gepo/{k}": v for k, v in self.train_filter.items()}}

    def _trim(self, g: TokenGroup, rng: random.Random) -> dict:
        def pick(ys, k):
            return ys if k is None or len(ys) <= k else [ys[i] for i in sorted(rng.sample(range(len(ys)), k))]

        return {"id": g.id, "prompt": g.prompt, "winners": pick(g.winners, self.gc.max_winners),
                "losers": pick(g.losers, self.gc.max_losers)}

    def step_shards(self, step: int, world_size: int) -> list[dict]:
        """Step ``step``'s groups, one batch per rank: ``{"groups", "global_groups", "passes"}``."""
        rng = random.Random(f"{self.seed}-gepo-{step}")
        groups = [self._trim(self.train[i], rng) for i in self.sampler.indices(step)]
        return shard_groups(groups, world_size, self.gc.micro_batch_size)

    def eval_shards(self, world_size: int) -> list[dict]:
        """Every held-out group (``max_winners``/``max_losers`` applied with a fixed seed: the same IRs
        at every eval), one batch per rank."""
        rng = random.Random(f"{self.seed}-gepo-eval")
        return shard_groups([self._trim(g, rng) for g in self.heldout], world_size, self.gc.micro_batch_size)


def shard_groups(groups: list[dict], world_size: int, chunk: int) -> list[dict]:
    """Whole groups per rank, contiguous and as even as possible; every rank gets ``passes``, the most
    chunk passes any rank needs, and ``global_groups``, the number of groups of all ranks. A rank left
    without a group (fewer groups than ranks: an eval) gets a copy of the first one marked ``padding``:
    it runs the passes the others run (ZeRO's collectives) and its results are dropped."""
    if not groups:
        raise ValueError("no IR group to shard")
    bounds = [round(r * len(groups) / world_size) for r in range(world_size + 1)]
    shares = [groups[bounds[r]:bounds[r + 1]] for r in range(world_size)]
    passes = max(sum(chunk_count(g, chunk) for g in share) for share in shares)
    return [{"groups": share or groups[:1], "global_groups": len(groups), "passes": passes, "padding": not share}
            for share in shares]
