"""The periodic billing work of every clinic: poll the clearinghouse for responses (999, 277CA, 835)
and queue the eligibility checks now due.

Run by the worker every `billing_tick_seconds` (backend.workers.billing_schedule) and on demand by
`ensemble billing-tick`. Both parts are idempotent: a second run queues another poll (polling twice
finds nothing new) and no eligibility check twice (`request_due_checks`).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import date

from sqlalchemy import Engine

from backend.billing.eligibility_checks import request_due_checks
from backend.billing.engine import POLL_CLEARINGHOUSE
from backend.tenants.registry import TenantRef
from backend.tenants.routing import tenant_session
from backend.workers.outbox import add_message

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ClinicTick:
    slug: str
    #: None when the clinic's tick failed (the others go on).
    checks_due: int | None


def run_billing_tick(engine: Engine, clinics: list[TenantRef], today: date) -> list[ClinicTick]:
    """For each clinic, in its own transaction: a clearinghouse poll and the due eligibility checks."""
    done = []
    for clinic in clinics:
        try:
            with tenant_session(engine, clinic.schema_name) as session:
                add_message(session, POLL_CLEARINGHOUSE, {})
                due = len(request_due_checks(session, today))
        except Exception as exc:  # e.g. a clinic not migrated yet
            log.warning("billing tick failed for tenant %s (%s)", clinic.id, type(exc).__name__)
            due = None
        done.append(ClinicTick(clinic.slug, due))
    return done
