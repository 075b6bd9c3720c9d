"""Benchmark: the individuality check before signing a group note. Not collected by pytest.

    python -m tests.bench.bench_individuality [--members 12] [--previous 50] [--repeats 30]

12 member sections compared with each other (66 session pairs) and each with 50 earlier sections
of the same member (600 history pairs), sections of 600-1200 characters assembled from the
sentences of the fictional test corpus. Two cases: genuine notes (nothing flagged, so no shared
passages are computed) and a fully cloned session (every pair flagged and explained).
Prints the median and p90 of `check_individuality`, normalization included.
"""

from __future__ import annotations

import argparse
import functools
import json
import random
import re
import statistics
import time
from collections.abc import Callable
from pathlib import Path

from backend.documentation.individuality import SectionText, check_individuality, section_text

CORPUS = Path(__file__).resolve().parent.parent / "documentation" / "corpus" / "member_sections.json"
FIRST = ["Ana", "Ben", "Hope", "José", "Keisha", "Liam", "Will", "Priya", "Marcus", "Sofia", "Dana", "Grace"]
LAST = ["Lopez", "Okafor", "Sinclair", "Ramírez", "Grant", "O'Brien", "Turner", "Natarajan", "Bell", "Rossi"]


def timed(fn: Callable[[], object], repeats: int) -> list[float]:
    fn()  # warm-up
    samples = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        samples.append((time.perf_counter() - start) * 1000)
    return samples


def corpus_sentences() -> list[str]:
    corpus = json.loads(CORPUS.read_text(encoding="utf-8"))
    texts = [section_text(m["content"]) for s in corpus["sessions"] for m in s["members"]]
    return [s for t in texts for s in re.split(r"(?<=[.!?])\s+|\n", t) if len(s.split()) > 3]


def note(rng: random.Random, sentences: list[str], name: str) -> str:
    """A section of 600-1200 characters: random corpus sentences, the member named in the first."""
    target = rng.randint(600, 1200)
    parts = [f"{name} attended and participated."]
    while sum(len(p) + 1 for p in parts) < target:
        parts.append(rng.choice(sentences))
    return " ".join(parts)[:target]


def scenario(
    members: int, previous: int, cloned: bool
) -> tuple[list[SectionText], dict[str, list[SectionText]]]:
    rng = random.Random(7)
    sentences = corpus_sentences()
    names = [(FIRST[i % len(FIRST)], LAST[i % len(LAST)]) for i in range(members)]
    original = note(rng, sentences, "NAME")
    sections = []
    history: dict[str, list[SectionText]] = {}
    for i, (first, last) in enumerate(names):
        text = original.replace("NAME", first) if cloned else note(rng, sentences, first)
        key = f"c-{i}"
        sections.append(SectionText(key, text, (first, last)))
        history[key] = [
            SectionText(f"n-{i}-{j}", text if cloned else note(rng, sentences, first), (first, last))
            for j in range(previous)
        ]
    return sections, history


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--members", type=int, default=12)
    parser.add_argument("--previous", type=int, default=50)
    parser.add_argument("--repeats", type=int, default=30)
    args = parser.parse_args()
    session_pairs = args.members * (args.members - 1) // 2
    print(
        f"individuality check, {args.members} sections x {args.previous} previous each "
        f"({session_pairs} session + {args.members * args.previous} history pairs), {args.repeats} repeats"
    )
    for label, cloned in (("genuine notes", False), ("all cloned (explained)", True)):
        sections, history = scenario(args.members, args.previous, cloned)
        chars = statistics.median(len(s.text) for s in sections)
        report = check_individuality(sections, history)
        samples = timed(functools.partial(check_individuality, sections, history), args.repeats)
        p90 = statistics.quantiles(samples, n=10)[-1]
        print(
            f"  {label:<24} median {statistics.median(samples):7.2f} ms   p90 {p90:7.2f} ms   "
            f"(median section {chars:.0f} chars, {len(report.pairs)} pairs flagged)"
        )


if __name__ == "__main__":
    main()
