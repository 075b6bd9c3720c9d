"""The GraphQL schema: root types merged from the domain modules, plus production limits."""

from __future__ import annotations

import logging
from collections.abc import Callable

import strawberry
from graphql import GraphQLError
from strawberry.extensions import (
    AddValidationRules,
    DisableIntrospection,
    MaskErrors,
    MaxAliasesLimiter,
    MaxTokensLimiter,
    ParserCache,
    QueryDepthLimiter,
    SchemaExtension,
    ValidationCache,
)
from strawberry.tools import merge_types
from strawberry.types import ExecutionContext

from backend.graphql.access import check_every_root_field_guarded
from backend.graphql.auth import AuthMutations
from backend.graphql.authorizations import AuthorizationMutations, AuthorizationQueries
from backend.graphql.billing_claims import BillingClaimMutations, BillingClaimQueries
from backend.graphql.billing_reports import BillingReportQueries
from backend.graphql.billing_setup import BillingSetupMutations, BillingSetupQueries
from backend.graphql.clients import ClientMutations, ClientQueries
from backend.graphql.clients_types import ClientNode
from backend.graphql.clinic import ClinicMutations, ClinicQueries
from backend.graphql.compliance import ComplianceMutations, ComplianceQueries
from backend.graphql.disclosures import DisclosureMutations, DisclosureQueries
from backend.graphql.documentation_reads import DocumentationReadQueries
from backend.graphql.eligibility import EligibilityMutations, EligibilityQueries
from backend.graphql.enrollment import EnrollmentMutations, EnrollmentQueries
from backend.graphql.errors import AccessError
from backend.graphql.intake import IntakeMutations, IntakeQueries
from backend.graphql.note_templates import NoteTemplateMutations, NoteTemplateQueries
from backend.graphql.part2 import Part2Mutations, Part2Queries
from backend.graphql.programs import ProgramMutations, ProgramNode, ProgramQueries
from backend.graphql.scheduling import SchedulingMutations, SchedulingQueries
from backend.graphql.session_record import SessionRecordMutations, SessionRecordQueries
from backend.graphql.staff import StaffMutations, StaffNode, StaffQueries
from backend.graphql.transactions import RequestTransaction
from backend.graphql.treatment import TreatmentMutations, TreatmentQueries
from backend.graphql.users import UserMutations, UserQueries
from backend.graphql.viewer import ViewerQueries
from backend.graphql.waitlist import WaitlistMutations, WaitlistQueries
from backend.graphql.waitlist_types import WaitlistEntryNode

log = logging.getLogger(__name__)

Query = merge_types(
    "Query",
    (
        ViewerQueries,
        ClinicQueries,
        UserQueries,
        ClientQueries,
        StaffQueries,
        ProgramQueries,
        SchedulingQueries,
        WaitlistQueries,
        IntakeQueries,
        EnrollmentQueries,
        SessionRecordQueries,
        DocumentationReadQueries,
        NoteTemplateQueries,
        TreatmentQueries,
        AuthorizationQueries,
        BillingSetupQueries,
        BillingClaimQueries,
        BillingReportQueries,
        EligibilityQueries,
        Part2Queries,
        DisclosureQueries,
        ComplianceQueries,
    ),
)
Mutation = merge_types(
    "Mutation",
    (
        AuthMutations,
        ClinicMutations,
        UserMutations,
        ClientMutations,
        StaffMutations,
        ProgramMutations,
        SchedulingMutations,
        WaitlistMutations,
        IntakeMutations,
        EnrollmentMutations,
        SessionRecordMutations,
        NoteTemplateMutations,
        TreatmentMutations,
        AuthorizationMutations,
        BillingSetupMutations,
        BillingClaimMutations,
        EligibilityMutations,
        Part2Mutations,
        DisclosureMutations,
        ComplianceMutations,
    ),
)

MAX_DEPTH = 10
MAX_ALIASES = 20
MAX_TOKENS = 2000


def _mask(error: GraphQLError) -> bool:
    """Show access, validation and limit errors; hide every exception (its text may quote PHI)."""
    original = error.original_error
    return original is not None and not isinstance(original, AccessError | GraphQLError)


class EnsembleSchema(strawberry.Schema):
    def process_errors(
        self, errors: list[GraphQLError], execution_context: ExecutionContext | None = None
    ) -> None:
        """Log where an error happened and its class, never its text (SQL errors quote row values)."""
        for error in errors:
            original = error.original_error
            kind = type(original).__name__ if original is not None else "GraphQLError"
            log.error("graphql error %s at %s", kind, ".".join(str(p) for p in error.path or ()))


#: Distinct operation texts whose parse and validation are kept (the clients' operations are a few
#: dozen; bounded so unknown texts cannot grow memory).
OPERATION_CACHE_SIZE = 512


def build_schema(production: bool, max_depth: int = MAX_DEPTH) -> strawberry.Schema:
    # The limits' validation rules are built once: validation results are cached per (document,
    # rules), and limiters built per request would make new rule classes and miss every time
    # (validating a documentation view's operation was a quarter of its time).
    limits = [
        *QueryDepthLimiter(max_depth=max_depth).validation_rules,
        *MaxAliasesLimiter(max_alias_count=MAX_ALIASES).validation_rules,
    ]
    # Factories, not instances: each request gets fresh extension state.
    extensions: list[Callable[[], SchemaExtension] | type[SchemaExtension]] = [
        RequestTransaction,
        lambda: MaxTokensLimiter(max_token_count=MAX_TOKENS),
        lambda: ParserCache(maxsize=OPERATION_CACHE_SIZE),
        lambda: AddValidationRules(limits),
        lambda: ValidationCache(maxsize=OPERATION_CACHE_SIZE),
        # Masked in every environment: an unexpected exception's text may quote PHI.
        lambda: MaskErrors(should_mask_error=_mask, error_message="Internal error; nothing stored."),
    ]
    if production:
        extensions.append(DisableIntrospection)
    schema = EnsembleSchema(
        query=Query,
        mutation=Mutation,
        types=[ClientNode, ProgramNode, StaffNode, WaitlistEntryNode],
        extensions=extensions,
    )
    check_every_root_field_guarded(schema)
    return schema
