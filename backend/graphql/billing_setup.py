"""GraphQL: the clinic's billing setup (tenant admin, biller): providers, payers, rule versions, NPIs."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Any, cast

import strawberry
from sqlalchemy import select
from strawberry.scalars import JSON

from backend.billing import setup_store
from backend.billing.models import BillingProvider, ClaimFormat, Payer, PayerRuleVersion
from backend.billing.providers import FacilityType, ProviderDraft
from backend.graphql.access import allow
from backend.graphql.context import Context
from backend.graphql.errors import InvalidInput, NotFound
from backend.graphql.relay import parse_id
from backend.graphql.transactions import Atomic, or_not_found

ClaimFormatEnum = strawberry.enum(ClaimFormat, name="ClaimFormat")
FacilityTypeEnum = strawberry.enum(
    FacilityType,
    name="FacilityType",
    description="The facility on IOP/PHP claims' type of bill: hospital outpatient 013x or CMHC 076x",
)


@strawberry.type(name="BillingProvider")
class BillingProviderType:
    id: strawberry.ID
    name: str
    npi: str
    tax_id: str
    taxonomy: str
    address_line1: str
    address_line2: str | None
    city: str
    state: str
    postal_code: str
    contact_phone: str
    facility_type: FacilityTypeEnum  # type: ignore[valid-type]
    is_default: bool

    @classmethod
    def of(cls, p: BillingProvider) -> BillingProviderType:
        return cls(
            id=strawberry.ID(str(p.id)),
            name=p.name,
            npi=p.npi,
            tax_id=p.tax_id,
            taxonomy=p.taxonomy,
            address_line1=p.address_line1,
            address_line2=p.address_line2,
            city=p.city,
            state=p.state,
            postal_code=p.postal_code,
            contact_phone=p.contact_phone,
            facility_type=p.facility_type,
            is_default=p.is_default,
        )


@strawberry.type
class PayerRuleVersionType:
    id: strawberry.ID
    effective_from: date
    effective_to: date | None
    rules: JSON
    created_at: datetime

    @classmethod
    def of(cls, v: PayerRuleVersion) -> PayerRuleVersionType:
        return cls(
            id=strawberry.ID(str(v.id)),
            effective_from=v.effective_from,
            effective_to=v.effective_to,
            rules=cast(JSON, dict(v.rules)),
            created_at=v.created_at,
        )


@strawberry.type(name="Payer")
class PayerType:
    id: strawberry.ID
    name: str
    payer_code: str
    claim_format: ClaimFormatEnum  # type: ignore[valid-type]
    filing_indicator: str
    active: bool
    rule_versions: list[PayerRuleVersionType]

    @classmethod
    def of(cls, p: Payer, versions: list[PayerRuleVersion]) -> PayerType:
        return cls(
            id=strawberry.ID(str(p.id)),
            name=p.name,
            payer_code=p.payer_code,
            claim_format=p.claim_format,
            filing_indicator=p.filing_indicator,
            active=p.active,
            rule_versions=[PayerRuleVersionType.of(v) for v in versions],
        )


@strawberry.input
class BillingProviderInput:
    name: str
    npi: str
    tax_id: str
    taxonomy: str
    address_line1: str
    city: str
    state: str
    postal_code: str
    contact_phone: str = strawberry.field(description="10 digits: the billing contact on claims")
    address_line2: str | None = None
    facility_type: FacilityTypeEnum = strawberry.field(  # type: ignore[valid-type]
        default=FacilityType.HOSPITAL_OUTPATIENT,
        description="COMMUNITY_MENTAL_HEALTH_CENTER bills IOP/PHP weeks on type of bill 076x",
    )
    is_default: bool = True

    def draft(self) -> ProviderDraft:
        return ProviderDraft(
            name=self.name,
            npi=self.npi,
            tax_id=self.tax_id,
            taxonomy=self.taxonomy,
            address_line1=self.address_line1,
            address_line2=self.address_line2,
            city=self.city,
            state=self.state,
            postal_code=self.postal_code,
            contact_phone=self.contact_phone,
            facility_type=self.facility_type,
        )


@strawberry.input
class PayerInput:
    name: str
    payer_code: str = strawberry.field(
        description="The payer's id at the clearinghouse (NM109 of loop 2010BB)"
    )
    claim_format: ClaimFormatEnum  # type: ignore[valid-type]
    filing_indicator: str = strawberry.field(default="CI", description="SBR09: CI, MC, MB, HM, BL...")


@strawberry.input
class PayerRuleVersionInput:
    payer_id: strawberry.ID
    effective_from: date
    effective_to: date | None = None
    rules: JSON = strawberry.field(
        description="backend/billing/payer_rules.py PayerRules as JSON (snake_case keys, money as strings)"
    )


@strawberry.type
class BillingProviderResult:
    provider: BillingProviderType


@strawberry.type
class PayerResult:
    payer: PayerType


@strawberry.type
class SetupSaved:
    ok: bool


BillingProviderChange = Annotated[
    BillingProviderResult | InvalidInput, strawberry.union("BillingProviderChange")
]
BillingProviderUpdate = Annotated[
    BillingProviderResult | InvalidInput | NotFound, strawberry.union("BillingProviderUpdate")
]
PayerChange = Annotated[PayerResult | InvalidInput | NotFound, strawberry.union("PayerChange")]
SetupChange = Annotated[SetupSaved | InvalidInput | NotFound, strawberry.union("SetupChange")]


async def _payer(context: Context, payer: Payer) -> PayerType:
    versions = await context.session.scalars(
        select(PayerRuleVersion)
        .where(PayerRuleVersion.payer_id == payer.id)
        .order_by(PayerRuleVersion.effective_from)
    )
    return PayerType.of(payer, list(versions))


@strawberry.type
class BillingSetupQueries:
    @strawberry.field(permission_classes=[allow("billing_setup", "read")])
    async def billing_providers(self, info: strawberry.Info[Context, Any]) -> list[BillingProviderType]:
        rows = await info.context.session.scalars(select(BillingProvider).order_by(BillingProvider.name))
        return [BillingProviderType.of(p) for p in rows]

    @strawberry.field(permission_classes=[allow("billing_setup", "read")])
    async def payers(self, info: strawberry.Info[Context, Any]) -> list[PayerType]:
        """Payers with every version of their rules, oldest first (one query per payer: a short list)."""
        rows = list(await info.context.session.scalars(select(Payer).order_by(Payer.name)))
        return [await _payer(info.context, p) for p in rows]


@strawberry.type
class BillingSetupMutations:
    @strawberry.mutation(permission_classes=[allow("billing_setup", "manage")], extensions=[Atomic()])
    async def add_billing_provider(
        self, info: strawberry.Info[Context, Any], input: BillingProviderInput
    ) -> BillingProviderChange:
        """The billing provider on claims (NPI check digit, 9-digit tax id, taxonomy, address checked)."""
        provider = await setup_store.add_billing_provider(
            info.context.session, input.draft(), input.is_default
        )
        info.context.audit("create", "billing_provider", str(provider.id))
        return BillingProviderResult(provider=BillingProviderType.of(provider))

    @strawberry.mutation(permission_classes=[allow("billing_setup", "manage")], extensions=[Atomic()])
    async def update_billing_provider(
        self, info: strawberry.Info[Context, Any], provider_id: strawberry.ID, input: BillingProviderInput
    ) -> BillingProviderUpdate:
        """A provider's details corrected (a move, a new facility type), checked as when added; sent
        batches keep what they carried."""
        pid = parse_id(provider_id, "providerId")
        provider = await or_not_found(
            setup_store.update_billing_provider(info.context.session, pid, input.draft(), input.is_default)
        )
        if isinstance(provider, NotFound):
            return provider
        info.context.audit("update", "billing_provider", str(provider.id))
        return BillingProviderResult(provider=BillingProviderType.of(provider))

    @strawberry.mutation(permission_classes=[allow("billing_setup", "manage")], extensions=[Atomic()])
    async def add_payer(self, info: strawberry.Info[Context, Any], input: PayerInput) -> PayerChange:
        payer = await setup_store.add_payer(
            info.context.session,
            input.name,
            input.payer_code,
            ClaimFormat(input.claim_format),
            input.filing_indicator,
        )
        info.context.audit("create", "payer", str(payer.id))
        return PayerResult(payer=await _payer(info.context, payer))

    @strawberry.mutation(permission_classes=[allow("billing_setup", "manage")], extensions=[Atomic()])
    async def add_payer_rule_version(
        self, info: strawberry.Info[Context, Any], input: PayerRuleVersionInput
    ) -> PayerChange:
        """A version of the payer's rules in force from `effectiveFrom`: claims are priced by the version
        in force on their date of service; versions of one payer never overlap."""
        principal = info.context.require_principal()
        payer_id = parse_id(input.payer_id, "payerId")
        version = await or_not_found(
            setup_store.add_rule_version(
                info.context.session,
                payer_id,
                input.effective_from,
                input.effective_to,
                input.rules,
                principal.user_id,
            )
        )
        if isinstance(version, NotFound):
            return version
        info.context.audit("create", "payer_rule_version", str(version.id))
        payer = await info.context.session.get_one(Payer, payer_id)
        return PayerResult(payer=await _payer(info.context, payer))

    @strawberry.mutation(permission_classes=[allow("billing_setup", "manage")], extensions=[Atomic()])
    async def set_coverage_payer(
        self, info: strawberry.Info[Context, Any], coverage_id: strawberry.ID, payer_id: strawberry.ID
    ) -> SetupChange:
        """Point a member's coverage at a configured payer (claims and eligibility checks go there)."""
        coverage = await or_not_found(
            setup_store.set_coverage_payer(
                info.context.session, parse_id(coverage_id, "coverageId"), parse_id(payer_id, "payerId")
            )
        )
        if isinstance(coverage, NotFound):
            return coverage
        info.context.audit("update", "coverage", str(coverage.id), coverage.client_id)
        return SetupSaved(ok=True)

    @strawberry.mutation(permission_classes=[allow("billing_setup", "manage")], extensions=[Atomic()])
    async def set_staff_npi(
        self,
        info: strawberry.Info[Context, Any],
        staff_id: strawberry.ID,
        npi: str,
        taxonomy: str | None = None,
    ) -> SetupChange:
        """A facilitator's individual NPI (and taxonomy), for the rendering provider on claims."""
        staff = await or_not_found(
            setup_store.set_staff_npi(info.context.session, parse_id(staff_id, "staffId"), npi, taxonomy)
        )
        if isinstance(staff, NotFound):
            return staff
        info.context.audit("update", "staff", str(staff.id))
        return SetupSaved(ok=True)
