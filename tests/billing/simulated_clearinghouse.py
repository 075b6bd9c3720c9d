"""A local clearinghouse and payer for tests: answers what a `FileDropClearinghouse` sends, by simple rules.

It takes each file from `root/outbox` (moving it to `root/clearinghouse`, as a real one removes what it
picked up) and writes its answers atomically into `root/inbox`, named after the submission:

- an 837 batch: a 999 (rejected, and nothing else, when pyx12 finds errors in it), a 277CA, and one 835
  per payer for the claims accepted;
- a 270: a 271 per member.

Rules, keyed on the member id (test data only):

| member id starts with | 277CA                 | 835 or 271                                                 |
|-----------------------|-----------------------|------------------------------------------------------------|
| `REJ`                 | rejected A7:164:IL    | not adjudicated                                            |
| `DENY`                | accepted              | denied: CLP02 4, line CAS CO-50, LQ*HE*N115                |
| anything else         | accepted              | paid `pay_rate` (80%) of each line, the rest PR-2          |
| `INACTIVE`            |                       | 271: EB*6 (inactive)                                       |
| `NOTFOUND`            |                       | 271: AAA 75 (member not found)                             |
| `EXHAUSTED`           |                       | 271: active, visit limit 30, 0 remaining                   |
| anything else         |                       | 271: active, copay 25, coinsurance 20%, 30 visits, 18 left |

Run `process()` for one pass (what tests do), or `watch(stop)` in a thread. `readjudicate(claim_id,
pay_rate)` answers a claim it paid again, as payers do: one 835 with the reversal of the first payment
(CLP02 22, amounts negated) and, unless `pay_rate` is None, the corrected payment at the new rate.
"""

from __future__ import annotations

import threading
import zlib
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path

from backend.billing.clearinghouse import transaction_kind, write_atomically
from backend.billing.x12.validation import pyx12_errors

CENT = Decimal("0.01")
PAYER_NAME_DEFAULT = "SIMULATED PAYER"
FILING_TO_CLP06 = {"MA": "MA", "MB": "MB", "MC": "MC", "HM": "HM", "CH": "CH", "VA": "VA", "WC": "WC"}


@dataclass
class _Line:
    procedure: str  # the SV1/SV2 composite, e.g. "HC:90853:HQ"
    charge: Decimal
    units: str
    revenue_code: str | None
    service_date: str | None = None


@dataclass
class _Claim:
    claim_id: str
    charge: Decimal
    facility: str  # CLM05-1: place of service, or the type of bill's first two digits
    frequency: str
    member_id: str
    last_name: str
    first_name: str
    payer_name: str
    payer_id: str
    filing: str
    lines: list[_Line] = field(default_factory=list)
    statement: str | None = None  # DTP*434 RD8 on institutional claims


@dataclass
class _Batch:
    sender_id: str = ""
    receiver_id: str = ""
    group_control: str = ""
    version: str = ""
    st_control: str = ""
    reference: str = ""  # BHT03
    billing_name: str = ""
    billing_npi: str = ""
    claims: list[_Claim] = field(default_factory=list)


