"""835 remittance advice (005010X221A1) read into pure values, with the balance checks pyx12 does not make.

Each transaction is validated by x12sdk's 5010 835 model (required loops, code lists, claim-level CAS),
then its values are read by one segment walk. Why not map x12sdk's model directly: x12sdk rejects a whole
transaction when a single claim does not balance (a pydantic validator), so one bad claim from a payer
would hide every good one. Here x12sdk's rejection becomes a problem (`x12sdk_rejected`, location and
error type only: pydantic messages can quote names) and the remittance is still read, so posting goes on
and the biller sees why. `validate=False` skips x12sdk: ~8x faster on big files (tests/bench/bench_835.py).

Checks pyx12 does not make, reported in `Remittance.problems`, never raised:
  BPR02 = sum of CLP04 - sum of PLB amounts (PLB moves money outside any claim: interest, recoupments);
  CLP03 - CLP04 = claim CAS + line CAS, per claim; SVC02 - SVC03 = line CAS, per line (when the claim
  has no claim-level CAS: a claim-level CO-50 leaves its lines unadjusted, and that is conformant).

Outcome of a claim (what a biller does next):

| outcome          | when                                                                      |
|------------------|---------------------------------------------------------------------------|
| `reversed`       | CLP02 = 22 (the payer takes back an earlier payment)                      |
| `denied`         | CLP02 = 4, or nothing paid and nothing owed by the patient                |
| `partially_paid` | paid or owed, but a service line was denied (paid 0 with no PR on it)     |
| `paid`           | otherwise (contractual CO-45 reductions and PR cost sharing are normal)   |
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from datetime import date
from decimal import Decimal, InvalidOperation
from enum import StrEnum

from pydantic import ValidationError
from x12sdk.io import X12ModelReader, X12SegmentReader

from backend.billing.claims import Adjustment
from backend.errors import FieldProblem

ZERO = Decimal("0.00")
CENT = Decimal("0.01")
Segment = list[str]


class RemittanceUnreadable(ValueError):
    """The text is not an 835 (no ISA, no 835 transaction). Messages carry no PHI."""


class Outcome(StrEnum):
    PAID = "paid"
    PARTIALLY_PAID = "partially_paid"
    DENIED = "denied"
    REVERSED = "reversed"


@dataclass(frozen=True)
class LinePayment:
    procedure: str  # CPT/HCPCS, or the revenue code when SVC01 is NU:<revenue code>
    modifiers: tuple[str, ...]
    charge: Decimal
    paid: Decimal
    units: Decimal | None
    adjustments: tuple[Adjustment, ...] = ()
    remarks: tuple[str, ...] = ()  # RARC codes (LQ*HE)
    revenue_code: str | None = None  # SVC04 on institutional claims
    service_date: date | None = None  # DTM*472 (or 150, the start of a period)
    control_number: str | None = None  # REF*6R: the line item control number we sent

    @property
    def patient_responsibility(self) -> Decimal:
        return sum((a.amount for a in self.adjustments if a.group == "PR"), ZERO)

    @property
    def denied(self) -> bool:
        return self.charge > 0 and self.paid == 0 and self.patient_responsibility == 0


@dataclass(frozen=True)
class ClaimPayment:
    claim_id: str  # CLP01: our patient control number (CLM01)
    status_code: str  # CLP02: 1 processed as primary, 2 secondary, 4 denied, 22 reversal...
    charge: Decimal
    paid: Decimal
    patient_responsibility: Decimal  # CLP05
    payer_claim_number: str | None  # CLP07: quote it on a replacement (7) or void (8)
    adjustments: tuple[Adjustment, ...] = ()  # claim-level CAS
    lines: tuple[LinePayment, ...] = ()
    remarks: tuple[str, ...] = ()  # claim-level RARC (MOA, MIA)

    @property
    def outcome(self) -> Outcome:
        if self.status_code == "22":
            return Outcome.REVERSED
        if self.status_code == "4" or (self.paid == 0 and self.patient_responsibility == 0):
            return Outcome.DENIED
        if any(line.denied for line in self.lines):
            return Outcome.PARTIALLY_PAID
        return Outcome.PAID

    @property
    def reason_codes(self) -> tuple[str, ...]:
        """Every CARC (as "CO-50") then RARC on the claim and its lines, once each, in file order."""
        cas = [*self.adjustments, *(a for line in self.lines for a in line.adjustments)]
        remarks = [*self.remarks, *(r for line in self.lines for r in line.remarks)]
        return tuple(dict.fromkeys([f"{a.group}-{a.reason}" for a in cas] + remarks))


@dataclass(frozen=True)
class ProviderAdjustment:
    """PLB: money outside any claim (L6 interest, WO overpayment recovery...). Positive reduces BPR02."""

    reason: str
    reference: str | None
    amount: Decimal


@dataclass(frozen=True)
class Remittance:
    payer_name: str
    payer_id: str | None  # REF*2U, else N104 (XV), else TRN03
    payee_npi: str | None
    check_number: str  # TRN02: the check or EFT trace number
    payment_date: date | None  # BPR16, else DTM*405 (production date)
    total_paid: Decimal  # BPR02
    claims: tuple[ClaimPayment, ...]
    provider_adjustments: tuple[ProviderAdjustment, ...] = ()
    problems: tuple[FieldProblem, ...] = ()


def parse_835(text: str, *, validate: bool = True) -> Remittance:
    """The one payment in an 835 file; a file carrying several is read with `parse_835_file`."""
    remittances = parse_835_file(text, validate=validate)
    if len(remittances) != 1:
        raise RemittanceUnreadable(f"expected one 835 transaction, found {len(remittances)}")
    return remittances[0]


def parse_835_file(text: str, *, validate: bool = True) -> tuple[Remittance, ...]:
    """Every 835 transaction (one per check or EFT) in an interchange, in file order."""
    remittances = []
    for component, segments in _transactions(text):
        remittance = _read(segments, component)
        rejected = _x12sdk_rejections(segments, component) if validate else []
        problems = [*rejected, *balance_problems(remittance)]
        remittances.append(replace(remittance, problems=tuple(problems)) if problems else remittance)
    if not remittances:
        raise RemittanceUnreadable("no 835 transaction found")
    return tuple(remittances)


def balance_problems(remittance: Remittance) -> list[FieldProblem]:
    """BPR02 against CLP04 and PLB; each claim and line against its CAS. Messages hold amounts only."""
    problems = []
    plb = sum((p.amount for p in remittance.provider_adjustments), ZERO)
    claims_paid = sum((c.paid for c in remittance.claims), ZERO)
    if claims_paid - plb != remittance.total_paid:
        message = f"BPR02 {remittance.total_paid} is not the claims' paid {claims_paid} less PLB {plb}"
        problems.append(FieldProblem("totalPaid", "payment_not_balanced", message))
    for i, claim in enumerate(remittance.claims):
        cas = sum((a.amount for a in claim.adjustments), ZERO)
        cas += sum((a.amount for line in claim.lines for a in line.adjustments), ZERO)
        if claim.charge - claim.paid != cas:
            message = f"charge {claim.charge} less paid {claim.paid} is not the adjustments' {cas}"
            problems.append(FieldProblem(f"claims[{i}]", "claim_not_balanced", message))
        # With claim-level CAS (a whole-claim denial) the lines need not balance on their own.
        for j, line in enumerate(() if claim.adjustments else claim.lines):
            line_cas = sum((a.amount for a in line.adjustments), ZERO)
            if line.charge - line.paid != line_cas:
                message = f"charge {line.charge} less paid {line.paid} is not the adjustments' {line_cas}"
                problems.append(FieldProblem(f"claims[{i}].lines[{j}]", "line_not_balanced", message))
    return problems


# --- reading ------------------------------------------------------------------------------------


def _transactions(text: str) -> Iterator[tuple[str, list[Segment]]]:
    """(component separator, ST..SE segments) of each 835 transaction; ISA/GS only give delimiters."""
    text = text.lstrip()
    if not text.startswith("ISA") or len(text) < 106:
        raise RemittanceUnreadable("not an X12 interchange (no ISA)")
    with X12SegmentReader(text) as reader:
        component = reader.delimiters.component_separator if reader.delimiters else ":"
        current: list[Segment] | None = None
        for name, fields in reader.segments():
            fields[0] = name.strip()
            if fields[0] == "ST":
                current = [fields] if len(fields) > 1 and fields[1] == "835" else None
            elif current is not None:
                current.append(fields)
                if fields[0] == "SE":
                    yield component, current
                    current = None


def _x12sdk_rejections(segments: list[Segment], component: str) -> list[FieldProblem]:
    # x12sdk reads whole interchanges only: the transaction goes in a minimal envelope of its own.
    isa = f"ISA*00*{'':10}*00*{'':10}*ZZ*{'SENDER':15}*ZZ*{'RECEIVER':15}*000101*0000*^*00501*000000001*0*T*"
    body = "~".join("*".join(s) for s in segments)
    text = f"{isa}{component}~GS*HP*S*R*20000101*0000*1*X*005010X221A1~{body}~GE*1*1~IEA*1*000000001~"
    try:
        with X12ModelReader(text) as reader:
            for _ in reader.models():
                pass
    except ValidationError as exc:
        return [
            FieldProblem(".".join(str(p) for p in err["loc"]), "x12sdk_rejected", f"x12sdk: {err['type']}")
            for err in exc.errors()
        ]
    except Exception as exc:  # x12sdk raises bare KeyError/X12ParseException on unknown segments
        return [FieldProblem("transaction", "x12sdk_rejected", f"x12sdk: {type(exc).__name__}")]
    return []


def _read(segments: list[Segment], component: str) -> Remittance:
    """One walk over ST..SE. CAS before the first SVC of a claim is claim-level, after it line-level."""
    head: dict[str, str | None] = {"payer_name": "", "check": "", "paid": "0"}
    claims: list[_Claim] = []
    plb: list[ProviderAdjustment] = []
    party = ""
    for s in segments:
        tag = s[0]
        if tag == "BPR":
            head["paid"], head["bpr16"] = _at(s, 2), _at(s, 16)
        elif tag == "TRN":
            head["check"], head["trn03"] = _at(s, 2), _at(s, 3)
        elif tag == "DTM" and not claims and _at(s, 1) == "405":
            head["production"] = _at(s, 2)
        elif tag == "N1":
            party = _at(s, 1)
            if party == "PR":
                head["payer_name"] = _at(s, 2)
                head["n104"] = _at(s, 4) or None
            elif party == "PE" and _at(s, 3) == "XX":
                head["npi"] = _at(s, 4)
        elif tag == "REF" and party == "PR" and not claims and _at(s, 1) == "2U":
            head["ref_2u"] = _at(s, 2)
        elif tag == "CLP":
            claims.append(_Claim(s))
        elif tag == "PLB":
            plb += _plb(s, component)
        elif claims:
            claims[-1].take(s, component)
    return Remittance(
        payer_name=head["payer_name"] or "",
        payer_id=head.get("ref_2u") or head.get("n104") or head.get("trn03") or None,
        payee_npi=head.get("npi") or None,
        check_number=head["check"] or "",
        payment_date=_date(head.get("bpr16")) or _date(head.get("production")),
        total_paid=_money(head["paid"]),
        claims=tuple(c.value() for c in claims),
        provider_adjustments=tuple(plb),
    )


@dataclass
class _Claim:
    """A claim being read: CLP, then its CAS/MOA/MIA, then SVC lines with their DTM/CAS/REF/LQ."""

    clp: Segment
    cas: list[Adjustment] = field(default_factory=list)
    remarks: list[str] = field(default_factory=list)
    lines: list[dict[str, object]] = field(default_factory=list)

    def take(self, s: Segment, component: str) -> None:
        tag, line = s[0], (self.lines[-1] if self.lines else None)
        if tag == "SVC":
            procedure, modifiers = _procedure(_at(s, 1), component)
            self.lines.append({"svc": s, "procedure": procedure, "modifiers": modifiers, "cas": [], "lq": []})
        elif tag == "CAS":
            target = self.cas if line is None else line["cas"]
            assert isinstance(target, list)
            target += _cas(s)
        elif tag == "MOA" and line is None:
            self.remarks += [r for r in s[3:8] if r]
        elif tag == "MIA" and line is None:
            self.remarks += [r for r in [_at(s, 5), *s[20:24]] if r]
        elif line is not None and tag == "DTM" and _at(s, 1) in ("472", "150"):
            line["date"] = _date(_at(s, 2))
        elif line is not None and tag == "REF" and _at(s, 1) == "6R":
            line["control"] = _at(s, 2)
        elif line is not None and tag == "LQ" and _at(s, 1) == "HE":
            lq = line["lq"]
            assert isinstance(lq, list)
            lq.append(_at(s, 2))

    def value(self) -> ClaimPayment:
        s = self.clp
        return ClaimPayment(
            claim_id=_at(s, 1),
            status_code=_at(s, 2),
            charge=_money(_at(s, 3)),
            paid=_money(_at(s, 4)),
            patient_responsibility=_money(_at(s, 5)),
            payer_claim_number=_at(s, 7) or None,
            adjustments=tuple(self.cas),
            lines=tuple(_line(line) for line in self.lines),
            remarks=tuple(self.remarks),
        )


def _line(line: dict[str, object]) -> LinePayment:
    svc, modifiers, cas, lq = line["svc"], line["modifiers"], line["cas"], line["lq"]
    assert isinstance(svc, list) and isinstance(modifiers, tuple)
    assert isinstance(cas, list) and isinstance(lq, list)
    units = _at(svc, 5)
    date_value, control = line.get("date"), line.get("control")
    return LinePayment(
        procedure=str(line["procedure"]),
        modifiers=modifiers,
        charge=_money(_at(svc, 2)),
        paid=_money(_at(svc, 3)),
        units=_decimal(units) if units else None,
        adjustments=tuple(cas),
        remarks=tuple(lq),
        revenue_code=_at(svc, 4) or None,
        service_date=date_value if isinstance(date_value, date) else None,
        control_number=str(control) if control else None,
    )


def _at(s: Segment, index: int) -> str:
    return s[index].strip() if index < len(s) else ""


def _decimal(value: str) -> Decimal:
    try:
        return Decimal(value)
    except InvalidOperation:
        return Decimal(0)  # unreadable amounts then show up as a balance problem, not a crash


def _money(value: str | None) -> Decimal:
    return _decimal(value).quantize(CENT) if value else ZERO


def _date(value: str | None) -> date | None:
    if not value or len(value) != 8 or not value.isdigit():
        return None
    try:
        return date(int(value[:4]), int(value[4:6]), int(value[6:]))
    except ValueError:
        return None


def _cas(s: Segment) -> list[Adjustment]:
    """CAS01 group, then up to six (reason, amount, quantity) triples."""
    group = _at(s, 1)
    return [Adjustment(group, _at(s, k), _money(_at(s, k + 1))) for k in range(2, len(s), 3) if _at(s, k)]


def _plb(s: Segment, component: str) -> list[ProviderAdjustment]:
    """PLB03/04, 05/06...: (reason:reference, amount) pairs."""
    out = []
    for k in range(3, len(s), 2):
        if _at(s, k):
            reason, _, reference = _at(s, k).partition(component)
            out.append(ProviderAdjustment(reason, reference or None, _money(_at(s, k + 1))))
    return out


def _procedure(composite: str, component: str) -> tuple[str, tuple[str, ...]]:
    """SVC01 "HC:90853:HQ:95" -> ("90853", ("HQ", "95")); "NU:0905" (revenue code only) -> ("0905", ())."""
    parts = composite.split(component)
    return (parts[1] if len(parts) > 1 else parts[0]), tuple(p for p in parts[2:6] if p)
