from __future__ import annotations

import pytest

from .helpers import short_limits


@pytest.fixture(scope="session")
def limits():
    return short_limits()


@pytest.fixture(scope="session")
def executor(limits):
    from oorl.reward.executor import Executor

    return Executor(limits)
