"""Other group members' names typed into a member's note section."""

from __future__ import annotations

from backend.documentation.names import MemberName, NameMask, find_member_names

ANA = MemberName("c-1", "Ana", "Lopez")
BEN = MemberName("c-2", "Ben", "Okafor")
WILL = MemberName("c-3", "Will", "Turner")
HOPE = MemberName("c-4", "Hope", "Sinclair")
JOSE = MemberName("c-5", "José", "Ramírez")
LIAM = MemberName("c-6", "Liam", "O'Brien")
ANNE_MARIE = MemberName("c-7", "Anne-Marie", "Dubois")
TRISH = MemberName("c-8", "Patricia", "Walsh", "Trish")
ROSTER = [ANA, BEN, WILL, HOPE, JOSE, LIAM, ANNE_MARIE, TRISH]


def mentioned(text: str, owner: MemberName = ANA, roster: list[MemberName] = ROSTER) -> list[tuple[str, str]]:
    return [(m.mentioned_key, text[m.start : m.end]) for m in find_member_names(owner.key, text, roster)]


def test_another_members_first_name_is_flagged_with_its_span() -> None:
    """Ben's first name in Ana's section is reported with the exact span to redact."""
    text = "Ana gave feedback to Ben about his role play."
    [mention] = find_member_names("c-1", text, ROSTER)
    assert (mention.section_key, mention.mentioned_key) == ("c-1", "c-2")
    assert text[mention.start : mention.end] == "Ben"


def test_the_members_own_name_is_not_a_mention() -> None:
    """Ana's own first, last and full name in her section are not flagged."""
    assert mentioned("Ana Lopez arrived on time; Ms. Lopez said Ana's week was calm.") == []


def test_full_name_is_one_mention_not_three() -> None:
    """'Ben Okafor' is reported once, spanning both names, and a lone last name counts too."""
    assert mentioned("She sat next to Ben  Okafor. Later okafor left early.") == [
        ("c-2", "Ben  Okafor"),
        ("c-2", "okafor"),
    ]


def test_matching_is_case_insensitive_and_whole_word() -> None:
    """'BEN' counts; 'Benjamin' and 'bench' do not contain a mention of Ben."""
    assert mentioned("BEN was loud. Benjamin from work sat on a bench.") == [("c-2", "BEN")]


def test_possessive_counts_as_the_name() -> None:
    """'Ben's' and 'Ben\u2019s' (typographic apostrophe) are mentions of Ben."""
    assert mentioned("She echoed Ben's point and Ben\u2019s example.") == [("c-2", "Ben"), ("c-2", "Ben")]


def test_common_word_name_counts_only_when_capitalized_mid_sentence() -> None:
    """'will' the verb and a sentence-initial 'Will' are not flagged; 'with Will' is."""
    text = "She will practice DEAR MAN. Will you try it, she asked. She role played with Will today."
    assert mentioned(text) == [("c-3", "Will")]
    assert find_member_names("c-1", text, ROSTER)[0].start == text.rindex("Will")


def test_common_word_name_followed_by_last_name_always_counts() -> None:
    """'will turner' and 'Hope Sinclair' at the start of a sentence are full names, so they count."""
    assert mentioned("Hope Sinclair shared first. She said will turner helped.") == [
        ("c-4", "Hope Sinclair"),
        ("c-3", "will turner"),
    ]


def test_hope_the_word_is_not_hope_the_member() -> None:
    """Lowercase 'hope' and 'Hope' opening a sentence or list item are the word."""
    assert mentioned("She expressed hope about work.\nHope to return next week.\n- Hope is rising.") == []


def test_accented_apostrophe_and_hyphenated_names_are_found() -> None:
    """José (also typed Jose), O'Brien (also with a typographic apostrophe) and Anne-Marie are found."""
    text = "José and Jose agreed; O\u2019Brien and Anne-Marie disagreed."
    assert mentioned(text) == [
        ("c-5", "José"),
        ("c-5", "Jose"),
        ("c-6", "O\u2019Brien"),
        ("c-7", "Anne-Marie"),
    ]


def test_part_of_a_hyphenated_or_apostrophe_name_is_not_another_members_name() -> None:
    """'Marie' inside 'Anne-Marie' and 'Brien' inside 'O'Brien' do not match members called Marie or Brien."""
    marie = MemberName("c-20", "Marie", "Curie")
    brien = MemberName("c-21", "Brien", "Stone")
    text = "Anne-Marie and Liam O'Brien spoke."
    assert mentioned(text, roster=[ANA, marie, brien, ANNE_MARIE, LIAM]) == [
        ("c-7", "Anne-Marie"),
        ("c-6", "Liam O'Brien"),
    ]


def test_preferred_name_is_a_mention() -> None:
    """A member known as Trish is found by her preferred name and by 'Trish Walsh'."""
    assert mentioned("Trish Walsh and later Trish shared.") == [("c-8", "Trish Walsh"), ("c-8", "Trish")]


def test_a_name_shared_with_the_owner_is_not_flagged_alone() -> None:
    """In a multi-family group, Maya's section saying 'Patel' is her own name, even if Ravi Patel attends."""
    maya = MemberName("c-30", "Maya", "Patel")
    ravi = MemberName("c-31", "Ravi", "Patel")
    assert mentioned("Ms. Patel said Ravi Patel helped her; Ravi agreed.", maya, [maya, ravi]) == [
        ("c-31", "Ravi Patel"),
        ("c-31", "Ravi"),
    ]


def test_two_other_members_sharing_a_first_name_are_both_reported() -> None:
    """'Sam' is reported for both Sams; the clinician chooses which to redact."""
    sam_a = MemberName("c-40", "Sam", "Reed")
    sam_b = MemberName("c-41", "Sam", "Ortiz")
    assert sorted(mentioned("She thanked Sam.", ANA, [ANA, sam_a, sam_b])) == [
        ("c-40", "Sam"),
        ("c-41", "Sam"),
    ]


def test_name_mask_masks_common_word_names_only_when_capitalized() -> None:
    """Masking replaces 'Will' wherever it is capitalized, never the verb 'will', and folds case."""
    mask = NameMask(["Will", "Turner", "José", "O'Brien"], "#")
    assert mask.apply("Will said he will call Jose, TURNER and O\u2019Brien's sister.") == (
        "# said he will call #, # and #'s sister."
    )


def test_name_mask_keeps_parts_of_longer_words_and_names() -> None:
    """'Ana' is not masked inside 'Anabel', 'banana' or 'Mary-Ana'; 'Ana's' is."""
    assert NameMask(["Ana"], "#").apply("Anabel ate a banana; Mary-Ana and Ana's sister.") == (
        "anabel ate a banana; mary-ana and #'s sister."
    )
