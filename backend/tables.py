"""Imports every model module, so `SharedBase.metadata` and `TenantBase.metadata` are complete."""

from __future__ import annotations

from backend.billing import models as billing_models
from backend.clients import models as clients_models
from backend.clinic import models as clinic_models
from backend.compliance.audit import events as audit
from backend.compliance.audit import sealed_models
from backend.compliance.disclosures import models as disclosure_models
from backend.compliance.encryption import key_models
from backend.compliance.part2 import models as part2_models
from backend.database import SharedBase, TenantBase
from backend.documentation import models as documentation_models
from backend.enrollment import models as enrollment_models
from backend.identity import models as identity_models
from backend.intake import models as intake_models
from backend.notifications import models as notifications_models
from backend.programs import models as programs_models
from backend.scheduling import models as scheduling_models
from backend.staff import models as staff_models
from backend.tenants import models as tenants_models
from backend.treatment import models as treatment_models
from backend.waitlist import models as waitlist_models
from backend.workers import outbox

__all__ = [
    "SharedBase",
    "TenantBase",
    "audit",
    "billing_models",
    "clients_models",
    "clinic_models",
    "disclosure_models",
    "documentation_models",
    "enrollment_models",
    "identity_models",
    "intake_models",
    "key_models",
    "notifications_models",
    "outbox",
    "part2_models",
    "programs_models",
    "scheduling_models",
    "sealed_models",
    "staff_models",
    "tenants_models",
    "treatment_models",
    "waitlist_models",
]
