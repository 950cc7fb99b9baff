import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared"
OORL = str(Path(sys.executable).parent / "oorl")


def run_oorl(*args: str, timeout: float = 900, env: dict | None = None) -> subprocess.CompletedProcess:
    """Run the real ``oorl`` console script, as a user would. ``train`` runs get a private local Ray
    cluster (``placement.ray_address=local``) so they never join a cluster someone else started."""
    e = dict(os.environ, PYTHONUNBUFFERED="1", **(env or {}))
    e.pop("RAY_ADDRESS", None)
    if args and args[0] == "train":
        args = (*args, "placement.ray_address=local")
    return subprocess.run([OORL, *args], capture_output=True, text=True, timeout=timeout, cwd=ROOT, env=e)


@pytest.fixture(scope="session")
def model_cache(tmp_path_factory) -> str:
    """One model cache for the session, so the tiny model is built once."""
    return os.environ.get("OORL_TEST_MODEL_CACHE") or str(tmp_path_factory.mktemp("models"))
