"""The IR-group builder: normalisation and mutations on hand-written IR/C++ (pure), the loader, and
one jailed end-to-end run on three HumanEval-X C++ problems re-checked by a plain
``clang++ ir.ll test_program.cpp && ./a.out`` outside the builder's code."""

from __future__ import annotations

import gzip
import json
import shutil
import subprocess
from pathlib import Path

import pytest

from oorl.data.ir_groups.build import BuildConfig, build_groups, problem_from_row, read_problems
from oorl.data.ir_groups.dataset import load_groups, split_groups
from oorl.data.ir_groups.mutate_ir import apply_ir_mutation, ir_mutations
from oorl.data.ir_groups.mutate_source import apply_mutation, function_prototypes, source_mutations
from oorl.data.ir_groups.normalize import IRError, normalize_ir
from oorl.errors import UserError

HUMANEVAL_CPP = Path(__file__).resolve().parents[2].parent / "shared" / "data" / "humaneval-x" / "humaneval_cpp.jsonl.gz"
needs_llvm = pytest.mark.skipif(not (shutil.which("llvm-as") and shutil.which("clang++")), reason="LLVM 14 not installed")

RAW = r'''; ModuleID = 'x.cpp'
source_filename = "x.cpp"
target datalayout = "e-m:e-p270:32:32-p271:32:32-p272:64:64-i64:64-f80:128-n8:16:32:64-S128"
target triple = "x86_64-pc-linux-gnu"

$_Z4tmplIiET_S0_ = comdat any

@g = dso_local global i32 0, align 4
@.str = private unnamed_addr constant [6 x i8] c"a;b#1\00", align 1
@.str.1 = private unnamed_addr constant [3 x i8] c"%d\00", align 1

; Function Attrs: noinline nounwind uwtable
define dso_local noundef i32 @_Z5clampi(i32 noundef %x) #0 {
entry:
  %cmp = icmp slt i32 %x, 10   ; is it small?
  br i1 %cmp, label %small, label %big, !prof !2

small:                                            ; preds = %entry
  %t = trunc i32 %x to i8
  %z = zext i8 %t to i32
  %r = add nsw i32 %z, 1
  store i32 %r, i32* @g, align 4, !tbaa !3
  call void @_Z4sinkv() #1
  br label %done

big:                                              ; preds = %entry
  %d = sub nsw i32 %x, 3
  br label %done

done:                                             ; preds = %big, %small
  %v = phi i32 [ %r, %small ], [ %d, %big ]
  %p = call i32 (i8*, ...) @printf(i8* noundef getelementptr inbounds ([3 x i8], [3 x i8]* @.str.1, i64 0, i64 0), i32 noundef %v) #1
  %u = call i32 @_Z4tmplIiET_S0_(i32 %v)
  ret i32 %u
}

define linkonce_odr dso_local i32 @_Z4tmplIiET_S0_(i32 %a) #0 comdat {
  %1 = sub nsw i32 %a, 1
  ret i32 %1
}

declare void @_Z4sinkv() #1
declare i32 @printf(i8* noundef, ...) #1

attributes #0 = { noinline nounwind uwtable "frame-pointer"="all" "target-cpu"="x86-64" }
attributes #1 = { "frame-pointer"="all" }

!llvm.module.flags = !{!0, !1}
!llvm.ident = !{!5}

!0 = !{i32 1, !"wchar_size", i32 4}
!1 = !{i32 7, !"uwtable", i32 1}
!2 = !{!"branch_weights", i32 1, i32 2}
!3 = !{!4, !4, i64 0}
!4 = !{!"int", !5, i64 0}
!5 = !{!"clang version 14.0.6"}
'''


def _assembles(ir: str) -> bool:
    r = subprocess.run(["llvm-as", "-o", "/dev/null", "-"], input=ir, text=True, capture_output=True)
    return r.returncode == 0


