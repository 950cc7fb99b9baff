"""Run a Prolog query against a program in the jail and return its bindings.

``run_prolog(program, query)`` consults ``program`` in a fresh ``swipl`` inside the jail (never in
this process) under a time limit, an inference limit and a stack limit, runs ``query`` (``solve(X)``
or ``solve(X).``; a leading ``?-`` is fine) and returns a ``PrologResult``.

``PrologResult.status``:
  ok             the query succeeded; ``bindings`` holds the first ``max_solutions`` solutions
  no_solution    the query failed (no solution, no error)
  syntax_error   the program or the query has a syntax error. For a program, SWI-Prolog skips the
                 bad clause and the query still runs on the rest: ``bindings`` holds what it found.
  error          the query raised an exception (unknown procedure, type error...), or the program
                 stopped Prolog (``halt``) before the query finished; see ``errors``
  timeout        wall-clock/CPU time or the inference limit ran out (``inferences_exceeded`` tells
                 which); ``bindings`` holds the solutions found before
  memory         the stack limit or the memory cap was exceeded
  sandbox_error  the jail could not run swipl (not the program's fault)
Precedence when several apply: sandbox_error, timeout, memory, syntax_error, error, no_solution/ok.

A binding is variable name -> the term as SWI-Prolog's toplevel prints it (``quoted``):
``{"X": "42"}``, ``{"X": "3/4"}``, ``{"X": "2.5"}``, ``{"X": "\"abc\""}``, unbound ``"_"``.
Variables whose names start with ``_`` are not reported. ``warnings``/``errors`` are SWI-Prolog's
messages (singleton variables, discontiguous clauses, syntax errors...) as text.
"""

from __future__ import annotations

import json
import secrets
import threading
import time
from dataclasses import dataclass, field

from oorl.reward.executor import Executor
from oorl.reward.jail import Jail
from oorl.reward.languages.prolog_lang import Prolog, fill, pl_atom, stack_mb, swipl_flags
from oorl.reward.languages.base import Ctx, get_language
from oorl.reward.sandbox import Program, SandboxLimits

STATUSES = ("ok", "no_solution", "syntax_error", "error", "timeout", "memory", "sandbox_error")


@dataclass
class PrologResult:
    status: str
    bindings: list[dict[str, str]] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    wall_s: float = 0.0
    inferences_exceeded: bool = False
    output: str = ""  # what the program printed on stdout
    stderr: str = ""

    @property
    def first(self) -> dict[str, str] | None:
        return self.bindings[0] if self.bindings else None


_DRIVER = r"""
:- module(oorl_query, []).
:- use_module(library(http/json)).
:- dynamic side/1, nonce/1, syntax_seen/0.
:- multifile user:message_hook/3.

emit(Dict) :-
    side(S), nonce(N),
    catch((json_write_dict(S, Dict.put(nonce, N), [width(0)]), nl(S), flush_output(S)), _, true).

text_of(Kind, Lines, Text) :-
    catch(with_output_to(string(Text), print_message_lines(current_output, kind(Kind), Lines)), _, Text = "?").

user:message_hook(Term, Kind, Lines) :-
    side(_),
    memberchk(Kind, [error, warning]),
    text_of(Kind, Lines, Text0),
    split_string(Text0, "", "\n ", [Text]),
    (   Term = error(syntax_error(_), _) -> Type = syntax, ( syntax_seen -> true ; assertz(syntax_seen) )
    ;   Type = Kind
    ),
    emit(_{type: Type, text: Text}),
    fail.

binding_text(Name=Value, Name-Text) :-
    with_output_to(string(Text),
                   write_term(Value, [quoted(true), numbervars(true), max_depth(0), portray(false)])).

emit_solution(VNs) :-
    include([N=_]>>(\+ sub_atom(N, 0, _, _, '_')), VNs, Named),
    copy_term(Named, Copy),
    numbervars(Copy, 0, _, [singletons(true)]),
    maplist(binding_text, Copy, Pairs),
    dict_pairs(B, _, Pairs),
    emit(_{type: solution, bindings: B}).

solve(Query, VNs, Max) :-
    (   limit(Max, user:Query), emit_solution(VNs), fail
    ;   true
    ).

status_of(error(resource_error(_), _), memory, false) :- !.
status_of(resource_error(_), memory, false) :- !.
status_of(_, error, false).

oorl_main :-
    current_prolog_flag(argv, [SideFd|_]),
    atom_concat('/proc/self/fd/', SideFd, SidePath),
    open(SidePath, append, Side, [encoding(utf8)]),
    assertz(side(Side)),
    read_line_to_string(user_input, Nonce), assertz(nonce(Nonce)),
    set_prolog_flag(stack_limit, @@STACK_LIMIT@@),
    catch(consult(user:@@PROGRAM@@), LoadE, true),
    (   nonvar(LoadE)
    ->  status_of(LoadE, St0, _), message_to_codes(LoadE, Msg),
        emit(_{type: status, status: St0, error: Msg, inferences_exceeded: false})
    ;   catch(term_string(Query, @@QUERY_TEXT@@, [variable_names(VNs), module(user)]), QE, true),
        (   nonvar(QE)
        ->  message_to_codes(QE, QMsg),
            emit(_{type: status, status: query_syntax_error, error: QMsg, inferences_exceeded: false})
        ;   catch(call_with_inference_limit(solve(Query, VNs, @@MAX_SOLUTIONS@@), @@INFERENCE_LIMIT@@, R), E, true),
            (   nonvar(E)
            ->  status_of(E, St, _), message_to_codes(E, EMsg),
                emit(_{type: status, status: St, error: EMsg, inferences_exceeded: false})
            ;   R == inference_limit_exceeded
            ->  emit(_{type: status, status: timeout, error: "inference limit exceeded", inferences_exceeded: true})
            ;   emit(_{type: status, status: done, error: "", inferences_exceeded: false})
            )
        )
    ),
    halt(0).

message_to_codes(E, Text) :-
    catch(message_to_codes_(E, Text), _, format(string(Text), "~q", [E])).
message_to_codes_(E, Text) :-
    '$messages':translate_message(E, Lines, []),
    with_output_to(string(T0), print_message_lines(current_output, '', Lines)),
    split_string(T0, "", "\n ", [Text]).

:- initialization(oorl_main, main).
"""


