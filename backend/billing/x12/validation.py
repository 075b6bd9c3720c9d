"""Validation of X12 text: pyx12's structural checks, and the arithmetic pyx12 does not re-check.

`pyx12_errors` runs pyx12 (the maps of the 5010 837P/837I/835/...) on a document held in memory (no
PHI written to disk) and returns its ERROR and CRITICAL messages. `file_problems` re-reads an 837
and checks what only the numbers can tell: CLM02 against the sum of the service lines, diagnosis
pointers against the HI codes, units and charges above zero. Together with `checks.claim_problems`
(on the values before writing) they are what "a valid file" means in this project.
"""

from __future__ import annotations

import io
import logging
import threading
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation

# pyx12 ships no type information (no py.typed): its few entry points used here are typed at the call.
import pyx12.errors  # type: ignore[import-untyped]
import pyx12.params  # type: ignore[import-untyped]
import pyx12.x12n_document  # type: ignore[import-untyped]

from backend.errors import FieldProblem

DIAGNOSIS_QUALIFIERS = frozenset({"ABK", "ABF", "BK", "BF"})
# pyx12 reports through the shared "pyx12" logger: one validation at a time keeps messages apart.
_LOCK = threading.Lock()


class X12MapMissing(RuntimeError):
    """pyx12 has no map for the document's transaction (e.g. 270/271 5010) or cannot read it as X12."""


class _Collect(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.messages.append(f"{record.levelname}: {record.getMessage()}")


def pyx12_errors(text: str) -> list[str]:
    """pyx12's ERROR and CRITICAL messages for the X12 document `text`; [] when it is valid.

    The messages quote element values (names, member ids): they are returned to the caller, never
    propagated to the application's logs.
    """
    logger = logging.getLogger("pyx12")
    collect = _Collect()
    with _LOCK:
        level, propagate = logger.level, logger.propagate
        logger.setLevel(logging.INFO)
        logger.propagate = False
        logger.addHandler(collect)
        try:
            valid: bool = pyx12.x12n_document.x12n_document(
                param=pyx12.params.params(), src_file=io.StringIO(text), fd_997=None, fd_html=None
            )
        except pyx12.errors.EngineError as error:
            raise X12MapMissing(str(error)) from error
        finally:
            logger.removeHandler(collect)
            logger.setLevel(level)
            logger.propagate = propagate
    errors = [m for m in collect.messages if m.startswith(("ERROR", "CRITICAL"))]
    if not valid and not errors:
        errors.append("ERROR: pyx12 rejected the document without a message")
    return errors


@dataclass
class _ClaimRead:
    claim_id: str
    total: str
    diagnoses: int = 0
    lines: list[tuple[str, str, list[str]]] = field(default_factory=list)  # charge, units, pointers


def file_problems(text: str) -> list[FieldProblem]:
    """The arithmetic of every claim in an 837 `text`; [] when totals, pointers, units and charges agree."""
    if len(text) < 106 or not text.startswith("ISA"):
        return [FieldProblem("file", "not_x12", "does not start with an ISA segment")]
    element, component, terminator = text[3], text[104], text[105]
    claims: list[_ClaimRead] = []
    current: _ClaimRead | None = None
    for raw in text.split(terminator):
        elements = raw.strip().split(element)
        tag = elements[0]
        if tag in ("HL", "SE"):
            current = None
        elif tag == "CLM":
            current = _ClaimRead(elements[1], _at(elements, 2))
            claims.append(current)
        elif current is not None and tag == "HI":
            current.diagnoses += sum(
                1 for composite in elements[1:] if composite.split(component)[0] in DIAGNOSIS_QUALIFIERS
            )
        elif current is not None and tag == "SV1":
            pointers = [p for p in _at(elements, 7).split(component) if p]
            current.lines.append((_at(elements, 2), _at(elements, 4), pointers))
        elif current is not None and tag == "SV2":
            current.lines.append((_at(elements, 3), _at(elements, 5), []))
    problems: list[FieldProblem] = []
    for claim in claims:
        problems += _claim_arithmetic(claim)
    return problems


def _claim_arithmetic(claim: _ClaimRead) -> list[FieldProblem]:
    path = f"claims[{claim.claim_id}]"
    problems = []
    charges = []
    for number, (charge, units, pointers) in enumerate(claim.lines, start=1):
        line = f"{path}.lines[{number}]"
        charge_value, units_value = _number(charge), _number(units)
        if charge_value is None or charge_value <= 0:
            problems.append(FieldProblem(f"{line}.charge", "not_positive", "must be a number above zero"))
        else:
            charges.append(charge_value)
        if units_value is None or units_value <= 0:
            problems.append(FieldProblem(f"{line}.units", "not_positive", "must be a number above zero"))
        if any(not p.isdigit() or not 1 <= int(p) <= claim.diagnoses for p in pointers):
            problems.append(
                FieldProblem(f"{line}.diagnosisPointers", "out_of_range", "points past the claim's diagnoses")
            )
    total = _number(claim.total)
    if total is None or (len(charges) == len(claim.lines) and total != sum(charges, Decimal("0"))):
        problems.append(FieldProblem(f"{path}.totalCharge", "total_mismatch", "is not the sum of the lines"))
    return problems


def _at(elements: list[str], index: int) -> str:
    return elements[index] if index < len(elements) else ""


def _number(text: str) -> Decimal | None:
    try:
        value = Decimal(text)
    except InvalidOperation:
        return None
    return value if value.is_finite() else None