# ------------------------------------------------------------------------------------------- normalise
def test_normalise_drops_noise_and_renumbers():
    n = normalize_ir(RAW)
    for gone in ("ModuleID", "source_filename", "target datalayout", "target triple", "attributes #", "!tbaa",
                 "!prof", "!llvm", " #0", " #1", "preds", "is it small", "%cmp", "entry:", "@.str"):
        assert gone not in n, gone
    assert 'c"a;b#1\\00"' in n  # a ';' and a '#' inside a string are data, not a comment or attributes
    lines = [l.strip() for l in n.splitlines()]
    assert "define dso_local noundef i32 @_Z5clampi(i32 noundef %0) {" in lines
    assert "%2 = icmp slt i32 %0, 10" in lines  # %1 is the unlabelled entry block
    assert "br i1 %2, label %3, label %7" in lines
    assert "%10 = phi i32 [ %6, %3 ], [ %8, %7 ]" in lines
    assert "@.g0 = private unnamed_addr constant [6 x i8] c\"a;b#1\\00\", align 1" in lines
    assert "[3 x i8]* @.g1" in n
    assert "define linkonce_odr dso_local i32 @_Z4tmplIiET_S0_(i32 %0) comdat {" in lines
    assert "%2 = sub nsw i32 %0, 1" in lines  # the linkonce function: %0 arg, %1 entry


def test_normalise_is_idempotent_and_insensitive_to_names():
    n = normalize_ir(RAW)
    assert normalize_ir(n) == n
    renamed = RAW.replace("%cmp", "%c0").replace("%small", "%then").replace("small:", "then:")
    assert normalize_ir(renamed) == n


@needs_llvm
def test_normalised_ir_assembles():
    assert _assembles(RAW)
    assert _assembles(normalize_ir(RAW))


def test_normalise_drops_hint_intrinsics_and_rejects_other_metadata_operands():
    hints = RAW.replace("  %t = trunc", "  call void @llvm.dbg.value(metadata i32 %x, metadata !6, metadata !DIExpression())\n"
                        "  call void @llvm.experimental.noalias.scope.decl(metadata !7)\n  %t = trunc")
    hints += "declare void @llvm.experimental.noalias.scope.decl(metadata)\n"
    assert normalize_ir(hints) == normalize_ir(RAW)
    strict = RAW.replace("  %t = trunc", '  %f = call float @llvm.experimental.constrained.sitofp.f32.i32(i32 %x, '
                         'metadata !"round.dynamic", metadata !"fpexcept.strict")\n  %t = trunc')
    with pytest.raises(IRError, match="metadata"):
        normalize_ir(strict)


def test_deleting_an_instruction_is_repaired_by_renumbering():
    n = normalize_ir(RAW)
    lines = n.splitlines()
    k = next(i for i, l in enumerate(lines) if "sub nsw i32 %0, 3" in l)
    lines.insert(k, "  %99 = add i32 %0, %0")  # an out-of-sequence number
    fixed = normalize_ir("\n".join(lines))
    assert "%8 = add i32 %0, %0" in fixed and "%9 = sub nsw i32 %0, 3" in fixed


# ------------------------------------------------------------------------------------------- IR mutants
def test_ir_mutations_change_what_they_say():
    n = normalize_ir(RAW)
    muts = ir_mutations(n)
    kinds = {m.kind for m in muts}
    assert {"icmp_flip", "icmp_off_by_one", "swap_operands", "binop_change", "ext_change", "drop_trunc", "constant",
            "branch_swap", "drop_store", "drop_call"} <= kinds
    by_kind = {}
    for m in muts:
        by_kind.setdefault(m.kind, []).append(apply_ir_mutation(n, m))
    assert any("icmp sge i32 %0, 10" in t for t in by_kind["icmp_flip"])
    assert any("icmp sle i32 %0, 10" in t for t in by_kind["icmp_off_by_one"])
    assert any("icmp slt i32 10, %0" in t or "sub nsw i32 3, %0" in t for t in by_kind["swap_operands"])
    assert any("bitcast i32 %0 to i32" in t for t in by_kind["drop_trunc"])  # the missing truncation
    assert any("sext i8 %4 to i32" in t for t in by_kind["ext_change"])
    assert any("icmp slt i32 %0, 11" in t for t in by_kind["constant"])
    assert any("label %7, label %3" in t for t in by_kind["branch_swap"])
    assert all("store i32" not in t for t in by_kind["drop_store"])
    assert all("@_Z4sinkv()\n" not in t.split("declare")[0] for t in by_kind["drop_call"])
    for m in muts:  # the linkonce_odr template copy is never touched
        assert "sub nsw i32 %0, 1" in apply_ir_mutation(n, m)
    for t in (t for ts in by_kind.values() for t in ts):
        assert t != n and normalize_ir(t) == t


