"""Fixtures shared by the engine tests."""
import pytest

from engine import data


@pytest.fixture(scope="module")
def circle():
    """The circle toy set, 200 points: small enough for a run of a few steps in milliseconds."""
    return data.load("circle", 0, n=200)
