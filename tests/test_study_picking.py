"""The data-efficiency study's picks from the MD pool (pure functions of the pool, a budget and a seed)."""

import sys
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks" / "data_efficiency"))
import picking  # noqa: E402
from summary import labels_for  # noqa: E402


def test_consecutive_frames_stay_inside_one_trajectory_and_differ_by_seed():
    sizes = [100, 100, 100]
    picks = [picking.consecutive(sizes, 1, 20, seed) for seed in (1, 2, 3)]
    for p in picks:
        assert len(p) == 20 and np.all(np.diff(p) == 1) and 100 <= p[0] and p[-1] < 200
    assert len({int(p[0]) for p in picks}) > 1
    assert list(picking.consecutive(sizes, 2, 500, 1)) == list(range(200, 300))  # at most the whole trajectory


def test_uniform_picks_are_distinct_and_seeded():
    a, b = picking.uniform(1000, 50, 1), picking.uniform(1000, 50, 2)
    assert len(set(a.tolist())) == 50 and list(a) == sorted(a) and list(a) != list(b)
    assert list(picking.uniform(1000, 50, 1)) == list(a)


def test_farthest_points_spread_over_clusters():
    rng = np.random.default_rng(0)
    centres = np.array([[0.0, 0.0], [10.0, 0.0], [0.0, 10.0], [10.0, 10.0]])
    features = np.concatenate([c + rng.normal(0, 0.1, (50, 2)) for c in centres])
    picked = picking.farthest_points(features, 4, seed=3)
    assert len(picked) == 4 and sorted({int(i) // 50 for i in picked}) == [0, 1, 2, 3]  # one per cluster


def test_committee_keeps_its_seed_set_and_adds_the_most_disputed_frames():
    deviation = np.array([0.1, 0.9, 0.2, 0.8, 0.05, 0.7])
    picked = picking.committee(deviation, np.array([1, 4]), 4)
    assert list(picked) == [1, 3, 4, 5]  # seed set 1 and 4; then 3 (0.8) and 5 (0.7), 1 (0.9) already in it


def test_labels_for_a_force_rmse_interpolates_the_learning_curve_log_log():
    curve = [(25.0, 0.4, 0.0), (100.0, 0.1, 0.0), (400.0, 0.05, 0.0)]
    assert labels_for(curve, 0.2) == pytest.approx(50.0)  # halfway in log between 25 and 100
    assert labels_for(curve, 0.5) == 25.0 and labels_for(curve, 0.01) is None