@needs_llvm
def test_ir_mutants_assemble():
    n = normalize_ir(RAW)
    for m in ir_mutations(n):
        assert _assembles(apply_ir_mutation(n, m)), m.describe(n)


# ------------------------------------------------------------------------------------------- source mutants
SRC = '''#include<vector>
using namespace std;
int f(vector<int> v, int k){ // a < b in a comment
    vector<int> w;
    int s = 0;
    for (int i = 0; i < v.size(); i++) if (v[i] >= k && v[i] != 3) s += max(v[i], k) - 1;
    const char* t = "x < y";
    return s == 0 ? true : false;
}
'''


def test_source_mutations_by_kind():
    start = SRC.index("{") + 1
    muts = source_mutations(SRC, start)
    kinds = {m.kind for m in muts}
    assert {"arith", "compare", "off_by_one", "logic", "constant", "bool"} <= kinds
    for m in muts:
        mutant = apply_mutation(SRC, m)
        assert mutant != SRC
        assert "a < b in a comment" in mutant and '"x < y"' in mutant  # comments and strings untouched
        assert "vector<int> w;" in mutant  # a template's '<' is not a comparison
    assert any("i <= v.size()" in apply_mutation(SRC, m) for m in muts if m.kind == "off_by_one")
    assert any("v[i] >= k || v[i]" in apply_mutation(SRC, m) for m in muts if m.kind == "logic")
    assert any("s -= max" in apply_mutation(SRC, m) for m in muts if m.kind == "arith")
    assert any("return s != 0" in apply_mutation(SRC, m) for m in muts if m.kind == "compare")
    swaps = [apply_mutation("int g(){ return h(a, b+1); }", m)
             for m in source_mutations("int g(){ return h(a, b+1); }") if m.kind == "swap_args"]
    assert swaps == ["int g(){ return h(b+1, a); }"]


def test_function_prototypes_and_rows():
    src = "#include<string>\nusing namespace std;\nbool p(string s){ return s.size()>1; }\nint q(int a,\n int b) { return a; }\n"
    protos, others = function_prototypes(src)
    assert protos == ["bool p(string s);", "int q(int a, int b);"] and others == []
    assert function_prototypes("struct S { int a; };\nint f(){return 0;}")[1] == ["struct S"]
    decl, body = src[:-len(" return a; }\n")], " return a; }\n"
    p, _ = problem_from_row({"task_id": "CPP/x", "declaration": decl, "canonical_solution": body,
                             "test": "int main(){}"}, "r")
    assert p.source == src and p.body_start == len(decl)
    assert p.test_program.startswith("#include<string>\nusing namespace std;\nbool p(string s);\nint q(int a, int b);")
    assert problem_from_row({"prompt": "x"}, "r")[0] is None
    assert "unknown layout" in problem_from_row({"prompt": "x"}, "r")[1]
    assert problem_from_row([1], "r") == (None, "not a JSON object")