_executors: dict[str, Executor] = {}
_executors_lock = threading.Lock()


def _executor(limits: SandboxLimits | None) -> Executor:
    from oorl.reward.judge import get_judge

    if limits is None:
        return get_judge().executor
    key = limits.model_dump_json()
    with _executors_lock:
        if key not in _executors:
            if len(_executors) >= 4:
                _executors.pop(next(iter(_executors)))
            _executors[key] = Executor(limits)
        return _executors[key]


def _normalise_query(query: str) -> str:
    q = query.strip()
    if q.startswith("?-"):
        q = q[2:].strip()
    while q.endswith("."):
        q = q[:-1].rstrip()
    return q


def run_prolog(program: str, query: str, *, max_solutions: int = 1, limits: SandboxLimits | None = None,
               executor=None) -> PrologResult:
    """Consult ``program`` and run ``query`` in a jailed swipl; see the module docstring. Runs on
    ``executor``, else on one for ``limits``, else on the process-wide judge's."""
    ex = executor or _executor(limits)
    lim = ex.limits
    lang: Prolog = get_language("prolog")  # type: ignore[assignment]
    jail: Jail = ex.jail
    t0 = time.monotonic()
    with jail.workspace([], prefix="oorl-prolog-") as (job, view):
        ctx = Ctx(view, lim, Program("prolog", {}), lim.memory_mb)
        driver = fill(_DRIVER, STACK_LIMIT=str(stack_mb(ctx) << 20), PROGRAM=pl_atom(ctx.job("program.pl")),
                      QUERY_TEXT=pl_atom(_normalise_query(query)), MAX_SOLUTIONS=str(max(1, int(max_solutions))),
                      INFERENCE_LIMIT=str(lim.prolog_inference_limit))
        (job / "program.pl").write_text(program)
        (job / "oorl_query.pl").write_text(driver)
        jail.hand_over(job)
        nonce = secrets.token_hex(12)
        argv = [view.path(lang.tool("swipl")), *swipl_flags(ctx), ctx.job("oorl_query.pl"), "--", "{side_fd}"]
        step = jail.run(argv, view=view, job_dir=job, writable_job=False, wall_s=lim.wall_s, cpu_s=lim.cpu_s,
                        memory_mb=lim.memory_mb, stdin=(nonce + "\n").encode(), side_channel=True,
                        address_space_ok=True)
    return _result(step, nonce, time.monotonic() - t0)


def _result(step, nonce: str, wall: float) -> PrologResult:
    res = PrologResult(status="error", wall_s=wall, output=step.stdout, stderr=step.stderr)
    final = None
    syntax = False
    for line in step.side_output.decode("utf-8", "replace").splitlines():
        try:
            msg = json.loads(line)
        except ValueError:
            continue
        if not isinstance(msg, dict) or msg.get("nonce") != nonce:
            continue  # written by the program, not the driver
        kind = msg.get("type")
        if kind == "solution":
            res.bindings.append({str(k): str(v) for k, v in msg.get("bindings", {}).items()})
        elif kind == "syntax":
            syntax = True
            res.errors.append(str(msg.get("text", "")))
        elif kind == "error":
            res.errors.append(str(msg.get("text", "")))
        elif kind == "warning":
            res.warnings.append(str(msg.get("text", "")))
        elif kind == "status":
            final = msg
    if step.sandbox_error:
        res.status = "sandbox_error"
        res.errors.append(step.sandbox_error)
        return res
    if final is not None:
        st = final.get("status")
        res.inferences_exceeded = bool(final.get("inferences_exceeded"))
        if final.get("error"):
            res.errors.append(f"query: {final['error']}" if st == "query_syntax_error" else str(final["error"]))
        if st == "query_syntax_error":
            res.status = "syntax_error"
        elif st in ("timeout", "memory"):
            res.status = st
        elif syntax:
            res.status = "syntax_error"
        elif st == "error":
            res.status = "error"
        else:
            res.status = "ok" if res.bindings else "no_solution"
        return res
    # the driver never reported: killed, or the program halted Prolog
    if step.oom or "Stack limit" in step.stderr or "stack_overflow" in step.stderr:
        res.status = "memory"
    elif step.timed_out or step.cpu_limited:
        res.status = "timeout"
    else:
        res.status = "error"
        res.errors.append("swipl stopped before the query finished (halt/0 in the program, or a crash)"
                          + (f": {step.stderr.strip().splitlines()[-1]}" if step.stderr.strip() else ""))
    return res
