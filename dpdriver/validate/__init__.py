"""Validation: test errors on the held-out set and physical properties, model against reference."""

from .rmse import ensemble_test_errors, model_errors, test_errors, test_frames

__all__ = ["ensemble_test_errors", "model_errors", "test_errors", "test_frames"]