def test_read_problems_reports_bad_rows(tmp_path):
    f = tmp_path / "p.jsonl"
    f.write_text('{"code": "int f(){return 1;}", "test_program": "int f(); int main(){return f()-1;}"}\n'
                 "not json\n" '{"prompt": "only"}\n')
    problems, bad = read_problems(f)
    assert len(problems) == 1 and [w for w, _ in bad] == ["p.jsonl:2", "p.jsonl:3"]
    with pytest.raises(UserError, match="no such file"):
        read_problems(tmp_path / "missing.jsonl")


# ------------------------------------------------------------------------------------------- the loader
def _group(i, problem):
    return {"id": f"g{i}", "problem": problem, "prompt": [{"role": "user", "content": "x"}], "source": "s",
            "test_program": "t", "winners": ["w"], "losers": ["l"], "levels": [["O0"]],
            "mutations": [{"side": "ir"}]}


def test_load_groups_validates(tmp_path):
    f = tmp_path / "g.jsonl"
    f.write_text("\n".join(json.dumps(_group(i, f"P{i}")) for i in range(3)) + "\n")
    assert [g["id"] for g in load_groups(f)] == ["g0", "g1", "g2"]
    bad = _group(9, "P9")
    bad["losers"] = []
    f.write_text(json.dumps(_group(0, "P0")) + "\n" + json.dumps(bad) + "\n")
    with pytest.raises(UserError, match=r"g.jsonl:2: field 'losers'"):
        load_groups(f)
    del bad["losers"]
    f.write_text(json.dumps(bad) + "\n")
    with pytest.raises(UserError, match=r"g.jsonl:1: field 'losers' is missing"):
        load_groups(f)


def test_split_groups_by_problem():
    groups = [_group(i, f"P{i % 5}") for i in range(20)]
    train, held = split_groups(groups, 0.4, seed=3)
    assert len(train) + len(held) == 20
    assert not {g["problem"] for g in train} & {g["problem"] for g in held}
    assert len({g["problem"] for g in held}) == 2
    assert split_groups(groups, 0.4, seed=3) == (train, held)
    assert split_groups(groups, 0.0)[1] == []


# ------------------------------------------------------------------------------------------- end to end (jail)
def _plain_check(ir: str, test_program: str, d: Path, tag: str) -> str:
    """The graders' check, outside the builder: clang++ ir.ll test_program.cpp && ./a.out."""
    (d / f"{tag}.ll").write_text(ir)
    (d / "test_program.cpp").write_text(test_program)
    b = subprocess.run(["clang++", "-w", f"{tag}.ll", "test_program.cpp", "-o", tag], cwd=d, capture_output=True)
    if b.returncode:
        return "compile_error"
    try:
        r = subprocess.run([f"./{tag}"], cwd=d, capture_output=True, timeout=10)
    except subprocess.TimeoutExpired:
        return "timeout"
    return "pass" if r.returncode == 0 else "fail"


@needs_llvm
@pytest.mark.skipif(not HUMANEVAL_CPP.is_file(), reason="../shared/data/humaneval-x not available")
def test_build_groups_end_to_end(tmp_path):
    with gzip.open(HUMANEVAL_CPP, "rt") as f:
        rows = [json.loads(line) for line in f]
    chosen = [r for r in rows if r["task_id"] in ("CPP/2", "CPP/12", "CPP/30")]
    problems = tmp_path / "problems.jsonl"
    problems.write_text("\n".join(json.dumps(r) for r in chosen) + "\n"
                        + json.dumps({"id": "broken", "code": "int f( {", "test_program": "int main(){}"}) + "\n"
                        + json.dumps({"title": "wrong layout"}) + "\n")
    out = tmp_path / "groups.jsonl"
    cfg = BuildConfig(levels=("O0", "O1", "O2", "Os"), mutants_per_group=2, source_tries=2, ir_tries=3, threads=2)
    summary = build_groups(problems, out, cfg, log=lambda s: None)
    assert summary["problems"] == 5
    assert summary["skipped"] == {"bad_row": 1, "source_does_not_compile": 1}
    assert summary["groups"] == 3
    assert summary["mutants"]["tried"] >= summary["mutants"]["kept"] == summary["losers"] > 0
    assert json.loads(Path(str(out) + ".summary.json").read_text())["groups"] == 3
    groups = load_groups(out)
    for g in groups:
        assert len(set(g["winners"])) == len(g["winners"]) and len(g["levels"]) == len(g["winners"])
        assert sorted(lv for lvs in g["levels"] for lv in lvs) == sorted(cfg.levels)
        assert g["prompt"][-1]["content"].count(g["source"]) == 1
        d = tmp_path / g["id"].replace("/", "_")
        d.mkdir()
        for i, w in enumerate(g["winners"]):
            assert _plain_check(w, g["test_program"], d, f"w{i}") == "pass", (g["id"], g["levels"][i])
        for i, loser in enumerate(g["losers"]):
            assert loser not in g["winners"]
            assert _plain_check(loser, g["test_program"], d, f"l{i}") == "fail", (g["id"], g["mutations"][i])


