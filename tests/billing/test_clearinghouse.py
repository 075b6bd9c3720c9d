"""The file-drop clearinghouse and the simulated payer: 837 out, 999/277CA/835 back; 270 out, 271 back."""

from __future__ import annotations

import threading
import time
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path

import pytest

from backend.billing.clearinghouse import (
    AckStatus,
    ClaimAckStatus,
    FileDropClearinghouse,
    ResponseKind,
    parse_277ca,
    parse_999,
)
from backend.billing.eligibility import (
    EligibilityOutcome,
    EligibilityRequest,
    Envelope,
    eligibility_outcome,
    parse_271,
    write_270,
)
from backend.billing.remittance import Outcome, parse_835
from backend.billing.x12.claim_837i import write_837i
from backend.billing.x12.claim_837p import write_837p
from backend.billing.x12.validation import pyx12_errors
from tests.billing.simulated_clearinghouse import SimulatedClearinghouse
from tests.billing.test_claims_837i import iop_week
from tests.billing.test_claims_837p import batch_of, group_claim, member


def three_members() -> str:
    return write_837p(
        batch_of(
            (member("XJH400211", "Lindqvist"), group_claim("GRP-240313-01")),
            (member("DENY400212", "Okonkwo"), group_claim("GRP-240313-02")),
            (member("REJ400213", "Marsh"), group_claim("GRP-240313-03")),
        )
    )


def eligibility_request(member_id: str) -> str:
    return write_270(
        EligibilityRequest(
            Envelope("LAKESIDE01", "CLEARHOUSE", 812, datetime(2024, 3, 4, 8, 15)),
            "Northwoods Health",
            "NWH01",
            "Lakeside Group Therapy",
            "1987654328",
            member_id,
            "Lindqvist",
            "Maren",
            date(1979, 11, 2),
            date(2024, 3, 13),
            "ELG-812",
            "1842719053",
        )
    )


def answered(root: Path) -> dict[ResponseKind, list[str]]:
    clearinghouse = FileDropClearinghouse(root)
    SimulatedClearinghouse(root).process()
    out: dict[ResponseKind, list[str]] = {}
    for response in clearinghouse.responses():
        out.setdefault(response.kind, []).append(response.text)
    return out


def test_a_batch_is_written_whole_into_the_outbox_under_a_name_without_phi(tmp_path: Path) -> None:
    """Submission id = timestamp, kind, batch id; the file is complete and no temporary file is left."""
    clearinghouse = FileDropClearinghouse(tmp_path)
    text = three_members()
    submission = clearinghouse.submit("B000381", text)
    (written,) = (tmp_path / "outbox").iterdir()
    assert written.name == f"{submission}.x12"
    assert "-837P-B000381-" in submission
    assert not any(word in submission.upper() for word in ("LINDQVIST", "XJH400211", "MAREN"))
    assert written.read_text() == text


@pytest.mark.parametrize(("name", "text"), [("Lindqvist, Maren", None), ("B1", "ISA*not an 837")])
def test_a_batch_name_that_could_carry_phi_or_a_non_837_is_refused(
    tmp_path: Path, name: str, text: str | None
) -> None:
    """Names with spaces or commas (a patient's name) and anything but an 837 never reach the outbox."""
    with pytest.raises(ValueError):
        FileDropClearinghouse(tmp_path).submit(name, text or three_members())
    assert list((tmp_path / "outbox").iterdir()) == []


def test_responses_are_typed_by_content_and_acknowledged_into_processed(tmp_path: Path) -> None:
    """Half-written and unknown files are not offered; acknowledging moves a response once, idempotently."""
    clearinghouse = FileDropClearinghouse(tmp_path)
    clearinghouse.submit("B000381", three_members())
    SimulatedClearinghouse(tmp_path).process()
    (tmp_path / "inbox" / ".incoming.x12.tmp").write_text("ISA*partial")
    (tmp_path / "inbox" / "notes.txt").write_text("hello")
    responses = list(clearinghouse.responses())
    assert sorted(r.kind for r in responses) == ["277CA", "835", "999"]
    assert (tmp_path / "unrecognized" / "notes.txt").exists()
    for response in responses:
        clearinghouse.acknowledge(response)
        clearinghouse.acknowledge(response)
    assert list(clearinghouse.responses()) == []
    assert len(list((tmp_path / "processed").iterdir())) == 3


