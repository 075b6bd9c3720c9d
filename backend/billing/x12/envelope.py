"""X12 5010 envelopes and the 837 hierarchy shared by the professional and institutional writers.

Delimiters are fixed: `*` between elements, `:` between components, `^` between repetitions and `~`
ending a segment (a newline follows each `~` for readability; X12 readers ignore it). X12 has no
escape character, so free text (names, addresses) is cleaned before it is written: accents are
transliterated (`é` -> `E`), text is upper-cased, delimiters and characters outside the X12 basic and
extended sets become spaces, and values are truncated to the element's maximum length.
`checks.claim_warnings` reports every value this changes; identifiers (claim ids, member ids, NPIs)
are never cleaned but refused by `checks.claim_problems`, since an altered identifier would no longer
match the payer's records.

Structure written (TR3 005010X222A1 / X223A2): ISA, GS, ST, BHT, 1000A submitter (NM1*41, PER),
1000B receiver (NM1*40), 2000A billing provider (HL 20, PRV*BI, NM1*85, N3, N4, REF*EI), then per
claim one 2000B subscriber HL (HL 22, SBR, 2010BA NM1*IL, N3, N4, DMG; 2010BB NM1*PR) holding the
claim loops written by `claim_837p` / `claim_837i`, then SE, GE, IEA.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable
from datetime import date
from decimal import Decimal

from backend.billing.claims import Address, BillingProvider, Claim, ClaimBatch, ServiceLine, Subscriber

ELEMENT = "*"
COMPONENT = ":"
REPETITION = "^"
SEGMENT = "~"
DELIMITERS = frozenset(ELEMENT + COMPONENT + REPETITION + SEGMENT)

# Maximum element lengths (TR3) for the free-text elements we write.
MAX_ORGANIZATION_NAME = 60  # NM103
MAX_LAST_NAME = 60  # NM103
MAX_FIRST_NAME = 35  # NM104
MAX_ADDRESS_LINE = 55  # N301, N302
MAX_CITY = 30  # N401
MAX_CONTACT_NAME = 60  # PER02
MAX_CONTACT_NUMBER = 256  # PER04, PER06

# X12 basic character set specials plus the extended ones payers accept, minus our delimiters.
_UNWRITABLE = re.compile(r"[^A-Z0-9 !\"&'()+,\-./;?=%@#$_]")
_SPACES = re.compile(r" {2,}")
_UNLIMITED = 1 << 30

ClaimWriter = Callable[[Claim, BillingProvider], list[str]]


def clean_text(value: str, max_length: int) -> str:
    """`value` as X12 carries it: transliterated, upper-cased, unwritable characters as spaces, cut."""
    if value.isascii():
        ascii_only = value.upper()
    else:
        decomposed = unicodedata.normalize("NFKD", value)
        ascii_only = "".join(c for c in decomposed if not unicodedata.combining(c)).upper()
    return _SPACES.sub(" ", _UNWRITABLE.sub(" ", ascii_only)).strip()[:max_length].rstrip()


def text_change(value: str, max_length: int) -> str | None:
    """Why `clean_text` alters `value` beyond case and spacing: "characters_replaced", "truncated"."""
    cleaned = clean_text(value, _UNLIMITED)
    if cleaned != " ".join(value.upper().split()):
        return "characters_replaced"
    return "truncated" if len(cleaned) > max_length else None


def segment(*elements: str) -> str:
    """One segment: elements joined by `*`, trailing empty elements dropped (X12 forbids them)."""
    items = list(elements)
    while items and items[-1] == "":
        items.pop()
    return ELEMENT.join(items) + SEGMENT


def composite(*components: str) -> str:
    items = list(components)
    while items and items[-1] == "":
        items.pop()
    return COMPONENT.join(items)


def amount(value: Decimal) -> str:
    """A monetary amount (X12 R): cents rounded, trailing zeros and point dropped (70.50 -> "70.5")."""
    return decimal_text(value.quantize(Decimal("0.01")))


def decimal_text(value: int | Decimal) -> str:
    text = format(Decimal(value), "f")
    return text.rstrip("0").rstrip(".") if "." in text else text


def d8(day: date) -> str:
    return day.strftime("%Y%m%d")


def diagnosis_code(code: str) -> str:
    """ICD-10-CM as X12 carries it: upper case, without the dot (F33.1 -> F331)."""
    return code.strip().upper().replace(".", "")


def phone_digits(phone: str) -> str:
    """A phone number as PER carries it: its digits only ("(608) 555-0142" -> "6085550142")."""
    return "".join(c for c in phone if c.isascii() and c.isdigit())


def procedure(line: ServiceLine) -> str:
    """The SV1-01 / SV2-02 composite: HC (CPT/HCPCS), the code, then up to four modifiers."""
    return composite("HC", line.procedure.strip().upper(), *(m.strip().upper() for m in line.modifiers))


def digits(value: str) -> str:
    """Identifiers typed with separators ("37-1234567", "62701-1234") written as their digits."""
    return value.replace("-", "").replace(" ", "")


def write_transaction(batch: ClaimBatch, implementation: str, write_claim: ClaimWriter) -> str:
    """The whole interchange for `batch`; `write_claim` writes each claim's 2300 and 2400 loops."""
    transaction = [
        segment("ST", "837", "0001", implementation),
        *_header(batch),
        *_billing_provider(batch.billing_provider),
    ]
    for number, (subscriber, claim) in enumerate(batch.claims, start=2):
        transaction += _subscriber(number, subscriber, batch)
        transaction += write_claim(claim, batch.billing_provider)
    transaction.append(segment("SE", str(len(transaction) + 1), "0001"))
    return "".join(
        [
            _isa(batch),
            segment(
                "GS",
                "HC",
                batch.sender_id,
                batch.receiver_id,
                batch.created_at.strftime("%Y%m%d"),
                batch.created_at.strftime("%H%M"),
                str(batch.group_control_number),
                "X",
                implementation,
            ),
            *transaction,
            segment("GE", "1", str(batch.group_control_number)),
            segment("IEA", "1", f"{batch.interchange_control_number:09d}"),
        ]
    ).replace(SEGMENT, SEGMENT + "\n")


