"""Benchmark: the 837P writer alone, and pyx12 on one large file. Not collected by pytest.

    python -m tests.bench.bench_837 [--claims 10000] [--per-file 1000] [--runs 3]

Builds `--claims` member claims (distinct members; in-office 90853:HQ, telehealth 90853:95 at POS 10 and
multi-family 90849, one to three diagnoses, a quarter with the 90785 add-on line) in batches of
`--per-file` claims, then prints the median of `--runs` runs of:
- `write_837p` over every batch (its checks included: it never writes without them), in claims/s;
- `claim_problems` alone and `file_problems` (the arithmetic re-read) alone, for the split;
and, once, the pyx12 validation time of one `--per-file`-claim file (map loading included).
Pure Python: no database.
"""

from __future__ import annotations

import argparse
import random
import statistics
import time
from collections.abc import Callable
from datetime import date, datetime, timedelta
from decimal import Decimal

from backend.billing.claims import (
    Address,
    BillingProvider,
    ClaimBatch,
    Contact,
    Payer,
    ProfessionalClaim,
    RenderingProvider,
    ServiceLine,
    Subscriber,
)
from backend.billing.x12.checks import claim_problems
from backend.billing.x12.claim_837p import write_837p
from backend.billing.x12.validation import file_problems, pyx12_errors

DIAGNOSES = ["F33.1", "F43.10", "F41.1", "F60.3", "F90.0", "F32.A", "F10.20"]
THERAPISTS = [
    RenderingProvider("Okafor", "Grace", "1555555550", "1041C0700X"),
    RenderingProvider("Brandt", "Ilse", "2453198709", "103T00000X"),
]
PROVIDER = BillingProvider(
    "Lakeside Group Therapy",
    "1987654328",
    "842719053",
    "261QM0801X",
    Address("42 Harbor Rd", "Madison", "WI", "537032211"),
)


def make_claims(count: int) -> list[tuple[Subscriber, ProfessionalClaim]]:
    rng = random.Random(837)
    start = date(2024, 1, 8)
    pairs = []
    for index in range(count):
        subscriber = Subscriber(
            f"M{index:09d}",
            f"Member{index}",
            "Test",
            date(1950, 1, 1) + timedelta(days=rng.randrange(20_000)),
            rng.choice("FMU"),
            Address(f"{index} Elm St", "Madison", "WI", "53704"),
            group_number="WI-88120",
        )
        kind = rng.random()
        procedure, modifiers, place = (
            ("90853", ("HQ",), "11")
            if kind < 0.6
            else ("90853", ("95",), "10")
            if kind < 0.85
            else ("90849", (), "11")
        )
        diagnoses = tuple(rng.sample(DIAGNOSES, rng.randint(1, 3)))
        day = start + timedelta(days=rng.randrange(60))
        pointers = tuple(range(1, len(diagnoses) + 1))
        lines = [ServiceLine(day, procedure, modifiers, Decimal("70.00"), 1, pointers)]
        if rng.random() < 0.25:
            lines.append(ServiceLine(day, "90785", (), Decimal("15.25"), 1, (1,)))
        claim = ProfessionalClaim(
            f"GRP{index:08d}",
            "1",
            None,
            place,
            diagnoses,
            tuple(lines),
            rng.choice(THERAPISTS),
            prior_auth=f"PA{index}",
        )
        pairs.append((subscriber, claim))
    return pairs


def make_batches(pairs: list[tuple[Subscriber, ProfessionalClaim]], per_file: int) -> list[ClaimBatch]:
    return [
        ClaimBatch(
            sender_id="LAKESIDE01",
            receiver_id="CLEARHOUSE",
            submitter_name="Lakeside Group Therapy",
            submitter_contact=Contact("Billing Desk", phone="6085550142"),
            receiver_name="Badger Clearinghouse",
            billing_provider=PROVIDER,
            payer=Payer("Northwoods Health", "NWH01", "CI"),
            claims=pairs[start : start + per_file],
            interchange_control_number=1000 + number,
            group_control_number=1000 + number,
            created_at=datetime(2024, 3, 18, 9, 30),
            usage="T",
        )
        for number, start in enumerate(range(0, len(pairs), per_file))
    ]


def median_seconds(fn: Callable[[], object], runs: int) -> float:
    samples = []
    for _ in range(runs):
        start = time.perf_counter()
        fn()
        samples.append(time.perf_counter() - start)
    return statistics.median(samples)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--claims", type=int, default=10_000)
    parser.add_argument("--per-file", type=int, default=1_000)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()

    batches = make_batches(make_claims(args.claims), args.per_file)
    files = [write_837p(batch) for batch in batches]  # warm-up, and the files for the re-read
    write = median_seconds(lambda: [write_837p(batch) for batch in batches], args.runs)
    checks = median_seconds(lambda: [claim_problems(batch) for batch in batches], args.runs)
    reread = median_seconds(lambda: [file_problems(text) for text in files], args.runs)
    print(f"837P writer, {args.claims} member claims in {len(batches)} files, median of {args.runs} runs")
    print(f"  write_837p (checks included) {write:7.3f} s   {args.claims / write:9.0f} claims/s")
    print(f"  claim_problems alone         {checks:7.3f} s   {args.claims / checks:9.0f} claims/s")
    print(f"  file_problems (re-read)      {reread:7.3f} s   {args.claims / reread:9.0f} claims/s")
    print(
        f"  file size                    {len(files[0]) / 1024:7.0f} KiB per {len(batches[0].claims)} claims"
    )

    start = time.perf_counter()
    errors = pyx12_errors(files[0])
    validate = time.perf_counter() - start
    print(f"pyx12 on one {len(batches[0].claims)}-claim file: {validate:.2f} s, {len(errors)} errors")


if __name__ == "__main__":
    main()