def test_simulated_payer_pays_one_member_denies_one_and_rejects_one(tmp_path: Path) -> None:
    """999 accepted; the 277CA rejects the REJ member; the 835 pays 80% and denies DENY with CO-50/N115."""
    FileDropClearinghouse(tmp_path).submit("B000381", three_members())
    responses = answered(tmp_path)
    for kind in (ResponseKind.ACK_999, ResponseKind.CLAIM_ACK_277CA, ResponseKind.REMITTANCE_835):
        assert pyx12_errors(responses[kind][0]) == []

    (group,) = parse_999(responses[ResponseKind.ACK_999][0])
    assert (group.status, group.group_control_number, group.transactions[0].status) == (
        AckStatus.ACCEPTED,
        "38",
        AckStatus.ACCEPTED,
    )
    acks = parse_277ca(responses[ResponseKind.CLAIM_ACK_277CA][0])
    assert not acks.batch_rejected
    assert [(c.claim_id, c.status) for c in acks.claims] == [
        ("GRP-240313-01", ClaimAckStatus.ACCEPTED),
        ("GRP-240313-02", ClaimAckStatus.ACCEPTED),
        ("GRP-240313-03", ClaimAckStatus.REJECTED),
    ]
    remittance = parse_835(responses[ResponseKind.REMITTANCE_835][0])
    assert remittance.problems == ()
    assert [(c.claim_id, c.outcome, c.paid) for c in remittance.claims] == [
        ("GRP-240313-01", Outcome.PAID, Decimal("56.00")),
        ("GRP-240313-02", Outcome.DENIED, Decimal("0.00")),
    ]
    assert remittance.claims[1].reason_codes == ("CO-50", "N115")
    assert remittance.claims[0].payer_claim_number == acks.claims[0].payer_claim_number


def test_an_iop_week_on_an_837i_is_paid_per_revenue_code_line(tmp_path: Path) -> None:
    """Institutional lines come back as SVC with HCPCS S9480 and revenue code 0905; the 835 passes pyx12."""
    FileDropClearinghouse(tmp_path).submit("B000382", write_837i(batch_of((member(), iop_week()))))
    text = answered(tmp_path)[ResponseKind.REMITTANCE_835][0]
    assert pyx12_errors(text) == []
    (claim,) = parse_835(text).claims
    assert claim.outcome is Outcome.PAID
    assert {(line.procedure, line.revenue_code) for line in claim.lines} == {("S9480", "0905")}
    assert claim.paid == (claim.charge * Decimal("0.8")).quantize(Decimal("0.01"))


def test_a_batch_pyx12_refuses_gets_a_rejecting_999_and_nothing_else(tmp_path: Path) -> None:
    """A wrong SE count: the 999 rejects the transaction set, no 277CA or 835 follows."""
    text = three_members()
    broken = text.replace(f"SE*{text.split('SE*')[1].split('*')[0]}*", "SE*3*")
    FileDropClearinghouse(tmp_path).submit("B000383", broken)
    responses = answered(tmp_path)
    assert list(responses) == [ResponseKind.ACK_999]
    (group,) = parse_999(responses[ResponseKind.ACK_999][0])
    assert (group.status, group.accepted_count) == (AckStatus.REJECTED, 0)


