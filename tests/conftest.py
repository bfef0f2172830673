"""Shared test set-up: a seeded generator, and stderr left out of the notebook comparisons."""

import numpy as np
import pytest


@pytest.fixture
def rng():
    return np.random.default_rng(12345)


def pytest_collectstart(collector):
    # nbval: stderr carries progress bars and warnings that differ on every run.
    if collector.fspath and collector.fspath.ext == ".ipynb":
        collector.skip_compare += ("stderr",)
