"""A real worker process on Redis turns a closed session record into sent 837P batches."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import select

from backend.billing.models import Claim, ClaimStatus
from backend.billing.x12.validation import pyx12_errors
from backend.tenants.routing import tenant_session
from tests.billing.test_claim_cycle import _configure
from tests.billing.test_engine import billed  # noqa: F401
from tests.documentation.test_session_record_graphql import Scenario, api  # noqa: F401
from tests.workers.test_end_to_end import WorkerProcess, wait_for, worker_process  # noqa: F401


@pytest.fixture
def configured(billed: Scenario) -> Scenario:  # noqa: F811
    """The signed scenario with a billing provider, set up before the worker starts."""
    _configure(billed, deny_member=3)
    return billed


def test_the_worker_produces_and_sends_one_claim_per_present_member(
    configured: Scenario,
    worker_process: WorkerProcess,  # noqa: F811
    tmp_path: Path,
) -> None:
    """The drainer sends billing.session_closed; the claims are made and sent in one 837P per payer."""
    s = configured
    outbox = tmp_path / "data" / "clearinghouse" / s.clinic.schema_name / "outbox"

    def sent() -> list[Path]:
        return sorted(outbox.glob("*.x12")) if outbox.exists() else []

    wait_for(lambda: len(sent()) == 2, "two 837P batches in the clearinghouse outbox", worker_process)
    assert all(pyx12_errors(f.read_text()) == [] for f in sent())
    with tenant_session(s.database.engine, s.clinic.schema_name) as session:
        claims = list(session.scalars(select(Claim)))
    assert len(claims) == 7 and {c.status for c in claims} == {ClaimStatus.SUBMITTED}
    assert {c.client_id for c in claims} == {m.client_id for m in s.group.members[:-1]}
