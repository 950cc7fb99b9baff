"""`oorl sandbox run`, `oorl judge`, `oorl doctor`, and the reward worker's metrics."""

from __future__ import annotations

import gzip
import json
import subprocess
import sys
from pathlib import Path

import typer
from typer.testing import CliRunner

from oorl.reward.cli import doctor_command, judge_command, sandbox_app
from oorl.reward.doctor import HELLO

from .helpers import HUMANEVAL_X

app = typer.Typer()
app.add_typer(sandbox_app, name="sandbox")
app.command("judge")(judge_command)
app.command("doctor")(doctor_command)
runner = CliRunner()


def write(tmp_path: Path, name: str, text: str) -> Path:
    p = tmp_path / name
    p.write_text(text)
    return p


def test_sandbox_run_json(tmp_path):
    prog = write(tmp_path, "add.py", HELLO["python"][0] + "print('hi')\n")
    tests = write(tmp_path, "t.py", HELLO["python"][1])
    r = runner.invoke(app, ["sandbox", "run", "--language", "python", str(prog), "--tests", str(tests), "--json"])
    assert r.exit_code == 0, r.output
    d = json.loads(r.output)
    assert d["status"] == "passed" and d["exit_code"] == 0 and d["stdout"] == "hi\n"
    for key in ("wall_s", "stderr", "detail", "compile", "run"):
        assert key in d


def test_sandbox_run_verdicts_and_exit_codes(tmp_path):
    loop = write(tmp_path, "loop.cpp", "int main() { while (true) {} }\n")
    t0 = __import__("time").monotonic()
    r = runner.invoke(app, ["sandbox", "run", str(loop), "--timeout", "1"])  # language from the extension
    assert r.exit_code == 1 and r.output.startswith("timeout")
    assert __import__("time").monotonic() - t0 < 1 + 2 + 5  # plus compilation
    bad = write(tmp_path, "bad.rs", "fn main() { let x: i32 = \"no\"; }\n")
    r = runner.invoke(app, ["sandbox", "run", str(bad), "--json"])
    assert r.exit_code == 1 and json.loads(r.output)["status"] == "compile_error"


def test_sandbox_run_user_errors(tmp_path):
    from oorl.errors import UserError

    r = runner.invoke(app, ["sandbox", "run", str(tmp_path / "missing.py")])
    assert isinstance(r.exception, UserError) and "no such file" in str(r.exception)
    odd = write(tmp_path, "x.unknown", "")
    r = runner.invoke(app, ["sandbox", "run", str(odd)])
    assert isinstance(r.exception, UserError) and "--language" in str(r.exception)
    r = runner.invoke(app, ["sandbox", "run", "--language", "cobol", str(odd)])
    assert isinstance(r.exception, UserError) and "unknown language" in str(r.exception)


def test_top_level_cli_prints_one_line_errors(tmp_path):
    out = subprocess.run([sys.executable, "-m", "oorl.cli", "sandbox", "run", str(tmp_path / "nope.py")],
                         capture_output=True, text=True)
    assert out.returncode == 2
    assert "no such file" in out.stderr and "Traceback" not in out.stderr


def _tiny_dataset(tmp_path: Path) -> Path:
    d = tmp_path / "hx"
    d.mkdir()
    rows = [{"task_id": "Python/0", "prompt": "def add(a, b):\n", "declaration": "def add(a, b):\n",
             "canonical_solution": "    return a + b\n", "test": "def check(f):\n    assert f(1, 2) == 3\ncheck(add)\n"},
            {"task_id": "Python/1", "prompt": "def neg(a):\n", "declaration": "def neg(a):\n",
             "canonical_solution": "    return -a\n", "test": "def check(f):\n    assert f(1) == -1\ncheck(neg)\n"}]
    with gzip.open(d / "humaneval_python.jsonl.gz", "wt") as f:
        f.write("".join(json.dumps(r) + "\n" for r in rows))
    return d


def test_judge_canonical_and_samples(tmp_path):
    d = _tiny_dataset(tmp_path)
    out = tmp_path / "report.json"
    r = runner.invoke(app, ["judge", "--humaneval-x", str(d), "--languages", "python", "--json", str(out)])
    assert r.exit_code == 0, r.output
    import re

    assert re.search(r"^python\s+2\s+2\s+100\.0", r.output, re.MULTILINE), r.output
    assert json.loads(out.read_text())["languages"]["python"]["passed"] == 2
    samples = write(tmp_path, "s.jsonl", json.dumps({"task_id": "Python/0", "completion": "    return a - b\n"}) + "\n"
                    + json.dumps({"task_id": "Python/1", "completion": "    return -a\n"}) + "\n")
    r = runner.invoke(app, ["judge", "--humaneval-x", str(d), "--samples", str(samples), "--languages", "python"])
    assert r.exit_code == 0 and "Python/0: failed" in r.output


def test_judge_real_data_sample():
    if not HUMANEVAL_X.is_dir():
        return
    r = runner.invoke(app, ["judge", "--humaneval-x", str(HUMANEVAL_X), "--languages", "go,rust", "--limit", "2"])
    assert r.exit_code == 0, r.output
    assert "go" in r.output and "rust" in r.output and "4 programs" in r.output


def test_doctor():
    r = runner.invoke(app, ["doctor"])
    assert r.exit_code == 0, r.output
    assert "everything works" in r.output
    for lang in HELLO:
        assert f"  {lang}" in r.output
    assert "LEAK" not in r.output


def test_reward_worker_reports_judge_metrics():
    from oorl.reward.worker import RewardWorker

    cfg = {"functions": [{"name": "unit_tests"}], "threads": 2,
           "sandbox": {"wall_s": 3, "cpu_s": 2, "memory_mb": 256}}
    w = RewardWorker(cfg)
    prog, tests = HELLO["python"]
    out = w.score(["p", "p"], [f"```python\n{prog}```", "nothing"], {"language": ["python"] * 2, "tests": [tests] * 2})
    assert out["rewards"] == [1.0, 0.0]
    st = w.stats()
    assert st["reward/judge/python/passed"] >= 1 and "reward/time_s/unit_tests" in st
    from oorl.reward.judge import get_judge

    assert get_judge().limits.wall_s == 3 and get_judge().threads == 2
