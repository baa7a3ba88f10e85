from __future__ import annotations

import os

import pytest


@pytest.fixture
def full() -> bool:
    """`make faults` sets QAF_FAULTS_FULL=1 for the issue's full sizes; CI runs smaller ones."""
    return os.environ.get("QAF_FAULTS_FULL") == "1"
