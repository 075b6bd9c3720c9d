"""Individuality of member note sections: cloned sections are caught, genuine ones are not."""

from __future__ import annotations

import functools
import json
from collections import Counter
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from backend.documentation.individuality import (
    MAX_SHARED,
    MAX_SHARED_CHARS,
    NAME_PLACEHOLDER,
    IndividualityReport,
    SectionText,
    Thresholds,
    Verdict,
    check_individuality,
    section_text,
    threshold_problems,
)

CORPUS = Path(__file__).parent / "corpus" / "member_sections.json"

ANA_NOTE = (
    "Ana arrived on time and volunteered to read the TIPP handout aloud. She described using cold water on "
    "her face twice this week when urges rose after arguments with her roommate. She responded well to "
    "paced breathing; distress dropped from 7 to 4. Diary card complete for all seven days. Denied suicidal "
    "ideation, intent or plan. Practice the cold water version of TIPP once daily and bring an updated "
    "diary card."
)
BEN_NOTE = (
    "Ben was quiet during check-in and shared only his diary card numbers. When the group moved to "
    "self-soothe he became more engaged, describing the playlist he built for the bus ride home from his "
    "night shift. He found counting distracting and switched to a four-count inhale. Two anger outbursts "
    "at work this week. Denies SI/HI. Ben will try the music self-soothe kit before and after night shifts."
)
BEN_LAST_WEEK = (
    "Ben arrived late from work and apologized to the group. During the teaching on wise mind he offered an "
    "example about deciding not to quit his job in an angry moment. Two anger outbursts at work this week. "
    "Denies SI/HI. Bring the diary card next week and practice one skill before texting his ex-partner."
)


def section(key: str, text: str, *names: str) -> SectionText:
    return SectionText(key, text, names)


def clone_for(text: str, source: tuple[str, ...], target: tuple[str, ...]) -> str:
    for old, new in zip(source, target, strict=True):
        text = text.replace(old, new)
    return text


def test_name_swapped_clone_is_blocked() -> None:
    """Ana's section copied into Ben's with only the name changed scores 1.0 and blocks signing."""
    ben_clone = clone_for(ANA_NOTE, ("Ana",), ("Ben",))
    report = check_individuality(
        [section("ana", ANA_NOTE, "Ana", "Lopez"), section("ben", ben_clone, "Ben", "Okafor")], {}
    )
    [pair] = report.pairs
    assert (pair.first, pair.second, pair.kind, pair.score, pair.verdict) == (
        "ana",
        "ben",
        "session",
        1.0,
        "block",
    )
    assert report.verdicts == {"ana": Verdict.BLOCK, "ben": Verdict.BLOCK}
    assert report.blocked


def test_other_members_names_inside_a_clone_are_masked_too() -> None:
    """'Ana gave Ben feedback' cloned as 'Ben gave Ana feedback' scores as the same note (1.0)."""
    ana = ANA_NOTE + " Ana gave Ben feedback on the role play; Ben thanked Ana."
    ben = clone_for(ana, ("Ana", "Ben", "@"), ("@", "Ana", "Ben"))
    report = check_individuality([section("ana", ana, "Ana"), section("ben", ben, "Ben")], {})
    assert (report.pairs[0].score, report.pairs[0].verdict) == (1.0, Verdict.BLOCK)


def test_genuinely_different_sections_of_one_session_are_ok() -> None:
    """Two members' own notes from the same DBT session share vocabulary but are not flagged."""
    report = check_individuality([section("ana", ANA_NOTE, "Ana"), section("ben", BEN_NOTE, "Ben")], {})
    assert report.pairs == ()
    assert report.verdicts == {"ana": Verdict.OK, "ben": Verdict.OK}
    assert 0 < report.highest["ana"] == report.highest["ben"] < 0.6
    assert not report.blocked


def test_reordered_sentences_are_blocked() -> None:
    """A clone with its sentences shuffled blocks like a plain copy."""
    sentences = clone_for(ANA_NOTE, ("Ana",), ("Ben",)).split(". ")
    shuffled = ". ".join(sentences[3:] + sentences[:3])
    report = check_individuality([section("ana", ANA_NOTE, "Ana"), section("ben", shuffled, "Ben")], {})
    assert report.pairs[0].verdict is Verdict.BLOCK


def test_a_clinic_lowering_block_blocks_a_pair_the_default_only_warns() -> None:
    """A clone with one sentence rewritten warns by default and blocks at a clinic's 0.85."""
    rewritten = clone_for(
        ANA_NOTE,
        ("Ana", "She responded well to paced breathing; distress dropped from 7 to 4."),
        ("Ben", "He found paced breathing hard and stopped halfway through."),
    )
    sections = [section("ana", ANA_NOTE, "Ana"), section("ben", rewritten, "Ben")]
    default = check_individuality(sections, {})
    strict = check_individuality(sections, {}, Thresholds(warn=0.75, block=0.85))
    assert 0.85 <= default.pairs[0].score < 0.95
    assert default.verdicts["ben"] is Verdict.WARN and not default.blocked
    assert strict.verdicts["ben"] is Verdict.BLOCK and strict.blocked


