"""Storing the clinic's billing setup: providers, payers, payer rule versions, coverage payers, staff NPIs."""

from __future__ import annotations

import uuid
from datetime import date

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Session

from backend.billing.models import BillingProvider, ClaimFormat, Payer, PayerRuleVersion
from backend.billing.payer_rules import RuleVersion, rules_from_json, rules_problems, version_problems
from backend.billing.providers import (
    ProviderDraft,
    npi_problems,
    payer_problems,
    provider_problems,
    taxonomy_problems,
)
from backend.clients.models import ClientCoverage
from backend.clients.rules import COVERAGE_ENDED
from backend.errors import FieldProblem, InputRejected
from backend.staff.models import StaffMember


def default_provider(session: Session) -> BillingProvider | None:
    """The billing provider on claims and eligibility checks: the default, else the first configured."""
    return session.scalars(
        select(BillingProvider).order_by(BillingProvider.is_default.desc(), BillingProvider.created_at)
    ).first()


def _not_found(field: str) -> InputRejected:
    return InputRejected([FieldProblem(field, "not_found", "does not name a record in this clinic")])


async def add_billing_provider(
    session: AsyncSession, draft: ProviderDraft, is_default: bool
) -> BillingProvider:
    problems = provider_problems(draft)
    if problems:
        raise InputRejected(problems)
    provider = BillingProvider(id=uuid.uuid4(), is_default=False, **vars(draft))
    session.add(provider)
    await _make_default(session, provider, is_default)
    return provider


async def update_billing_provider(
    session: AsyncSession, provider_id: uuid.UUID, draft: ProviderDraft, is_default: bool
) -> BillingProvider:
    """The provider's details replaced (checked as when added); batches already sent keep what they
    carried, and the next batch and IOP/PHP week carry the new ones."""
    provider = await session.get(BillingProvider, provider_id, with_for_update=True)
    if provider is None:
        raise _not_found("providerId")
    problems = provider_problems(draft)
    if problems:
        raise InputRejected(problems)
    for name, value in vars(draft).items():
        setattr(provider, name, value)
    await _make_default(session, provider, is_default)
    return provider


async def _make_default(session: AsyncSession, provider: BillingProvider, is_default: bool) -> None:
    """One default at most: making `provider` the default clears the others'."""
    if is_default:
        for other in await session.scalars(
            select(BillingProvider).where(BillingProvider.is_default, BillingProvider.id != provider.id)
        ):
            other.is_default = False
    provider.is_default = is_default
    await session.flush()


async def add_payer(
    session: AsyncSession, name: str, payer_code: str, claim_format: ClaimFormat, filing_indicator: str
) -> Payer:
    problems = payer_problems(name, payer_code, filing_indicator)
    if not problems and await session.scalar(select(Payer.id).where(Payer.payer_code == payer_code)):
        problems.append(FieldProblem("payerCode", "duplicate", "another payer has this payer id"))
    if problems:
        raise InputRejected(problems)
    payer = Payer(
        id=uuid.uuid4(),
        name=name.strip(),
        payer_code=payer_code,
        claim_format=claim_format,
        filing_indicator=filing_indicator,
    )
    session.add(payer)
    await session.flush()
    return payer


async def add_rule_version(
    session: AsyncSession,
    payer_id: uuid.UUID,
    effective_from: date,
    effective_to: date | None,
    rules_json: object,
    user_id: uuid.UUID,
) -> PayerRuleVersion:
    """A new version of the payer's rules; it must not overlap the versions already saved."""
    payer = await session.get(Payer, payer_id, with_for_update=True)
    if payer is None:
        raise _not_found("payerId")
    try:
        rules = rules_from_json(rules_json)
    except ValueError as error:
        # The message names the key (rules.<key>), never a value.
        key = str(error).split(":", 1)[0]
        raise InputRejected([FieldProblem(key, "invalid", str(error))]) from None
    problems = rules_problems(rules)
    existing = list(
        await session.scalars(select(PayerRuleVersion).where(PayerRuleVersion.payer_id == payer_id))
    )
    versions = [v.version() for v in existing]
    versions.append(RuleVersion(effective_from, effective_to, rules))
    # The saved versions were consistent, so any period problem now is the new version's.
    codes = {p.code for p in version_problems(versions)}
    if "ends_before_start" in codes:
        problems.append(FieldProblem("effectiveTo", "ends_before_start", "ends before it starts"))
    if "overlaps" in codes:
        problems.append(FieldProblem("effectiveFrom", "overlaps", "overlaps a version already saved"))
    if problems:
        raise InputRejected(problems)
    version = PayerRuleVersion(
        id=uuid.uuid4(),
        payer_id=payer_id,
        effective_from=effective_from,
        effective_to=effective_to,
        rules=rules_json if isinstance(rules_json, dict) else {},
        created_by=user_id,
    )
    session.add(version)
    await session.flush()
    return version


async def set_coverage_payer(
    session: AsyncSession, coverage_id: uuid.UUID, payer_id: uuid.UUID
) -> ClientCoverage:
    coverage = await session.get(ClientCoverage, coverage_id)
    if coverage is None:
        raise _not_found("coverageId")
    if coverage.ended_at is not None:
        raise InputRejected([COVERAGE_ENDED])
    if await session.get(Payer, payer_id) is None:
        raise _not_found("payerId")
    coverage.payer_id = payer_id
    await session.flush()
    return coverage


async def set_staff_npi(
    session: AsyncSession, staff_id: uuid.UUID, npi: str, taxonomy: str | None
) -> StaffMember:
    staff = await session.get(StaffMember, staff_id)
    if staff is None:
        raise _not_found("staffId")
    problems = npi_problems(npi) + (taxonomy_problems(taxonomy) if taxonomy else [])
    if problems:
        raise InputRejected(problems)
    staff.npi, staff.taxonomy = npi, taxonomy
    await session.flush()
    return staff
