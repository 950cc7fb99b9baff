"""IR groups on disk (what ``oorl data ir-groups`` writes), for the trainer's off-policy stream.

``load_groups(path)`` reads and validates the JSONL: every row needs ``id``, ``prompt`` (chat
messages: a list of ``{"role", "content"}``), ``source``, ``test_program``, ``winners`` and
``losers`` (non-empty lists of IR texts), optionally ``problem`` (the source problem; defaults to
``id``), ``levels`` (one list per winner) and ``mutations`` (one object per loser). A bad row is a
``UserError`` naming the file, the row and the field.

``split_groups(groups, heldout_fraction, seed)`` splits by source problem, so that no problem has
groups on both sides; the held-out side gets ``round(fraction * problems)`` problems (at least one
when the fraction is positive and there are two problems or more).
"""

from __future__ import annotations

import gzip
import json
import random
from pathlib import Path

from oorl.errors import UserError

REQUIRED = ("id", "prompt", "source", "test_program", "winners", "losers")


def _open(path: Path):
    return gzip.open(path, "rt", encoding="utf-8") if path.suffix == ".gz" else open(path, encoding="utf-8")


def _check(row, where: str) -> dict:
    if not isinstance(row, dict):
        raise UserError(f"{where}: expected a JSON object (one IR group per line)")
    for key in REQUIRED:
        if key not in row:
            raise UserError(f"{where}: field {key!r} is missing (an IR group needs {', '.join(REQUIRED)}; "
                            f"build them with `oorl data ir-groups`)")
    for key in ("id", "source", "test_program"):
        if not isinstance(row[key], str) or not row[key].strip():
            raise UserError(f"{where}: field {key!r} must be a non-empty string")
    msgs = row["prompt"]
    if not isinstance(msgs, list) or not msgs or not all(
            isinstance(m, dict) and isinstance(m.get("role"), str) and isinstance(m.get("content"), str) for m in msgs):
        raise UserError(f"{where}: field 'prompt' must be a non-empty list of {{role, content}} chat messages")
    for key in ("winners", "losers"):
        irs = row[key]
        if not isinstance(irs, list) or not irs or not all(isinstance(t, str) and t.strip() for t in irs):
            raise UserError(f"{where}: field {key!r} must be a non-empty list of IR texts")
    if "levels" in row and (not isinstance(row["levels"], list) or len(row["levels"]) != len(row["winners"])):
        raise UserError(f"{where}: field 'levels' must have one entry per winner ({len(row['winners'])})")
    if "mutations" in row and (not isinstance(row["mutations"], list) or len(row["mutations"]) != len(row["losers"])):
        raise UserError(f"{where}: field 'mutations' must have one entry per loser ({len(row['losers'])})")
    if "problem" in row and not isinstance(row["problem"], str):
        raise UserError(f"{where}: field 'problem' must be a string")
    row.setdefault("problem", row["id"])
    return row


def load_groups(path) -> list[dict]:
    p = Path(path)
    if not p.is_file():
        raise UserError(f"IR groups {p}: no such file (build it with `oorl data ir-groups --problems ... --out {p}`)")
    groups, ids = [], set()
    try:
        with _open(p) as f:
            for i, line in enumerate(f, 1):
                if not line.strip():
                    continue
                where = f"{p}:{i}"
                try:
                    row = json.loads(line)
                except ValueError as e:
                    raise UserError(f"{where}: not valid JSON ({e})") from None
                row = _check(row, where)
                if row["id"] in ids:
                    raise UserError(f"{where}: field 'id' {row['id']!r} repeats an earlier row")
                ids.add(row["id"])
                groups.append(row)
    except (OSError, UnicodeDecodeError, EOFError) as e:
        raise UserError(f"IR groups {p}: cannot read it ({e})") from None
    if not groups:
        raise UserError(f"IR groups {p}: the file holds no group")
    return groups


def split_groups(groups: list[dict], heldout_fraction: float, seed: int = 0) -> tuple[list[dict], list[dict]]:
    if not 0.0 <= heldout_fraction < 1.0:
        raise UserError(f"heldout_fraction {heldout_fraction}: must be in [0, 1)")
    problems = sorted({g.get("problem", g["id"]) for g in groups})
    random.Random(seed).shuffle(problems)
    k = round(heldout_fraction * len(problems))
    if heldout_fraction > 0 and k == 0 and len(problems) >= 2:
        k = 1
    k = min(k, len(problems) - 1) if problems else 0
    held = set(problems[:k])
    train = [g for g in groups if g.get("problem", g["id"]) not in held]
    heldout = [g for g in groups if g.get("problem", g["id"]) in held]
    return train, heldout
