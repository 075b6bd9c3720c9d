"""Ranking waitlist candidates for one open slot: score, explanation, hard limits."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime, time, timedelta

from backend.waitlist.ranking import Candidate, ProgramContext, SessionSlot, rank, session_slots
from backend.waitlist.rules import AvailabilityWindow, Urgency

TODAY = date(2026, 11, 23)
MONDAY_EVENING = SessionSlot(0, time(18), time(19, 30))


def candidate(days_waiting: int = 0, **kwargs: object) -> Candidate:
    return Candidate(
        entry_id=uuid.uuid4(),
        client_id=uuid.uuid4(),
        added_on=TODAY - timedelta(days=days_waiting),
        **kwargs,  # type: ignore[arg-type]
    )


def test_every_component_explains_its_points_and_they_sum_to_the_score() -> None:
    """The explanation names each component with points, maximum and reason."""
    program = ProgramContext(fit_prefixes=("F33",), session_slots=(MONDAY_EVENING,))
    c = candidate(
        90,
        urgency=Urgency.SOON,
        diagnoses=("F33.1",),
        availability=(AvailabilityWindow(0, time(17), time(21)),),
    )
    [ranked] = rank([c], program, TODAY)
    by_name = {s.name: s for s in ranked.explanation}
    assert set(by_name) == {"fit", "availability", "urgency", "waiting", "newcomers", "acuity_mix"}
    assert by_name["fit"].points == 30 and "F33.1" in by_name["fit"].reason
    assert by_name["availability"].points == 25
    assert by_name["urgency"].points == 10
    assert by_name["waiting"].points == 7.5 and by_name["waiting"].reason == "waiting 90 days"
    assert ranked.score == sum(s.points for s in ranked.explanation) and ranked.rank == 1
    assert sum(s.max_points for s in ranked.explanation) == 100


def test_fit_and_availability_outrank_time_waiting() -> None:
    """A fitting, available client added today beats a non-fitting one waiting six months."""
    program = ProgramContext(fit_prefixes=("F43.1",), session_slots=(MONDAY_EVENING,))
    fits = candidate(0, diagnoses=("F43.10",), availability=(AvailabilityWindow(0, time(18), time(19, 30)),))
    waited = candidate(180, diagnoses=("F90.0",), availability=(AvailabilityWindow(1, time(18), time(20)),))
    ranked = rank([waited, fits], program, TODAY)
    assert [r.candidate for r in ranked] == [fits, waited]
    assert ranked[1].explanation[0].points == 0


def test_urgency_outranks_waiting_among_equal_fit() -> None:
    """An urgent referral from today beats a routine one waiting 100 days."""
    urgent = candidate(0, urgency=Urgency.URGENT)
    routine = candidate(100)
    assert [r.candidate for r in rank([routine, urgent], ProgramContext(), TODAY)] == [urgent, routine]


def test_equal_scores_go_to_the_longer_wait() -> None:
    """Ties are broken by date added (beyond the 180-day waiting cap)."""
    older, newer = candidate(400), candidate(200)
    assert [r.candidate for r in rank([newer, older], ProgramContext(), TODAY)] == [older, newer]


def test_availability_scores_the_share_of_session_times_covered() -> None:
    """Covering one of two weekly sessions earns half the availability points."""
    thursday = SessionSlot(3, time(18), time(19, 30))
    program = ProgramContext(session_slots=(MONDAY_EVENING, thursday))
    c = candidate(availability=(AvailabilityWindow(3, time(17), time(20)),))
    [ranked] = rank([c], program, TODAY)
    assert ranked.explanation[1].points == 12.5 and "1 of 2" in ranked.explanation[1].reason


def test_window_must_cover_the_whole_session() -> None:
    """Available until 19:00 does not cover a session ending 19:30."""
    program = ProgramContext(session_slots=(MONDAY_EVENING,))
    c = candidate(availability=(AvailabilityWindow(0, time(17), time(19)),))
    assert rank([c], program, TODAY)[0].explanation[1].points == 0


def test_session_times_are_read_in_the_program_zone_across_dst() -> None:
    """An 18:00 New York group is Monday 18:00 in both EDT (22:00Z) and EST (23:00Z)."""
    summer = datetime(2026, 10, 26, 22, 0, tzinfo=UTC)
    winter = datetime(2026, 11, 9, 23, 0, tzinfo=UTC)
    spans = [(summer, summer + timedelta(minutes=90)), (winter, winter + timedelta(minutes=90))]
    assert session_slots(spans, "America/New_York") == (MONDAY_EVENING,)


def test_contraindication_blocks_with_the_reason_listed() -> None:
    """A contraindicated client stays in the list, unranked, with the blocking reason."""
    blocked = candidate(300, urgency=Urgency.URGENT, contraindications=("active_psychosis",))
    other = candidate(1)
    ranked = rank([blocked, other], ProgramContext(), TODAY)
    assert [r.candidate for r in ranked] == [other, blocked]
    assert ranked[1].rank is None and ranked[1].blocked_by == ("contraindication: active_psychosis",)


def test_do_not_group_together_excludes_a_separated_client() -> None:
    """A client separated from a current member is ineligible; others are not affected."""
    member = uuid.uuid4()
    separated, free = candidate(50), candidate(10)
    program = ProgramContext(
        member_ids=frozenset({member}), separations={separated.client_id: frozenset({member})}
    )
    ranked = rank([separated, free], program, TODAY)
    assert ranked[0].candidate == free and ranked[0].rank == 1
    assert ranked[1].blocked_by == ("separation from a current member",)


def test_separation_from_a_non_member_does_not_block() -> None:
    """A separation only matters when the other client is in (or joining) the group."""
    c = candidate()
    program = ProgramContext(separations={c.client_id: frozenset({uuid.uuid4()})})
    assert rank([c], program, TODAY)[0].eligible


def test_high_acuity_cap_blocks_only_high_acuity_candidates() -> None:
    """At the cap, a high-acuity client is ineligible and a low-acuity one is ranked."""
    high, low = candidate(100, high_acuity=True), candidate(1)
    program = ProgramContext(high_acuity_members=2, max_high_acuity=2)
    ranked = rank([high, low], program, TODAY)
    assert ranked[0].candidate == low
    assert ranked[1].blocked_by == ("high-acuity cap reached (2 of 2)",)


def test_acuity_mix_lowers_high_acuity_candidates_below_the_cap() -> None:
    """With 1 of 2 high-acuity places used, a high-acuity client earns half the acuity points."""
    high = candidate(high_acuity=True)
    program = ProgramContext(high_acuity_members=1, max_high_acuity=2)
    [ranked] = rank([high], program, TODAY)
    assert ranked.explanation[5].points == 2.5 and ranked.eligible


def test_new_member_clustering_lowers_the_score_to_zero_at_the_cap() -> None:
    """Newcomer points fall as members join and are zero once the per-session cap is reached."""
    c = candidate()
    points = [
        rank([c], ProgramContext(new_members=n, max_new_members_per_session=2), TODAY)[0].explanation[4]
        for n in (0, 1, 2)
    ]
    assert [p.points for p in points] == [5, 2.5, 0]
    assert "cap 2 reached" in points[2].reason