class SimulatedClearinghouse:
    def __init__(
        self,
        root: Path,
        *,
        today: date = date(2024, 4, 2),
        pay_rate: Decimal = Decimal("0.80"),
        validate: bool = True,
    ) -> None:
        self.root, self.today, self.pay_rate, self.validate = root, today, pay_rate, validate
        self.picked_up = root / "clearinghouse"
        self.picked_up.mkdir(parents=True, exist_ok=True)
        (root / "inbox").mkdir(parents=True, exist_ok=True)
        self._control = 900000
        self._payer_claims = 0
        # Each claim paid: its batch and the rate it was paid at (what a reversal takes back).
        self._paid: dict[str, tuple[_Batch, _Claim, Decimal | None]] = {}

    def process(self) -> int:
        """Answer every file waiting in the outbox; returns how many were taken."""
        taken = 0
        for path in sorted((self.root / "outbox").glob("*.x12")):
            text = path.read_text(encoding="utf-8")
            path.rename(self.picked_up / path.name)
            taken += 1
            kind = transaction_kind(text)
            if kind in ("837P", "837I"):
                self._answer_claims(path.stem, text)
            elif kind == "270":
                self._respond(f"{path.stem}-271.x12", self._write_271(text))
        return taken

    def watch(self, stop: threading.Event, interval: float = 0.05) -> None:
        while not stop.is_set():
            self.process()
            stop.wait(interval)

    # --- 837 -> 999, 277CA, 835 ----------------------------------------------------------------

    def _answer_claims(self, stem: str, text: str) -> None:
        batch = read_837(text)
        errors = pyx12_errors(text) if self.validate else []
        self._respond(f"{stem}-999.x12", self._write_999(batch, accepted=not errors))
        if errors:
            return
        self._respond(f"{stem}-277CA.x12", self._write_277ca(batch))
        accepted = [c for c in batch.claims if not c.member_id.startswith("REJ")]
        for payer_id in dict.fromkeys(c.payer_id for c in accepted):
            claims = [c for c in accepted if c.payer_id == payer_id]
            self._respond(f"{stem}-835-{payer_id}.x12", self._write_835(batch, claims))

    def _write_999(self, batch: _Batch, *, accepted: bool) -> str:
        code = "A" if accepted else "R"
        body = [
            f"AK1*HC*{batch.group_control}*{batch.version}",
            f"AK2*837*{batch.st_control}*{batch.version}",
            f"IK5*{code}",
            f"AK9*{code}*1*1*{1 if accepted else 0}",
        ]
        return self._interchange("FA", "999", "005010X231A1", body, batch)

    def _write_277ca(self, batch: _Batch) -> str:
        day = self.today.strftime("%Y%m%d")
        ok = [c for c in batch.claims if not c.member_id.startswith("REJ")]
        bad = [c for c in batch.claims if c.member_id.startswith("REJ")]
        totals = []
        if ok:
            totals += [f"QTY*90*{len(ok)}", f"AMT*YU*{_amount(sum(c.charge for c in ok))}"]
        if bad:
            totals += [f"QTY*AA*{len(bad)}", f"AMT*YY*{_amount(sum(c.charge for c in bad))}"]
        body = [
            f"BHT*0085*08*{batch.reference}*{day}*1200*TH",
            "HL*1**20*1",
            f"NM1*PR*2*{PAYER_NAME_DEFAULT}*****46*SIMCLEAR01",
            f"TRN*1*{batch.reference}",
            f"DTP*050*D8*{day}",
            f"DTP*009*D8*{day}",
            "HL*2*1*21*1",
            f"NM1*41*2*SUBMITTER*****46*{batch.sender_id}",
            f"TRN*2*{batch.reference}",
            f"STC*A1:19:PR*{day}*WQ*{_amount(sum(c.charge for c in batch.claims))}",
            *[t for t in totals if t.startswith("QTY")],
            *[t for t in totals if t.startswith("AMT")],
            "HL*3*2*19*1",
            f"NM1*85*2*{batch.billing_name}*****XX*{batch.billing_npi}",
            "TRN*1*0",
            f"STC*A1:19:PR**WQ*{_amount(sum(c.charge for c in batch.claims))}",
            *[
                t.replace("QTY*90", "QTY*QA").replace("QTY*AA", "QTY*QC")
                for t in totals
                if t.startswith("QTY")
            ],
            *[t for t in totals if t.startswith("AMT")],
        ]
        for number, claim in enumerate(batch.claims, start=4):
            rejected = claim.member_id.startswith("REJ")
            status = "A7:164:IL" if rejected else "A2:20:PR"
            body += [
                f"HL*{number}*3*PT",
                f"NM1*QC*1*{claim.last_name}*{claim.first_name}****MI*{claim.member_id}",
                f"TRN*2*{claim.claim_id}",
                f"STC*{status}*{day}*{'U' if rejected else 'WQ'}*{_amount(claim.charge)}",
            ]
            if not rejected:
                body.append(f"REF*1K*{self._payer_claim_number(claim)}")
            body.append(f"REF*D9*SIM{number:06d}")
            first, last = _claim_period(claim)
            body.append(f"DTP*472*RD8*{first}-{last}")
        return self._interchange("HN", "277", "005010X214", body, batch)

    def readjudicate(self, claim_id: str, pay_rate: Decimal | None) -> None:
        """A claim answered again: the reversal of its payment (none when the last answer was a
        reversal), then, unless `pay_rate` is None, its payment at `pay_rate`."""
        batch, claim, paid_at = self._paid[claim_id]
        clp: list[str] = []
        total = Decimal("0.00")
        if paid_at is not None:
            clp, taken_back = self._clp(claim, paid_at, reversal=True)
            total -= taken_back
        if pay_rate is not None:
            corrected, paid = self._clp(claim, pay_rate)
            clp += corrected
            total += paid
        self._paid[claim_id] = (batch, claim, pay_rate)
        stem = f"readjudicated-{self._next_control()}"
        self._respond(f"{stem}-835-{claim.payer_id}.x12", self._remittance(batch, [claim], clp, total))

    def _clp(self, claim: _Claim, pay_rate: Decimal, reversal: bool = False) -> tuple[list[str], Decimal]:
        """One claim's CLP loop and what it pays (a reversal negates every amount: CLP02 22)."""
        denied = claim.member_id.startswith("DENY")
        paid_lines = [
            Decimal(0) if denied else (line.charge * pay_rate).quantize(CENT, ROUND_HALF_UP)
            for line in claim.lines
        ]
        paid = sum(paid_lines, Decimal("0.00"))
        owed = Decimal("0.00") if denied else claim.charge - paid
        sign = -1 if reversal else 1
        status = "22" if reversal else "4" if denied else "1"
        clp = [
            f"CLP*{claim.claim_id}*{status}*{_amount(sign * claim.charge)}*{_amount(sign * paid)}*"
            f"{_amount(sign * owed) if owed else ''}*{FILING_TO_CLP06.get(claim.filing, '12')}*"
            f"{self._payer_claim_number(claim)}*{claim.facility}*{claim.frequency}",
            f"NM1*QC*1*{claim.last_name}*{claim.first_name}****MI*{claim.member_id}",
        ]
        if claim.statement:
            first, last = claim.statement.split("-")
            clp += [f"DTM*232*{first}", f"DTM*233*{last}"]
        for line, line_paid in zip(claim.lines, paid_lines, strict=True):
            procedure = line.procedure if line.procedure else f"NU:{line.revenue_code}"
            amounts = f"{_amount(sign * line.charge)}*{_amount(sign * line_paid)}"
            units = f"-{line.units}" if reversal else line.units
            clp.append(f"SVC*{procedure}*{amounts}*{line.revenue_code or ''}*{units}")
            if line.service_date:
                clp.append(f"DTM*472*{line.service_date}")
            if denied:
                clp += [f"CAS*CO*50*{_amount(sign * line.charge)}", "LQ*HE*N115"]
            elif line.charge != line_paid:
                clp.append(f"CAS*PR*2*{_amount(sign * (line.charge - line_paid))}")
        return clp, sign * paid

    def _write_835(self, batch: _Batch, claims: list[_Claim]) -> str:
        clp: list[str] = []
        total = Decimal("0.00")
        for claim in claims:
            loop, paid = self._clp(claim, self.pay_rate)
            clp += loop
            total += paid
            self._paid[claim.claim_id] = (batch, claim, self.pay_rate)
        return self._remittance(batch, claims, clp, total)

    def _remittance(self, batch: _Batch, claims: list[_Claim], clp: list[str], total: Decimal) -> str:
        day = self.today.strftime("%Y%m%d")
        method = (
            f"BPR*I*{_amount(total)}*C*CHK************{day}"
            if total > 0
            else f"BPR*H*0*C*NON************{day}"
        )
        body = [
            method,
            f"TRN*1*SIMCHK{self._next_control():06d}*1999999999",
            f"DTM*405*{day}",
            f"N1*PR*{claims[0].payer_name}",
            "N3*1 SIMULATION WAY",
            "N4*MADISON*WI*53703",
            f"REF*2U*{claims[0].payer_id}",
            "PER*BL*EDI DESK*TE*8005550100",
            f"N1*PE*{batch.billing_name}*XX*{batch.billing_npi}",
            "LX*1",
            *clp,
        ]
        return self._interchange("HP", "835", "005010X221A1", body, batch, st03=False)

    # --- 270 -> 271 ------------------------------------------------------------------------------

    def _write_271(self, text: str) -> str:
        segments = _segments(text)
        day = self.today.strftime("%Y%m%d")
        body: list[str] = []
        member_id = ""
        for s in segments:
            tag = s[0]
            if tag == "BHT":
                body.append(f"BHT*0022*11*{s[3]}*{day}*1200")
            elif tag in ("HL", "NM1", "DMG") or (tag == "DTP" and s[1] == "291"):
                body.append("*".join(s))
                member_id = s[9] if tag == "NM1" and s[1] == "IL" else member_id
            elif tag == "TRN":
                body.append(f"TRN*2*{s[2]}*{s[3]}")
            elif tag == "EQ" and member_id:
                body += self._benefits(member_id)  # once per member, after its DMG and DTP
                member_id = ""
        sender, receiver = _isa_parties(text)
        batch = _Batch(sender_id=sender, receiver_id=receiver)
        return self._interchange("HB", "271", "005010X279A1", body, batch)

    def _benefits(self, member_id: str) -> list[str]:
        if member_id.startswith("NOTFOUND"):
            return ["AAA*N**75*C"]
        if member_id.startswith("INACTIVE"):
            return [f"DTP*347*D8*{self.today.year - 1}1231", "EB*6*IND*30"]
        remaining = 0 if member_id.startswith("EXHAUSTED") else 18
        return [
            f"DTP*346*D8*{self.today.year}0101",
            "EB*1*IND*30**SIMULATED PPO",
            "EB*1*IND*MH",
            "EB*B*IND*MH***27*25*****Y",
            "EB*A*IND*MH*****0.2****Y",
            "EB*F*IND*MH***23***VS*30",
            f"EB*F*IND*MH***29***VS*{remaining}",
            "MSG*GROUP PSYCHOTHERAPY 90853 COVERED",
        ]

    # --- plumbing --------------------------------------------------------------------------------

    def _respond(self, name: str, text: str) -> None:
        write_atomically(self.root / "inbox" / name, text)

    def _payer_claim_number(self, claim: _Claim) -> str:
        return f"SIM{zlib.crc32(claim.claim_id.encode()):010d}"

    def _next_control(self) -> int:
        self._control += 1
        return self._control

    def _interchange(
        self, functional: str, code: str, version: str, body: list[str], batch: _Batch, *, st03: bool = True
    ) -> str:
        control = self._next_control()
        now = datetime.combine(self.today, datetime.min.time()).replace(hour=12)
        # The answer goes back the other way: the batch's receiver sends, its sender receives.
        sender, receiver = batch.receiver_id or "SIMCLEAR", batch.sender_id or "SUBMITTER"
        st = f"ST*{code}*0001*{version}" if st03 else f"ST*{code}*0001"
        segments = [
            f"ISA*00*{'':10}*00*{'':10}*ZZ*{sender:15}*ZZ*{receiver:15}*{now:%y%m%d}*{now:%H%M}*^*00501*"
            f"{control:09d}*0*T*:",
            f"GS*{functional}*{sender}*{receiver}*{now:%Y%m%d}*{now:%H%M}*{control}*X*{version}",
            st,
            *body,
            f"SE*{len(body) + 2}*0001",
            f"GE*1*{control}",
            f"IEA*1*{control:09d}",
        ]
        return "~\n".join(segments) + "~\n"


