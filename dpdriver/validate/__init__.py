"""Validation: test errors on the held-out set and physical properties, model against reference."""

from .rmse import model_errors, test_errors, test_frames

__all__ = ["model_errors", "test_errors", "test_frames"]
