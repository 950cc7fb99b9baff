"""Hostile programs in every language: each ends within its limit + 2 s with the right verdict,
leaves no process behind, changes nothing outside its work directory, and the judge still judges
the next (ordinary) programs correctly."""

from __future__ import annotations

import os
import secrets
import time
from pathlib import Path

import pytest

from oorl.reward.doctor import HELLO
from oorl.reward.harness import JudgeRequest
from oorl.reward.judge import Judge
from oorl.reward.languages import LANGUAGES

from .helpers import jail_processes, short_limits
from .hostile_cases import CASES, EXPECTED, fill

REPO = Path(__file__).resolve().parents[2]
ALL = [(lang, case) for lang in sorted(CASES) for case in sorted(CASES[lang])]


@pytest.fixture(scope="module", params=["persistent", "one_shot"])
def hostile(request, tmp_path_factory):
    """Every case judged in one batch: in persistent jails (runs forked inside jails kept per thread,
    the default) and in one-shot jails (a jail per command)."""
    token = secrets.token_hex(6)
    secret = tmp_path_factory.mktemp("secret") / "secret.txt"
    secret.write_text(f"top secret {token}\n")
    escape_dir = tmp_path_factory.mktemp("escape")
    read = ["/etc/shadow", str(REPO / "pyproject.toml"), str(secret), os.path.expanduser("~/.bashrc"),
            "/root/.profile"]
    write = [f"/etc/oorl-escape-{token}", f"/usr/oorl-escape-{token}", f"/root/oorl-escape-{token}",
             str(REPO / f"oorl-escape-{token}"), str(escape_dir / "escape.txt"), f"/oorl-escape-{token}",
             f"/job/oorl-escape-{token}", f"../oorl-escape-{token}"]
    host_targets = [Path(p) for p in write if p.startswith("/") and not p.startswith("/job/")]
    limits = short_limits(persistent_jail=request.param == "persistent")
    judge = Judge(limits)
    requests = [JudgeRequest.make(lang, fill(lang, CASES[lang][case][0], read, write),
                                  fill(lang, CASES[lang][case][1], read, write)) for lang, case in ALL]
    t0 = time.monotonic()
    results = dict(zip(ALL, judge.judge(requests)))
    hostile_s = time.monotonic() - t0
    after = judge.judge([JudgeRequest.make(lang, *HELLO[lang]) for lang in sorted(CASES)])
    leftovers = jail_processes()
    escaped = [str(p) for p in host_targets if p.exists()]
    for p in escaped:  # never leave a successful escape on the host
        Path(p).unlink()
    counts = dict(judge.executor.jail.counts)
    counts["available"] = judge.executor.jail.zygotes is not None
    yield {"results": results, "after": dict(zip(sorted(CASES), after)), "leftovers": leftovers,
           "escaped": escaped, "secret": secret, "token": token, "limits": limits, "hostile_s": hostile_s,
           "escape_dir": escape_dir, "counts": counts, "path": request.param}
    judge.close()


def test_every_language_has_every_hostile_case():
    assert set(CASES) == set(LANGUAGES)
    for lang, cases in CASES.items():
        assert set(cases) == set(EXPECTED), lang


@pytest.mark.parametrize("lang,case", ALL)
def test_hostile_program(hostile, lang, case):
    res = hostile["results"][(lang, case)]
    lim = hostile["limits"]
    info = f"{lang}/{case}: {res.status.value} ({res.detail}) stderr={res.stderr[-400:]!r}"
    assert res.status.value in EXPECTED[case], info
    assert res.run is not None, info
    assert res.run.wall_s <= lim.wall_s + 2.0, info
    assert res.run.leftover_processes == 0, info
    for marker in ("LEAKED", "CONNECTED", "top secret"):
        assert marker not in res.stdout, info
    if case == "write_outside":  # inside the jail only the work dir (and /tmp) may be written
        assert "WROTE /" not in res.stdout.replace("WROTE /work", "").replace("WROTE /tmp", ""), info


def test_the_intended_jails_ran_the_cases(hostile):
    counts = hostile["counts"]
    if hostile["path"] == "one_shot":
        assert counts.get("persistent", 0) == 0
    elif counts["available"]:  # (not without a C compiler or a pids cgroup)
        # the first program of a kind runs one-shot; the rest (compilations and runs) persistent
        assert counts["persistent"] > len(ALL), counts


def test_nothing_left_running(hostile):
    assert hostile["leftovers"] == []


def test_nothing_changed_outside(hostile):
    assert hostile["escaped"] == []
    assert hostile["secret"].read_text() == f"top secret {hostile['token']}\n"
    assert list(hostile["escape_dir"].iterdir()) == []
    assert not list(REPO.glob("oorl-escape-*"))
    assert not list(REPO.glob("big.bin"))


@pytest.mark.parametrize("lang", sorted(CASES))
def test_next_program_is_judged_correctly(hostile, lang):
    res = hostile["after"][lang]
    assert res.passed, f"{lang}: {res.status.value} {res.detail} {res.stderr[-300:]}"