def read_837(text: str) -> _Batch:
    """The few 837 values the simulation needs, by a segment walk (837P and 837I)."""
    batch = _Batch()
    subscriber: dict[str, str] = {}
    last_nm1 = ""
    for s in _segments(text):
        tag = s[0]
        at = lambda i, s=s: s[i] if i < len(s) else ""  # noqa: E731 - local accessor for this segment
        if tag == "ISA":
            batch.sender_id, batch.receiver_id = at(6).strip(), at(8).strip()
        elif tag == "GS":
            batch.group_control, batch.version = at(6), at(8)
        elif tag == "ST":
            batch.st_control = at(2)
        elif tag == "BHT":
            batch.reference = at(3)
        elif tag == "SBR":
            subscriber = {"filing": at(9)}
        elif tag == "NM1":
            last_nm1 = at(1)
            if last_nm1 == "85":
                batch.billing_name, batch.billing_npi = at(3), at(9)
            elif last_nm1 == "IL":
                subscriber.update(member_id=at(9), last=at(3), first=at(4))
            elif last_nm1 == "PR":
                subscriber.update(payer_name=at(3), payer_id=at(9))
        elif tag == "CLM":
            facility, _, frequency = [*at(5).split(":"), "", ""][:3]
            batch.claims.append(
                _Claim(
                    at(1),
                    Decimal(at(2)),
                    facility,
                    frequency,
                    subscriber.get("member_id", ""),
                    subscriber.get("last", ""),
                    subscriber.get("first", ""),
                    subscriber.get("payer_name", PAYER_NAME_DEFAULT),
                    subscriber.get("payer_id", "SIMPAYER"),
                    subscriber.get("filing", ""),
                )
            )
        elif tag == "DTP" and at(1) == "434" and batch.claims:
            batch.claims[-1].statement = at(3)
        elif tag == "SV1" and batch.claims:
            batch.claims[-1].lines.append(_Line(at(1), Decimal(at(2)), at(4), None))
        elif tag == "SV2" and batch.claims:
            batch.claims[-1].lines.append(_Line(at(2), Decimal(at(3)), at(5), at(1)))
        elif tag == "DTP" and at(1) == "472" and batch.claims and batch.claims[-1].lines:
            batch.claims[-1].lines[-1].service_date = at(3)
    return batch


def _segments(text: str) -> list[list[str]]:
    text = text.lstrip()
    element, component, terminator = text[3], text[104], text[105]
    out = []
    for raw in text.split(terminator):
        fields = [f.replace(component, ":") for f in raw.strip().split(element)]
        if fields[0]:
            out.append(fields)
    return out


def _isa_parties(text: str) -> tuple[str, str]:
    isa = _segments(text[:200])[0]
    return isa[6].strip(), isa[8].strip()


def _claim_period(claim: _Claim) -> tuple[str, str]:
    if claim.statement:
        first, last = claim.statement.split("-")
        return first, last
    dates = sorted(line.service_date for line in claim.lines if line.service_date)
    return (dates[0], dates[-1]) if dates else ("20000101", "20000101")


def _amount(value: Decimal) -> str:
    text = format(value.quantize(CENT), "f")
    return text.rstrip("0").rstrip(".") if "." in text else text
