"""GraphQL types of the waitlist: entries, their details input, the ranking and its explanation."""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from datetime import date, datetime, time
from typing import Any, cast

import strawberry
from sqlalchemy import select
from strawberry import relay
from strawberry.dataloader import DataLoader
from strawberry.scalars import JSON

from backend.graphql.access import ensure_allowed
from backend.graphql.clients_types import CLIENT_FIELD, ClientNode, client_of
from backend.graphql.context import Context
from backend.waitlist.models import WaitlistEntry
from backend.waitlist.ranking import RankedCandidate
from backend.waitlist.rules import AvailabilityWindow, Urgency, WaitlistDetails, WaitlistStatus
from backend.waitlist.snapshot import Ranking

UrgencyType = strawberry.enum(Urgency, name="Urgency")
WaitlistStatusType = strawberry.enum(WaitlistStatus, name="WaitlistStatus")


@strawberry.type(name="AvailabilityWindow")
class AvailabilityWindowType:
    weekday: int = strawberry.field(description="0 (Monday) to 6 (Sunday), in the program's time zone")
    start: time
    end: time


@strawberry.input
class AvailabilityWindowInput:
    weekday: int
    start: time
    end: time

    def to_window(self) -> AvailabilityWindow:
        return AvailabilityWindow(self.weekday, self.start, self.end)


@strawberry.input
class WaitlistDetailsInput:
    """Intake details of a referral (screening answers come from submitIntake)."""

    urgency: UrgencyType = Urgency.ROUTINE  # type: ignore[valid-type]
    diagnoses: list[str] = strawberry.field(default_factory=list, description="ICD-10-CM codes, e.g. F33.1")
    availability: list[AvailabilityWindowInput] = strawberry.field(default_factory=list)
    referrer_name: str | None = None
    referrer_contact: str | None = strawberry.field(default=None, description="email or phone")
    contraindications: list[str] = strawberry.field(default_factory=list)
    high_acuity: bool = False

    def to_details(self) -> WaitlistDetails:
        return WaitlistDetails(
            urgency=Urgency(self.urgency),
            diagnoses=tuple(self.diagnoses),
            availability=tuple(w.to_window() for w in self.availability),
            referrer_name=self.referrer_name,
            referrer_contact=self.referrer_contact,
            contraindications=tuple(self.contraindications),
            high_acuity=self.high_acuity,
        )


@strawberry.type(name="WaitlistEntry")
class WaitlistEntryNode(relay.Node):
    id: relay.NodeID[str]
    program_id: strawberry.ID
    client_id: strawberry.ID
    status: WaitlistStatusType  # type: ignore[valid-type]
    added_on: date
    urgency: UrgencyType  # type: ignore[valid-type]
    diagnoses: list[str]
    availability: list[AvailabilityWindowType]
    referrer_name: str | None
    referrer_contact: str | None
    screening: JSON
    contraindications: list[str]
    high_acuity: bool
    offered_at: datetime | None
    offer_expires_at: datetime | None
    last_offer_expired_at: datetime | None
    enrollment_id: strawberry.ID | None

    @strawberry.field(description=CLIENT_FIELD)
    async def client(self, info: strawberry.Info[Context, Any]) -> ClientNode | None:
        return await client_of(info, self.client_id)

    @classmethod
    def of(cls, entry: WaitlistEntry) -> WaitlistEntryNode:
        return cls(
            id=str(entry.id),
            program_id=strawberry.ID(str(entry.program_id)),
            client_id=strawberry.ID(str(entry.client_id)),
            status=entry.status,
            added_on=entry.added_on,
            urgency=entry.urgency,
            diagnoses=list(entry.diagnoses or []),
            availability=[
                AvailabilityWindowType(weekday=w.weekday, start=w.start, end=w.end)
                for w in (AvailabilityWindow.from_json(v) for v in entry.availability or [])
            ],
            referrer_name=entry.referrer_name,
            referrer_contact=entry.referrer_contact,
            screening=cast(JSON, dict(entry.screening or {})),
            contraindications=list(entry.contraindications or []),
            high_acuity=entry.high_acuity,
            offered_at=entry.offered_at,
            offer_expires_at=entry.offer_expires_at,
            last_offer_expired_at=entry.last_offer_expired_at,
            enrollment_id=strawberry.ID(str(entry.enrollment_id)) if entry.enrollment_id else None,
        )

    @classmethod
    async def resolve_nodes(  # type: ignore[override]
        cls, *, info: strawberry.Info, node_ids: Iterable[str], required: bool = False
    ) -> list[WaitlistEntryNode | None]:
        ensure_allowed(info, "waitlist", "read")
        ids: list[uuid.UUID | None] = []
        for raw in node_ids:
            try:
                ids.append(uuid.UUID(raw))
            except ValueError:
                ids.append(None)
        loader = info.context.loader("waitlist_entry_by_id", entry_loader)
        found = await loader.load_many([x for x in ids if x is not None])
        by_id = {e.id: e for e in found if e is not None}
        nodes: list[WaitlistEntryNode | None] = []
        for entry_id in ids:
            entry = by_id.get(entry_id) if entry_id is not None else None
            if entry is not None:
                info.context.audit("read", "waitlist_entry", str(entry.id), entry.client_id)
            nodes.append(cls.of(entry) if entry is not None else None)
        return nodes


def entry_loader(context: Context) -> DataLoader[uuid.UUID, WaitlistEntry | None]:
    async def load(ids: list[uuid.UUID]) -> list[WaitlistEntry | None]:
        rows = await context.session.scalars(select(WaitlistEntry).where(WaitlistEntry.id.in_(ids)))
        by_id = {e.id: e for e in rows}
        return [by_id.get(i) for i in ids]

    return DataLoader(load_fn=load)


@strawberry.type
class ScoreComponentType:
    name: str
    points: float
    max_points: float
    reason: str


@strawberry.type
class RankedCandidateType:
    rank: int | None = strawberry.field(description="1 = offered next; null when ineligible")
    score: float
    eligible: bool
    blocked_by: list[str]
    explanation: list[ScoreComponentType]
    estimated_wait_weeks: int | None = strawberry.field(description="null when unknown (no history)")
    estimate_basis: str
    entry: WaitlistEntryNode


@strawberry.type
class WaitlistRanking:
    open_places: int
    admissions_per_week: float
    waiting: int
    candidates: list[RankedCandidateType]


def ranking_type(
    ranking: Ranking, shown: list[RankedCandidate], entries: dict[uuid.UUID, WaitlistEntry]
) -> WaitlistRanking:
    candidates = []
    for ranked in shown:
        estimate = ranking.estimate(ranked)
        candidates.append(
            RankedCandidateType(
                rank=ranked.rank,
                score=ranked.score,
                eligible=ranked.eligible,
                blocked_by=list(ranked.blocked_by),
                explanation=[
                    ScoreComponentType(name=c.name, points=c.points, max_points=c.max_points, reason=c.reason)
                    for c in ranked.explanation
                ],
                estimated_wait_weeks=estimate.weeks,
                estimate_basis=estimate.basis,
                entry=WaitlistEntryNode.of(entries[ranked.candidate.entry_id]),
            )
        )
    return WaitlistRanking(
        open_places=ranking.open_places,
        admissions_per_week=round(ranking.admissions_per_week, 3),
        waiting=ranking.waiting,
        candidates=candidates,
    )
