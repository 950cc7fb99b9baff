"""Prompt styles, worked examples and the chat messages they build."""

import pytest

from oorl.answers.prolog_format import parse_completion, strict_format_ok
from oorl.data.prompts import EXAMPLES, INSTRUCTIONS, build_messages, format_answer, system_prompt
from oorl.errors import UserError


def test_zero_one_few_shot_system_prompts_hold_0_1_3_examples():
    counts = {style: system_prompt(style, shots_as="system").count("<reasoning>\n")
              for style in ("zero_shot", "one_shot", "few_shot")}
    # the instructions show the format once; each worked example adds one more
    assert counts == {"zero_shot": 1, "one_shot": 2, "few_shot": 4}
    assert system_prompt("zero_shot") == INSTRUCTIONS == system_prompt("few_shot", shots_as="turns")
    assert EXAMPLES[0].question in system_prompt("one_shot", shots_as="system")
    assert EXAMPLES[1].question not in system_prompt("one_shot", shots_as="system")
    assert all(ex.question in system_prompt("few_shot", shots_as="system") for ex in EXAMPLES)


def test_messages_are_system_then_user():
    msgs = build_messages("  What is 1 + 1?\n", prompt_style="one_shot", shots_as="system")
    assert [m["role"] for m in msgs] == ["system", "user"]
    assert msgs[1]["content"] == "What is 1 + 1?"
    assert "<query>" in msgs[0]["content"]
    default = build_messages("Q?")  # one-shot, example as a turn
    assert [m["role"] for m in default] == ["system", "user", "assistant", "user"]


def test_shots_as_turns_puts_examples_before_the_question():
    msgs = build_messages("Q?", prompt_style="few_shot", shots_as="turns")
    assert [m["role"] for m in msgs] == ["system", "user", "assistant", "user", "assistant", "user", "assistant", "user"]
    assert msgs[0]["content"] == INSTRUCTIONS
    assert msgs[2]["content"] == EXAMPLES[0].completion
    assert msgs[-1]["content"] == "Q?"


def test_custom_system_prompt_replaces_everything():
    msgs = build_messages("Q?", prompt_style="few_shot", shots_as="turns", system="Be brief.")
    assert msgs == [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Q?"}]


def test_examples_are_in_the_strict_format_and_parse():
    for ex in EXAMPLES:
        assert strict_format_ok(ex.completion)
        p = parse_completion(ex.completion)
        assert p.query == "solve(X)" and "solve(" in p.code
    assert format_answer(" r ", "c.", "q.") == "<reasoning>\nr\n</reasoning>\n<code>\nc.\n</code>\n<query>\nq.\n</query>"


def test_unknown_style_is_a_user_error():
    with pytest.raises(UserError, match="prompt_style"):
        build_messages("Q", prompt_style="two_shot")
    with pytest.raises(UserError, match="shots_as"):
        system_prompt("one_shot", shots_as="user")
