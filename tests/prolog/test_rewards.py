"""The registered Prolog GRPO rewards on hand-written completions; correctness runs the real
SWI-Prolog in the jail."""

import pytest

from oorl.reward.functions import resolve_reward
from oorl.reward.prolog_rewards import (prolog_correctness, prolog_reasoning_length, prolog_soft_format,
                                        prolog_strict_format, prolog_tags)

from . import completions as C


def correctness(comps, answers, **kw):
    return prolog_correctness([""] * len(comps), comps, answer=answers, **kw)


def test_correctness_values_on_every_kind_of_completion():
    comps = [C.CORRECT, C.WRONG, C.NON_TERMINATING, C.SYNTAX_ERROR, C.LEAKED, C.MISSING_TAGS,
             C.FRACTION, C.FRACTION_TERM, C.FLOAT, C.RUNTIME_ERROR, C.NO_SOLUTION, C.SLOPPY]
    answers = [8, 8, 8, 8, 8, 8, "3/4", "0.75", "2.5", 8, 8, "8"]
    assert correctness(comps, answers) == [2.0, -1.0, -1.0, -1.0, 2.0, -1.0, 2.0, 2.0, 2.0, -1.0, -1.0, 2.0]


def test_correctness_values_are_configurable():
    assert correctness([C.CORRECT, C.WRONG], [8, 8], correct=1.0, wrong=0.0) == [1.0, 0.0]


def test_numeric_comparison_and_tolerance():
    # 5/2 is 2.5 in Prolog: equal to "5/2", "2.5" and 2.5; not to 2 or 3
    assert correctness([C.FLOAT] * 5, ["5/2", "2.5", 2.5, 2, "2.50001"]) == [2.0, 2.0, 2.0, -1.0, -1.0]
    assert correctness([C.FLOAT], ["2.50001"], abs_tol=1e-3) == [2.0]
    # a rational 3r4 against a float answer, and against a wrong fraction
    assert correctness([C.FRACTION, C.FRACTION], [0.75, "2/3"]) == [2.0, -1.0]


def test_arithmetic_terms_only_with_accept_expressions():
    unevaluated = C.CORRECT.replace("X is 5 + 3.", "X = 5 + 3.")
    assert correctness([unevaluated], [8]) == [-1.0]
    assert correctness([unevaluated], [8], accept_expressions=True) == [2.0]


def test_first_binding_is_the_first_named_query_variable():
    two = C.CORRECT.replace("solve(X) :-\n    X is 5 + 3.", "pair(Y, X) :- Y is 5 + 3, X = 1.").replace(
        "<query>\nsolve(X).", "<query>\npair(A, B).")
    assert correctness([two], [8]) == [2.0]
    anon = two.replace("pair(A, B).", "pair(_Y, B).")
    assert correctness([anon], [1]) == [2.0]


def test_conversational_completions_are_accepted():
    msgs = [[{"role": "assistant", "content": C.CORRECT}]]
    assert correctness(msgs, [8]) == [2.0]
    assert prolog_strict_format([""], msgs) == [0.5]


def test_a_bad_answer_column_is_a_user_error():
    from oorl.errors import UserError

    with pytest.raises(UserError, match="answer"):
        correctness([C.CORRECT], ["eight"])


def test_tags():
    comps = [C.CORRECT, C.LEAKED, C.MISSING_TAGS, C.SLOPPY,
             C.CORRECT.replace("<query>\nsolve(X).\n</query>", ""),      # 4 tags
             C.CORRECT + "\n<query>\nsolve(Y).\n</query>",              # query tags twice
             C.CORRECT.replace("<reasoning>", ""),                       # 5 tags
             C.CORRECT.replace("\n</reasoning>", "").replace("</code>", "</code>\n</reasoning>"),  # 1 misplaced
             C.CORRECT.replace("<code>", "<query>").replace("</code>", "</query>", 1).replace(
                 "<query>\nsolve(X).", "<code>\nsolve(X).").replace("</query>\n", "</code>\n", 1)]
    # the last one swaps the code and query tags: at most 4 of the 6 can be in order
    assert prolog_tags([""] * len(comps), comps) == [0.75, 0.25, 0.0, 0.75, 0.5, 0.5, 0.625, 0.625, 0.5]
    assert prolog_tags([""], [C.LEAKED], per_tag=0.1, leak=-1.0) == [pytest.approx(-0.4)]


def test_strict_and_soft_format():
    comps = [C.CORRECT, C.CORRECT + "\n", C.CORRECT + "\n\nmore", " " + C.CORRECT, C.SLOPPY, C.MISSING_TAGS,
             C.CORRECT.replace("<code>", "<code>\n<query>\nsolve(X).\n</query>\n").replace("</code>\n<query>\nsolve(X).\n</query>", "</code>")]
    assert prolog_strict_format([""] * len(comps), comps) == [0.5, 0.5, 0.0, 0.0, 0.0, 0.0, 0.0]
    assert prolog_soft_format([""] * len(comps), comps) == [0.5, 0.5, 0.5, 0.5, 0.5, 0.0, 0.0]
    assert prolog_soft_format([""], [C.CORRECT], reward=1.0) == [1.0]


def test_reasoning_length_is_capped():
    def with_words(n):
        return C.CORRECT.replace("Tom has 5 apples and buys 3 more, so he has 5 + 3 = 8.", " ".join(["w"] * n))

    got = prolog_reasoning_length([""] * 4, [with_words(10), with_words(50), with_words(500), C.MISSING_TAGS])
    assert got == [pytest.approx(0.05), 0.25, 0.25, 0.0]
    assert prolog_reasoning_length([""], [with_words(10)], max_bonus=1.0, target_words=20) == [0.5]


def test_registered_by_name():
    for name, fn in (("prolog_correctness", prolog_correctness), ("prolog_tags", prolog_tags),
                     ("prolog_strict_format", prolog_strict_format), ("prolog_soft_format", prolog_soft_format),
                     ("prolog_reasoning_length", prolog_reasoning_length)):
        assert resolve_reward(name) is fn