def test_a_copy_of_the_members_previous_week_is_flagged_against_history() -> None:
    """Ana's section of last week copied with a new date blocks, as a history pair naming the old note."""
    last_week = ANA_NOTE + " Diary card for the week of 3/2 reviewed."
    this_week = ANA_NOTE + " Diary card for the week of 3/9 reviewed."
    report = check_individuality(
        [section("ana", this_week, "Ana"), section("ben", BEN_NOTE, "Ben")],
        {
            "ana": [section("note-0302", last_week, "Ana")],
            "ben": [section("note-0302b", BEN_LAST_WEEK, "Ben")],
        },
    )
    assert [(p.first, p.second, p.kind, p.verdict) for p in report.pairs] == [
        ("ana", "note-0302", "history", Verdict.BLOCK)
    ]
    assert report.verdicts == {"ana": Verdict.BLOCK, "ben": Verdict.OK}


def test_shared_passages_explain_what_a_flagged_pair_has_in_common() -> None:
    """A flagged pair lists up to three shared passages, normalized, names masked, at most 160 chars each."""
    ana = "Ana described a calm week at home. " + ANA_NOTE
    ben = "Ben described a difficult week at work. " + clone_for(ANA_NOTE, ("Ana",), ("Ben",))
    [pair] = check_individuality([section("ana", ana, "Ana"), section("ben", ben, "Ben")], {}).pairs
    assert pair.verdict is not Verdict.OK
    assert 1 <= len(pair.shared) <= MAX_SHARED
    assert all(len(p) <= MAX_SHARED_CHARS for p in pair.shared)
    assert pair.shared[0] == (
        "she described using cold water on her face twice this week when urges rose after arguments "
        "with her roommate."
    )
    assert (
        f"{NAME_PLACEHOLDER} arrived on time and volunteered to read the tipp handout aloud." in pair.shared
    )
    assert not any("ana" in p.split() or "ben" in p.split() for p in pair.shared)


def test_pairs_are_listed_highest_first_and_a_member_takes_its_worst_verdict() -> None:
    """Cara's near-copy (warn) and Ben's exact copy (block) are ordered by score; Ana, in both, blocks."""
    cara = clone_for(ANA_NOTE, ("Ana", "distress dropped from 7 to 4"), ("Cara", "it did not help her"))
    cara = cara.replace("Diary card complete for all seven days.", "No diary card this week.")
    report = check_individuality(
        [
            section("ana", ANA_NOTE, "Ana"),
            section("ben", clone_for(ANA_NOTE, ("Ana",), ("Ben",)), "Ben"),
            section("cara", cara, "Cara"),
        ],
        {},
    )
    assert [(p.first, p.second) for p in report.pairs] == [("ana", "ben"), ("ana", "cara"), ("ben", "cara")]
    assert [p.verdict for p in report.pairs] == [Verdict.BLOCK, Verdict.WARN, Verdict.WARN]
    assert report.verdicts == {"ana": Verdict.BLOCK, "ben": Verdict.BLOCK, "cara": Verdict.WARN}
    assert report.highest["cara"] == report.pairs[1].score


def test_short_sections_are_not_compared() -> None:
    """Two near-blank sections do not flag each other; they are listed as skipped."""
    report = check_individuality(
        [
            section("ana", "Attended.", "Ana"),
            section("ben", "  Attended. ", "Ben"),
            section("cara", ANA_NOTE),
        ],
        {"ana": [section("old", "Attended.")]},
    )
    assert report.pairs == ()
    assert report.skipped == ("ana", "ben")
    assert report.verdicts == {"ana": Verdict.OK, "ben": Verdict.OK, "cara": Verdict.OK}
    assert report.highest == {"ana": 0.0, "ben": 0.0, "cara": 0.0}


def test_threshold_problems_rejects_warn_above_block_and_out_of_range() -> None:
    """warn > block is reported on warnAt; values outside (0, 1] on their own field, with the prefix."""
    assert threshold_problems(Thresholds()) == []
    assert threshold_problems(Thresholds(warn=0.7, block=0.7)) == []
    [above] = threshold_problems(Thresholds(warn=0.96, block=0.9), "individuality")
    assert (above.field, above.code) == ("individuality.warnAt", "above_block")
    out = threshold_problems(Thresholds(warn=0, block=1.5))
    assert [(p.field, p.code) for p in out] == [("warnAt", "out_of_range"), ("blockAt", "out_of_range")]
    assert [p.field for p in threshold_problems(Thresholds(warn=float("nan")))] == ["warnAt"]


def test_section_text_keeps_free_text_and_drops_ids_and_choices() -> None:
    """Ids, enum-like single words and numbers are left out; free text is kept in sorted key order."""
    content = {
        "risk": {"level": "low", "note": "Denies SI/HI."},
        "participation": "Engaged throughout the session.",
        "attendance": "present",
        "minutesAttended": 90,
        "goals": [
            {"goalId": "g-1 with spaces", "progress": "improved", "note": "Fewer urges this week."},
            {"goal_id": "g-2", "progress": "unchanged", "note": ""},
        ],
        "homework": ["Diary card complete.", "done"],
    }
    assert section_text(content) == (
        "Fewer urges this week.\nDiary card complete.\nEngaged throughout the session.\nDenies SI/HI."
    )


