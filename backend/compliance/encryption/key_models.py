"""Each clinic's data keys, wrapped by a master key, in `public` (encryption.keys uses them)."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import CheckConstraint, LargeBinary, String
from sqlalchemy.orm import Mapped, mapped_column

from backend.database import SharedBase, utcnow


class TenantDataKey(SharedBase):
    """One version of a clinic's data key.

    No foreign key to `tenants`: deleting a clinic destroys its keys (the wrapped key is erased,
    `destroyed_at` set) and then removes the registry row; the tombstone stays as the record that
    the clinic's data, in any backup, can no longer be decrypted.
    """

    __tablename__ = "tenant_data_keys"
    __table_args__ = (
        CheckConstraint("version > 0", name="version_positive"),
        CheckConstraint(
            "(wrapped_key IS NULL) = (destroyed_at IS NOT NULL)"
            " AND (wrapped_key IS NULL) = (master_key_id IS NULL)",
            name="destroyed_keys_erased",
        ),
    )

    tenant_id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    version: Mapped[int] = mapped_column(primary_key=True, autoincrement=False)
    # The data key encrypted by the master key `master_key_id` (key_provider.KeyProvider.wrap).
    wrapped_key: Mapped[bytes | None] = mapped_column(LargeBinary)
    master_key_id: Mapped[str | None] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    # New writes use the newest version active by then; a rotation activates its key a little
    # later so every process has loaded it before anyone writes with it (keys.KEYRING_TTL_SECONDS).
    active_from: Mapped[datetime] = mapped_column(default=utcnow)
    # Set on the previous version when a newer one is added: it only decrypts from then on.
    retired_at: Mapped[datetime | None]
    rewrapped_at: Mapped[datetime | None]
    destroyed_at: Mapped[datetime | None]
