"""IR groups for GEPO/DPO: C/C++ problems with tests -> equivalent (winner) and inequivalent (loser)
LLVM IRs. ``build.py`` is the pipeline (``oorl data ir-groups``), ``normalize.py`` / ``mutate_source.py``
/ ``mutate_ir.py`` are pure, ``jail.py`` batches the clang work in the sandbox, ``dataset.py`` loads
and splits the groups for the trainer."""

from oorl.data.ir_groups.dataset import load_groups, split_groups  # noqa: F401