# ------------------------------------------------------------------------------------------- pipeline, no clang
class _FakeJail:
    """Every level emits RAW; the first ``n_winners`` candidates pass, the rest fail."""

    def emit(self, jobs):
        return {name: (RAW, "") for name in jobs}

    def verify(self, test_program, irs):
        from oorl.data.ir_groups.jail import Built

        n = 1  # all levels give the same normalised IR: one winner
        return [Built("passed") if i < n else Built("failed", "exit status 134") for i in range(len(irs))]


def test_build_group_merges_levels_and_filters_length():
    from oorl.data.ir_groups.build import Problem, build_group, make_tokens_counter

    p = Problem("P", "int f(int x){ return x < 10 ? x + 1 : x - 3; }\n", "int main(){}", body_start=0)
    cfg = BuildConfig(levels=("O0", "O2"), mutants_per_group=3, ir_tries=4, source_tries=0)
    o = build_group(p, cfg, _FakeJail())
    g = o.group
    assert g["winners"] == [normalize_ir(RAW)] and g["levels"] == [["O0", "O2"]]
    assert 1 <= len(g["losers"]) <= 3 and all(m["side"] == "ir" for m in g["mutations"])
    count = make_tokens_counter(None)
    assert count("%1 = add i32 %0, 1") == 9  # % 1 = add i32 % 0 , 1
    short = BuildConfig(levels=("O0",), mutants_per_group=1, max_tokens=20, count_tokens=count)
    o = build_group(p, short, _FakeJail())
    assert o.group is None and o.skipped == "too_long" and o.counts["winners_too_long"] == 1


def test_builtin_mini_cpp_problems_build_groups(tmp_path):
    """The built-in C++ problems: the generic layout, tests that the function passes and a mutant fails."""
    from oorl.data.mini_cpp import CPP, mini_cpp_problems

    rows = mini_cpp_problems(per_family=2)
    assert len(rows) == 2 * len(CPP) and len({r["id"] for r in rows}) == len(rows)
    assert rows == mini_cpp_problems(per_family=2)  # seeded
    chosen = [r for r in rows if r["family"] in ("clamp", "multiple")][:2]
    problems = tmp_path / "mini.jsonl"
    problems.write_text("".join(json.dumps(r) + "\n" for r in chosen))
    out = tmp_path / "groups.jsonl"
    cfg = BuildConfig(levels=("O0", "O2"), mutants_per_group=2, source_tries=3, ir_tries=3, threads=2)
    summary = build_groups(problems, out, cfg, log=lambda s: None)
    assert summary["groups"] == 2 and summary["losers"] >= 2, summary
    for g in load_groups(out):
        d = tmp_path / g["id"].replace("/", "_")
        d.mkdir()
        assert all(_plain_check(w, g["test_program"], d, f"w{i}") == "pass" for i, w in enumerate(g["winners"]))
        assert all(_plain_check(x, g["test_program"], d, f"l{i}") == "fail" for i, x in enumerate(g["losers"]))
