"""Are member note sections individual? Pairwise similarity before a group note is signed (pure).

Cloning one member's section across the group, changing only the name, is the most serious audit
finding for group notes. Before signing, every member section of the session is compared with
every other one ("session" pairs) and with the same member's earlier sections ("history" pairs,
which catches last week's note copied forward with the date changed).

Each text is normalized first: Unicode NFKC, whitespace collapsed, casefolded, and every name of
every member involved (their own and the other members') replaced by NAME_PLACEHOLDER
(`names.NameMask`), so "Ana practiced TIPP" and "Ben practiced TIPP" are the same text. Sections
shorter than MIN_CHARS after normalization are not compared (a blank section would match another
blank one); they are listed in `IndividualityReport.skipped`, and an empty required field is the
note template's check, not this one's.

The score of a pair is the higher of two rapidfuzz scores (0-100, divided by 100):

| Scorer                                | Catches                          | Alone it misses            |
|---------------------------------------|----------------------------------|----------------------------|
| fuzz.ratio on the normalized text     | name swap (with pronouns), a     | reordered sentences        |
|   (Indel similarity, text in order)   |   changed word, date or risk     |   (0.72-0.80 in the corpus)|
|                                       |   level, one sentence rewritten  |                            |
| fuzz.ratio on its sentences, sorted   | the same clone with its          | a clone whose pronouns     |
|   (a sentence-level token_sort)       |   sentences reordered            |   changed (re-sorts: 0.71) |

Figures from tests/documentation/corpus (171 genuine pairs of one session, 15 of a member's own
consecutive weeks, 35 clones): genuine pairs score at most 0.71 (a session written from a clinic
template with shared boilerplate), median 0.48; the clones with one sentence rewritten score
0.91-0.94, every other clone 0.98 or more. Word-bag scorers were rejected: token_set_ratio scores
100 when one note's words are a subset of the other's (a short genuine note would be flagged);
token_sort_ratio on words raises the genuine median to 0.56 and lowers the rewritten-sentence
clones to 0.88 (a narrower gap); WRatio, which mixes in partial ratios, put 11 genuine pairs
above 0.80.

Verdict per pair: BLOCK at or above `Thresholds.block`, WARN at or above `Thresholds.warn`, else
OK; a member's verdict is the worst of its pairs. Thresholds are configured per clinic.
"""

from __future__ import annotations

import enum
import math
import re
import unicodedata
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from rapidfuzz import fuzz, process
from rapidfuzz.distance import Indel

from backend.documentation.names import NameMask
from backend.errors import FieldProblem

NAME_PLACEHOLDER = "[name]"
#: Normalized sections shorter than this are not compared (see the module docstring).
MIN_CHARS = 40
MAX_SHARED = 3
MAX_SHARED_CHARS = 160
#: A shared passage shorter than this many words explains nothing ("the group and").
MIN_SHARED_WORDS = 4

_ID_KEY = re.compile(r"(?:Id|_id|^id)$")


class Verdict(enum.StrEnum):
    OK = "ok"
    WARN = "warn"
    BLOCK = "block"


_SEVERITY = {Verdict.OK: 0, Verdict.WARN: 1, Verdict.BLOCK: 2}


@dataclass(frozen=True)
class Thresholds:
    warn: float = 0.80
    block: float = 0.95

    def verdict(self, score: float) -> Verdict:
        if score >= self.block:
            return Verdict.BLOCK
        return Verdict.WARN if score >= self.warn else Verdict.OK


def threshold_problems(thresholds: Thresholds, prefix: str = "") -> list[FieldProblem]:
    """Problems with a clinic's thresholds: each in (0, 1], warn not above block.

    `prefix` is the input path of the thresholds object ("settings.individuality" gives
    "settings.individuality.warnAt").
    """
    path = f"{prefix}." if prefix else ""
    problems = [
        FieldProblem(f"{path}{field}", "out_of_range", f"{label} must be above 0 and at most 1.")
        for field, label, value in (
            ("warnAt", "The warning threshold", thresholds.warn),
            ("blockAt", "The blocking threshold", thresholds.block),
        )
        if not (math.isfinite(value) and 0 < value <= 1)
    ]
    if not problems and thresholds.warn > thresholds.block:
        message = "The warning threshold must not exceed the blocking one."
        problems.append(FieldProblem(f"{path}warnAt", "above_block", message))
    return problems


@dataclass(frozen=True)
class SectionText:
    key: str
    text: str
    names: tuple[str, ...] = ()


@dataclass(frozen=True)
class Similarity:
    first: str
    second: str
    kind: str  # "session" | "history"
    score: float
    verdict: Verdict
    shared: tuple[str, ...]


@dataclass(frozen=True)
class IndividualityReport:
    pairs: tuple[Similarity, ...]
    verdicts: Mapping[str, Verdict]
    highest: Mapping[str, float]
    #: Member keys of this session whose section is too short to compare (MIN_CHARS).
    skipped: tuple[str, ...] = ()

    @property
    def blocked(self) -> bool:
        return any(v is Verdict.BLOCK for v in self.verdicts.values())


@dataclass(frozen=True)
class _Normalized:
    key: str
    text: str  # normalized, names masked
    sorted_text: str  # the same sentences in sorted order


