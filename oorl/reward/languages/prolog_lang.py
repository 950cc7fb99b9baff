"""Prolog (SWI-Prolog) as a language of the registry: a program plus tests, judged like the others.

Tests are either plunit units (``:- begin_tests(x). test(a) :- ... :- end_tests(x).``, run with
``run_tests``) or a sequence of goals (``add(1, 2, 3). \\+ add(1, 1, 3).``), each of which must
succeed. A syntax error in the program is a compile error. Queries with bindings are in
``oorl/reward/prolog.py``.
"""

from __future__ import annotations

import re

from oorl.reward.languages.base import Ctx, Language, register_language, rx
from oorl.reward.sandbox import Program, StepResult, Verdict

SYNTAX_MARK = "OORL-PROLOG-SYNTAX-ERROR"


def stack_mb(ctx: Ctx) -> int:
    """SWI-Prolog's stack limit: prolog_stack_mb, but at most half the memory cap, so that a runaway
    recursion meets the stack limit (a clean resource error) before the cgroup's OOM killer."""
    return max(16, min(ctx.limits.prolog_stack_mb, ctx.memory_mb // 2))


def swipl_flags(ctx: Ctx) -> list[str]:
    return ["--no-packs", "-f", "none", "-F", "none", "--no-tty", "-q", "--on-error=print",
            "--on-warning=print", f"--stack-limit={stack_mb(ctx)}m"]


def fill(template: str, **values: str) -> str:
    """Replace every ``@@NAME@@`` in one pass (values are never re-scanned)."""
    return re.sub(r"@@(\w+)@@", lambda m: values[m.group(1)] if m.group(1) in values else m.group(0), template)


def pl_atom(text: str) -> str:
    """A Prolog quoted atom for any text."""
    return "'" + text.replace("\\", "\\\\").replace("'", "\\'").replace("\n", "\\n") + "'"


_TEST_DRIVER = r"""
:- module(oorl_test_driver, []).
:- use_module(library(plunit)).
:- dynamic syntax_error_seen/0.
:- multifile user:message_hook/3.
user:message_hook(error(syntax_error(_), _), error, _) :-
    ( syntax_error_seen -> true ; assertz(syntax_error_seen) ), fail.

oorl_main :-
    consult(user:@@PROGRAM@@),
    (   syntax_error_seen
    ->  format(user_error, "~w~n", [@@SYNTAX_MARK@@]), halt(3)
    ;   true
    ),
    (   @@TESTS_ARE_PLUNIT@@
    ->  consult(user:@@TESTS@@),
        ( user:run_tests -> true ; format(user_error, "Tests failed~n", []), halt(1) )
    ;   setup_call_cleanup(open(@@TESTS@@, read, In), run_goals(In), close(In))
    ),
    format("~n~w~n", [@@SENTINEL@@]),
    halt(0).

run_goals(In) :-
    read_term(In, Goal, [module(user)]),
    (   Goal == end_of_file
    ->  true
    ;   (   catch(user:Goal, E, (print_message(error, E), format(user_error, "Test raised an exception: ~q~n", [Goal]), halt(2)))
        ->  true
        ;   format(user_error, "Test failed: ~q~n", [Goal]), halt(1)
        ),
        run_goals(In)
    ).

:- initialization(oorl_main, main).
"""


@register_language
class Prolog(Language):
    name, aliases, source = "prolog", ("pl", "swipl", "swi-prolog"), "program.pl"
    tools = ("swipl",)
    address_space_ok = True
    memory_markers = rx(r"Stack limit \(.*\) exceeded.*", r"resource_error\((memory|stack_overflow)\).*",
                        r"Out of (global|local|trail) stack.*", r"Could not allocate memory.*")
    assert_markers = rx(r"^Test failed:.*", r"test \w+: (failed|assertion).*", r"Tests failed.*")
    crash_markers = rx(r"^Test raised an exception:.*", r"^(ERROR|Warning): .*goal \(initialization\) raised.*",
                       r"^ERROR: .*")

    def assemble(self, program: str, tests: str, sentinel: str) -> Program:
        plunit = "begin_tests(" in tests
        driver = fill(_TEST_DRIVER, SYNTAX_MARK=pl_atom(SYNTAX_MARK), SENTINEL=pl_atom(sentinel),
                      TESTS_ARE_PLUNIT="true" if plunit else "fail")
        files = {self.source: program + "\n", "tests.pl": tests + "\n", "oorl_driver.pl": driver}
        return Program(self.name, files, meta={"sentinel": sentinel})

    def sentinel_code(self, sentinel: str) -> str:
        return f"format('~n~w~n', [{pl_atom(sentinel)}])"

    def extra_files(self, ctx: Ctx) -> dict[str, str]:
        files = ctx.program.files
        if "oorl_driver.pl" in files:
            return {"oorl_driver.pl": fill(files["oorl_driver.pl"], PROGRAM=pl_atom(ctx.job(self.source)),
                                           TESTS=pl_atom(ctx.job("tests.pl")))}
        return {}

    def run_argv(self, ctx: Ctx) -> list[str]:
        main = "oorl_driver.pl" if "oorl_driver.pl" in ctx.program.files else self.source
        return [ctx.view.path(self.tool("swipl")), *swipl_flags(ctx), ctx.job(main)]

    def classify_run(self, step: StepResult, sentinel: str | None) -> tuple[Verdict, str]:
        if step.exit_code == 3 and SYNTAX_MARK in step.stderr:
            first = next((ln for ln in step.stderr.splitlines() if "Syntax error" in ln), "syntax error")
            return Verdict.COMPILE_ERROR, first.strip()[:300]
        return super().classify_run(step, sentinel)