def _isa(batch: ClaimBatch) -> str:
    # ISA is fixed width (106 characters with its terminator): readers find the delimiters by position.
    return segment(
        "ISA",
        "00",
        " " * 10,
        "00",
        " " * 10,
        "ZZ",
        batch.sender_id.ljust(15),
        "ZZ",
        batch.receiver_id.ljust(15),
        batch.created_at.strftime("%y%m%d"),
        batch.created_at.strftime("%H%M"),
        REPETITION,
        "00501",
        f"{batch.interchange_control_number:09d}",
        "0",  # no TA1 requested: the clearinghouse answers with a 999
        batch.usage,
        COMPONENT,
    )


def _header(batch: ClaimBatch) -> list[str]:
    contact = batch.submitter_contact
    numbers: list[str] = []
    if contact.phone:
        numbers += ["TE", phone_digits(contact.phone)[:MAX_CONTACT_NUMBER]]
    if contact.email:
        numbers += ["EM", contact.email.strip()[:MAX_CONTACT_NUMBER]]
    return [
        # 0019 original chargeable batch; 00 original transmission; CH chargeable (claims, not encounters).
        segment(
            "BHT",
            "0019",
            "00",
            str(batch.interchange_control_number),
            batch.created_at.strftime("%Y%m%d"),
            batch.created_at.strftime("%H%M"),
            "CH",
        ),
        organization("41", batch.submitter_name, "46", batch.sender_id),
        segment("PER", "IC", clean_text(contact.name, MAX_CONTACT_NAME), *numbers),
        organization("40", batch.receiver_name, "46", batch.receiver_id),
    ]


def _billing_provider(provider: BillingProvider) -> list[str]:
    return [
        segment("HL", "1", "", "20", "1"),
        segment("PRV", "BI", "PXC", provider.taxonomy),
        organization("85", provider.name, "XX", provider.npi),
        *_address(provider.address),
        segment("REF", "EI", digits(provider.tax_id)),
    ]


def _subscriber(number: int, subscriber: Subscriber, batch: ClaimBatch) -> list[str]:
    # The patient is the subscriber (SBR02 = 18), so no 2000C patient loop and HL04 = 0 (no children).
    return [
        segment("HL", str(number), "1", "22", "0"),
        segment(
            "SBR",
            subscriber.payer_responsibility,
            subscriber.relationship,
            subscriber.group_number or "",
            "",
            "",
            "",
            "",
            "",
            batch.payer.filing_indicator,
        ),
        person("IL", subscriber.last_name, subscriber.first_name, "MI", subscriber.member_id),
        *_address(subscriber.address),
        segment("DMG", "D8", d8(subscriber.birth_date), subscriber.sex),
        organization("PR", batch.payer.name, "PI", batch.payer.payer_id),
    ]


def person(entity: str, last_name: str, first_name: str, qualifier: str, identifier: str) -> str:
    return segment(
        "NM1",
        entity,
        "1",
        clean_text(last_name, MAX_LAST_NAME),
        clean_text(first_name, MAX_FIRST_NAME),
        "",
        "",
        "",
        qualifier,
        identifier,
    )


def organization(entity: str, name: str, qualifier: str, identifier: str) -> str:
    """An NM1 naming an organization (submitter, receiver, billing provider, payer)."""
    return segment(
        "NM1", entity, "2", clean_text(name, MAX_ORGANIZATION_NAME), "", "", "", "", qualifier, identifier
    )


def _address(address: Address) -> list[str]:
    lines = [clean_text(address.line1, MAX_ADDRESS_LINE)]
    if address.line2 and clean_text(address.line2, MAX_ADDRESS_LINE):
        lines.append(clean_text(address.line2, MAX_ADDRESS_LINE))
    return [
        segment("N3", *lines),
        segment("N4", clean_text(address.city, MAX_CITY), address.state.strip().upper(), digits(address.zip)),
    ]
