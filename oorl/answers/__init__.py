"""Parsing what a model answers, shared by tasks (``oorl.data``) and rewards (``oorl.reward``):
numeric answers (:mod:`oorl.answers.numbers`) and the Prolog GRPO completion format
(:mod:`oorl.answers.prolog_format`). It imports nothing else of OORL but ``oorl.errors``, so both
sides import it downward."""