def check_individuality(
    sections: Sequence[SectionText],
    previous: Mapping[str, Sequence[SectionText]],
    thresholds: Thresholds = Thresholds(),
) -> IndividualityReport:
    """Score every pair of this session's sections and each section against its member's earlier ones.

    `previous` maps a member key to that member's earlier sections (their `key` is a reference to
    the earlier note). Sections shorter than MIN_CHARS after normalization are skipped.
    """
    everyone = (*sections, *(p for earlier in previous.values() for p in earlier))
    names = NameMask((n for s in everyone for n in s.names), NAME_PLACEHOLDER)
    current = [_normalize(s, names) for s in sections]
    comparable = [n for n in current if len(n.text) >= MIN_CHARS]
    highest = {s.key: 0.0 for s in sections}
    verdicts = {s.key: Verdict.OK for s in sections}
    pairs: list[Similarity] = []

    def record(first: _Normalized, second: _Normalized, kind: str, raw: float, raw_sorted: float) -> None:
        score = round(max(raw, raw_sorted) / 100, 3)
        verdict = thresholds.verdict(score)
        members = (first.key, second.key) if kind == "session" else (first.key,)
        for key in members:
            highest[key] = max(highest[key], score)
            if _SEVERITY[verdict] > _SEVERITY[verdicts[key]]:
                verdicts[key] = verdict
        if score >= thresholds.warn:
            a, b = (first.text, second.text) if raw >= raw_sorted else (first.sorted_text, second.sorted_text)
            shared = _shared_passages(a, b) if verdict is not Verdict.OK else ()
            pairs.append(Similarity(first.key, second.key, kind, score, verdict, shared))

    for i, first in enumerate(comparable):
        others = comparable[i + 1 :]
        for second, raw, raw_sorted in _scores(first, others):
            record(first, second, "session", raw, raw_sorted)
        earlier = [_normalize(p, names) for p in previous.get(first.key, ())]
        earlier = [n for n in earlier if len(n.text) >= MIN_CHARS]
        for second, raw, raw_sorted in _scores(first, earlier):
            record(first, second, "history", raw, raw_sorted)

    pairs.sort(key=lambda p: (-p.score, p.first, p.second))
    return IndividualityReport(
        pairs=tuple(pairs),
        verdicts=verdicts,
        highest=highest,
        skipped=tuple(n.key for n in current if len(n.text) < MIN_CHARS),
    )


def section_text(content: Mapping[str, object]) -> str:
    """A member section's free text as one narrative, one value a line, keys in sorted order.

    Ids (keys "id", "...Id", "..._id"), numbers, booleans and single-token values (enum choices
    such as "improved" or "low", dates) are left out: structured choices that are the same for
    every member would make genuinely different sections look alike.
    """
    return "\n".join(_free_text(content))


def _free_text(value: object) -> Iterable[str]:
    if isinstance(value, str):
        text = value.strip()
        if len(text.split()) > 1:
            yield text
    elif isinstance(value, Mapping):
        for key in sorted(value, key=str):
            if not _ID_KEY.search(str(key)):
                yield from _free_text(value[key])
    elif isinstance(value, list | tuple):
        for item in value:
            yield from _free_text(item)


def _normalize(section: SectionText, names: NameMask) -> _Normalized:
    text = unicodedata.normalize("NFKC", section.text)
    lines = (" ".join(line.split()) for line in text.splitlines())
    text = names.apply("\n".join(line for line in lines if line))
    sentences = _sentences(text)
    return _Normalized(section.key, " ".join(sentences), " ".join(sorted(sentences)))


def _sentences(text: str) -> list[str]:
    """Lines and sentences of single-spaced text (str.replace: a regex split is 5x slower here)."""
    return text.replace(". ", ".\n").replace("! ", "!\n").replace("? ", "?\n").split("\n")


def _scores(first: _Normalized, others: Sequence[_Normalized]) -> Iterable[tuple[_Normalized, float, float]]:
    """fuzz.ratio of `first` against each of `others`, in order and sentence-sorted.

    process.extract runs the loop in C++; process.cdist would too but needs numpy, which Ensemble
    does not depend on.
    """
    if not others:
        return []
    in_order = process.extract(first.text, [o.text for o in others], scorer=fuzz.ratio, limit=None)
    by_sentence = process.extract(
        first.sorted_text, [o.sorted_text for o in others], scorer=fuzz.ratio, limit=None
    )
    raw = {index: score for _, score, index in in_order}
    raw_sorted = {index: score for _, score, index in by_sentence}
    return [(other, raw[i], raw_sorted[i]) for i, other in enumerate(others)]


def _shared_passages(a: str, b: str) -> tuple[str, ...]:
    """The longest sentences (or runs of whole words) `a` and `b` have in common, at most MAX_SHARED."""
    passages: set[str] = set()
    for block in Indel.opcodes(a, b).as_matching_blocks():
        start, end = block.a, block.a + block.size
        # The edit alignment often starts or ends a block mid-word: trim to whole words.
        if start > 0 and a[start - 1] != " ":
            space = a.find(" ", start, end)
            start = end if space < 0 else space + 1
        if end < len(a) and a[end] != " ":
            end = max(start, a.rfind(" ", start, end))
        for sentence in _sentences(a[start:end]):
            if len(sentence.split()) >= MIN_SHARED_WORDS:
                passages.add(sentence.strip())
    longest = sorted(passages, key=lambda p: (-len(p), p))[:MAX_SHARED]
    return tuple(_shorten(p) for p in longest)


def _shorten(passage: str) -> str:
    if len(passage) <= MAX_SHARED_CHARS:
        return passage
    cut = passage.rfind(" ", 0, MAX_SHARED_CHARS - 1)
    return passage[: cut if cut > 0 else MAX_SHARED_CHARS - 1] + "\u2026"