@pytest.mark.parametrize(
    ("member_id", "outcome"),
    [
        ("XJH400211", EligibilityOutcome.ACTIVE),
        ("INACTIVE01", EligibilityOutcome.INACTIVE),
        ("EXHAUSTED01", EligibilityOutcome.INACTIVE),
        ("NOTFOUND01", EligibilityOutcome.UNKNOWN),
    ],
)
def test_an_eligibility_check_is_answered_by_a_271_for_that_member(
    tmp_path: Path, member_id: str, outcome: EligibilityOutcome
) -> None:
    """The 271 echoes our trace number and member id, and its outcome follows the payer's answer."""
    submission = FileDropClearinghouse(tmp_path).check_eligibility(eligibility_request(member_id))
    assert "-270-ICN000000812-" in submission
    (text,) = answered(tmp_path)[ResponseKind.ELIGIBILITY_271]
    result = parse_271(text)
    assert (result.trace_number, result.member_id) == ("ELG-812", member_id)
    assert eligibility_outcome(result)[0] is outcome


def test_a_999_rejecting_one_transaction_names_its_error_codes() -> None:
    """IK3/IK4/IK5 codes are kept per transaction set; AK9 P means the group was partly accepted."""
    text = "~".join(
        [
            f"ISA*00*{'':10}*00*{'':10}*ZZ*{'CLEARHOUSE':15}*ZZ*{'LAKESIDE01':15}*240318*0931*^*00501*000000077*0*T*:",
            "GS*FA*CLEARHOUSE*LAKESIDE01*20240318*0931*77*X*005010X231A1",
            "ST*999*0001*005010X231A1",
            "AK1*HC*38*005010X222A1",
            "AK2*837*0001*005010X222A1",
            "IK5*A",
            "AK2*837*0002*005010X222A1",
            "IK3*CLM*22**8",
            "IK4*2**7*70X",
            "IK5*R*5",
            "AK9*P*2*2*1",
            "SE*11*0001",
            "GE*1*77",
            "IEA*1*000000077",
        ]
    )
    (group,) = parse_999(text)
    assert group.status is AckStatus.PARTIALLY_ACCEPTED
    assert [(t.control_number, t.status, t.error_codes) for t in group.transactions] == [
        ("0001", AckStatus.ACCEPTED, ()),
        ("0002", AckStatus.REJECTED, ("8", "7", "5")),
    ]


def test_files_vanishing_while_the_inbox_is_listed_are_skipped_not_an_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The clearinghouse renames its temporary file (and another poller acknowledges a response) between
    the listing and the read: polling answers the responses still there instead of failing."""
    clearinghouse = FileDropClearinghouse(tmp_path)
    clearinghouse.check_eligibility(eligibility_request("XJH400211"))
    SimulatedClearinghouse(tmp_path).process()
    (answered,) = clearinghouse.inbox.iterdir()
    listing = [
        clearinghouse.inbox / ".ICN2-271.x12.tmp",  # renamed to its final name since
        clearinghouse.inbox / "ICN0-271.x12",  # acknowledged since
        answered,
    ]
    monkeypatch.setattr(type(clearinghouse.inbox), "iterdir", lambda self: iter(listing))
    assert [r.name for r in clearinghouse.responses()] == [answered.name]


def test_a_watching_simulator_answers_without_being_driven(tmp_path: Path) -> None:
    """Run in a thread, the simulator picks up a submission by itself (how end-to-end tests use it)."""
    clearinghouse = FileDropClearinghouse(tmp_path)
    stop = threading.Event()
    worker = threading.Thread(target=SimulatedClearinghouse(tmp_path).watch, args=(stop, 0.01))
    worker.start()
    try:
        clearinghouse.check_eligibility(eligibility_request("XJH400211"))
        deadline = time.monotonic() + 10
        while not list(clearinghouse.responses()) and time.monotonic() < deadline:
            time.sleep(0.01)
    finally:
        stop.set()
        worker.join()
    assert [r.kind for r in clearinghouse.responses()] == [ResponseKind.ELIGIBILITY_271]