# --- Corpus: recall on cloned sections and false flags on genuine ones -------------------------

#: Clone kinds that should block at the default thresholds (a rewritten sentence only warns).
BLOCKING_KINDS = ("name_swap", "reordered", "risk_word", "previous_week_date")


def _names(member: Mapping[str, Any]) -> tuple[str, ...]:
    return tuple(n for n in (member["firstName"], member["lastName"], member["preferredName"]) if n)


def _run(session: Mapping[str, Any], clone: Mapping[str, Any] | None = None) -> IndividualityReport:
    members = {m["key"]: m for m in session["members"]}
    sections = [
        SectionText(
            key,
            section_text(clone["content"] if clone and clone["target"] == key else m["content"]),
            _names(m),
        )
        for key, m in members.items()
    ]
    previous = {
        key: [SectionText(p["ref"], section_text(p["content"]), _names(members[key])) for p in earlier]
        for key, earlier in session["previous"].items()
    }
    return check_individuality(sections, previous)


def _verdict(report: IndividualityReport, pair: Mapping[str, Any]) -> Verdict:
    wanted = {pair["first"], pair["second"]}
    found = [p.verdict for p in report.pairs if p.kind == pair["kind"] and {p.first, p.second} == wanted]
    return found[0] if found else Verdict.OK


@functools.cache
def _corpus_results() -> tuple[tuple[dict[str, Any], Verdict], ...]:
    """Every labelled pair of the corpus with its verdict at the default thresholds."""
    corpus = json.loads(CORPUS.read_text(encoding="utf-8"))
    sessions = {s["id"]: s for s in corpus["sessions"]}
    clones = {c["id"]: c for c in corpus["clones"]}
    genuine = {sid: _run(s) for sid, s in sessions.items()}
    results = []
    for pair in corpus["pairs"]:
        if pair["label"] == "clone":
            clone = clones[pair["clone"]]
            report = _run(sessions[clone["session"]], clone)
        else:
            report = genuine[pair["session"]]
        results.append((pair, _verdict(report, pair)))
    return tuple(results)


def test_corpus_has_the_promised_size() -> None:
    """At least 60 genuine sections in sessions sharing a topic, and 30 labelled clones."""
    corpus = json.loads(CORPUS.read_text(encoding="utf-8"))
    assert sum(len(s["members"]) for s in corpus["sessions"]) >= 60
    assert len(corpus["clones"]) >= 30
    assert {p["label"] for p in corpus["pairs"]} == {"genuine", "clone"}


def test_corpus_cloned_sections_are_caught() -> None:
    """Block recall >= 0.9 on name swaps, reorderings, risk-word edits, copied weeks; warn recall >= 0.95."""
    clones = [(p, v) for p, v in _corpus_results() if p["label"] == "clone"]
    by_kind: dict[str, Counter[Verdict]] = {}
    for pair, verdict in clones:
        by_kind.setdefault(pair["cloneKind"], Counter())[verdict] += 1
    print("\nindividuality corpus, cloned pairs at default thresholds (warn 0.80, block 0.95):")
    for kind, counts in by_kind.items():
        total = sum(counts.values())
        print(f"  {kind:<24} n={total:>2}  block {counts[Verdict.BLOCK]:>2}  warn {counts[Verdict.WARN]:>2}")
    blocking = [v for p, v in clones if p["cloneKind"] in BLOCKING_KINDS]
    block_recall = sum(v is Verdict.BLOCK for v in blocking) / len(blocking)
    warn_recall = sum(v is not Verdict.OK for _, v in clones) / len(clones)
    name_swaps = [v for p, v in clones if p["cloneKind"] == "name_swap"]
    print(f"  block recall ({', '.join(BLOCKING_KINDS)}): {block_recall:.3f} of {len(blocking)}")
    print(f"  warn-or-block recall (all {len(clones)} clones): {warn_recall:.3f}")
    assert sum(v is Verdict.BLOCK for v in name_swaps) / len(name_swaps) >= 0.9
    assert block_recall >= 0.9
    assert warn_recall >= 0.95


def test_corpus_genuine_sections_are_not_flagged() -> None:
    """At most 5% of genuine pairs (same session, or a member's own earlier week) warn, and none blocks."""
    genuine = [(p, v) for p, v in _corpus_results() if p["label"] == "genuine"]
    warned = [p for p, v in genuine if v is not Verdict.OK]
    blocked = [p for p, v in genuine if v is Verdict.BLOCK]
    sessions = sum(p["kind"] == "session" for p, _ in genuine)
    rate = len(warned) / len(genuine)
    print(
        f"\nindividuality corpus, genuine pairs: {len(genuine)} ({sessions} session, "
        f"{len(genuine) - sessions} history); false warn {len(warned)} ({rate:.3f}), "
        f"false block {len(blocked)}"
    )
    assert rate <= 0.05
    assert blocked == []
