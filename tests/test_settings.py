"""Runtime settings read from the environment: what each environment defaults to, and bad values."""

from __future__ import annotations

import base64

import pytest

from backend.settings import load_settings


def test_x12_files_are_for_real_processing_in_production_and_for_testing_elsewhere(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """ISA15 defaults to P in production and T in development or test; ENSEMBLE_X12_USAGE overrides
    it, and anything but T or P stops the process at start rather than mislabel a file."""
    monkeypatch.delenv("ENSEMBLE_X12_USAGE", raising=False)
    monkeypatch.setenv("ENSEMBLE_ENV", "development")
    assert load_settings().x12_usage == "T"
    monkeypatch.setenv("ENSEMBLE_ENV", "production")
    monkeypatch.setenv("ENSEMBLE_SECRET_KEY", "s" * 48)
    monkeypatch.setenv("ENSEMBLE_MASTER_KEYS", "k1:" + base64.b64encode(bytes(32)).decode())
    assert load_settings().x12_usage == "P"
    monkeypatch.setenv("ENSEMBLE_X12_USAGE", "T")
    assert load_settings().x12_usage == "T", "a staging deployment may keep sending test files"
    monkeypatch.setenv("ENSEMBLE_X12_USAGE", "X")
    with pytest.raises(RuntimeError, match="ENSEMBLE_X12_USAGE"):
        load_settings()
