"""The one registry helper: names, aliases, duplicates, lazy built-ins, one-line errors."""

import sys
import types

import pytest

from oorl.errors import UserError
from oorl.registry import Registry


def test_register_get_and_aliases():
    reg = Registry("widget")

    @reg.register("alpha", aliases=("a", "First"))
    def alpha():
        return 1

    assert reg.get("alpha") is alpha and reg["A"] is alpha and reg.get(" first ") is alpha
    assert "a" in reg and "b" not in reg and 3 not in reg
    assert reg.names() == ["alpha"] and reg.values() == [alpha] and len(reg) == 1
    reg.add("alpha", alpha)  # the same object again (a module imported twice): fine
    with pytest.raises(ValueError, match="already registered"):
        reg.add("alpha", lambda: 2)
    with pytest.raises(ValueError, match="alias 'a' already names 'alpha'"):
        reg.add("beta", lambda: 3, aliases=("a",))
    reg.remove("alpha")
    assert "a" not in reg


def test_unknown_names_are_one_line_user_errors():
    reg = Registry("gadget", hint="or give module:function")
    reg.add("x", 1)
    with pytest.raises(UserError) as e:
        reg.get("y")
    assert str(e.value) == "unknown gadget 'y' (known: x; or give module:function)"


def test_builtins_are_imported_on_first_lookup(tmp_path, monkeypatch):
    reg = Registry("thing", builtins=("oorl_test_builtin_things",))
    holder = types.ModuleType("oorl_test_registry_holder")
    holder.reg = reg
    monkeypatch.setitem(sys.modules, "oorl_test_registry_holder", holder)
    (tmp_path / "oorl_test_builtin_things.py").write_text(
        "from oorl_test_registry_holder import reg\nreg.add('made', 42)\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.delitem(sys.modules, "oorl_test_builtin_things", raising=False)
    assert "oorl_test_builtin_things" not in sys.modules
    assert reg.get("made") == 42 and "oorl_test_builtin_things" in sys.modules


def test_the_project_registries_share_the_rules():
    from oorl.algo.advantages import ADV_ESTIMATORS
    from oorl.algo.kl import KL_ESTIMATORS
    from oorl.data.registry import DATASETS, FORMATS
    from oorl.eval.scorers import SCORERS
    from oorl.learner.offpolicy import OFFPOLICY_LOSSES
    from oorl.reward.functions import REWARD_FUNCTIONS
    from oorl.reward.languages import LANGUAGES
    from oorl.weight_sync import BACKENDS

    for reg, name in ((ADV_ESTIMATORS, "grpo"), (KL_ESTIMATORS, "k3"), (DATASETS, "prolog_math"), (FORMATS, "jsonl"),
                      (SCORERS, "prolog"), (OFFPOLICY_LOSSES, "gepo"), (REWARD_FUNCTIONS, "unit_tests"),
                      (LANGUAGES, "js"), (BACKENDS, "cpu")):
        assert isinstance(reg, Registry) and name in reg, (reg.kind, name)
        with pytest.raises(UserError, match=f"unknown {reg.kind} 'no-such-thing'"):
            reg.get("no-such-thing")
