"""Other members' names typed into a member's note section (pure).

A member's individual section lands only on that member's record, so another group member's name
in it discloses that person's participation in treatment; the signing screen flags each mention
for redaction first. `NameMask` applies the same rules to mask names before sections are compared
for individuality (`backend.documentation.individuality`).

Matching rules, all case-insensitive unless said otherwise:

- A name matches as a whole word: not inside a longer word, a hyphenated name ("Marie" is not
  found in "Anne-Marie") or an apostrophe name ("Brien" is not found in "O'Brien"); a possessive
  "'s" is allowed ("Ben's"). Straight and curly apostrophes are the same; an accented letter of a
  roster name also matches its unaccented form ("Jose" for José), not the other way round.
- Forms searched for each other member: "first last", "preferred last", last, first, preferred.
  The longest form wins where forms overlap, so "Ben Okafor" is one mention, not three.
- A single name part that is also a common English word (COMMON_WORD_NAMES: Will, Hope, Grace,
  Mark, May, Faith, Joy, Art, Bell, Young...) counts only when written capitalized and not at the
  start of a sentence, line or list item ("talked with Will" counts; "will practice", "Hope to
  return" and "Will practice" do not). The full name ("Will Turner", "hope sinclair") always counts.
- A form that is also one of the section owner's own names is not a mention: two members called
  Sam, or siblings sharing a last name in a multi-family group, cannot be told apart by that form
  alone; their full names still are.
- Where two other members share a form, the span is reported once for each of them.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

#: Name parts that are also everyday English words (lower case): a lowercase or sentence-initial
#: occurrence is far more likely the word than the person.
COMMON_WORD_NAMES = frozenset(
    {
        # given names
        "amber", "angel", "april", "art", "august", "autumn", "bill", "brook", "buddy", "carol",
        "chase", "chip", "cliff", "crystal", "dale", "dawn", "dean", "destiny", "don", "dot",
        "drew", "earl", "faith", "frank", "gene", "glen", "grace", "grant", "guy", "harmony",
        "honor", "hope", "hunter", "iris", "ivy", "jack", "jean", "joy", "june", "lane", "mark",
        "may", "miles", "misty", "pat", "patience", "pearl", "penny", "rich", "river", "rob",
        "robin", "rose", "ruby", "rusty", "sandy", "skip", "sky", "star", "sterling", "storm",
        "summer", "sunny", "wade", "will",
        # family names
        "bell", "best", "black", "brown", "cook", "good", "green", "hall", "hill", "king",
        "little", "long", "love", "price", "rice", "short", "stone", "wall", "white", "wood",
        "woods", "young",
    }
)  # fmt: skip

_APOSTROPHES = "'\u2019\u02bc"
_COMBINING = "\u0300-\u036f"
# Not inside a word, an O'Name or a hyphenated name.
_BEFORE = rf"(?<![\w{_COMBINING}])(?<!\w[{_APOSTROPHES}])(?<!\w-)"
# Not followed by more of a word or a hyphenated part; a possessive 's is fine.
_AFTER = rf"(?![\w{_COMBINING}])(?!-\w)(?![{_APOSTROPHES}](?!s\b)\w)"
# What may sit between the start of a sentence or list item and its first word.
_SENTENCE_START = re.compile(r"(?:^|[.!?:;\n\u2022*\u2013\u2014-])[\s\"'\u201c\u2018(\[]*$")


@dataclass(frozen=True)
class MemberName:
    key: str
    first_name: str
    last_name: str
    preferred_name: str | None = None

    @property
    def parts(self) -> tuple[str, ...]:
        """The member's names as typed (first, last, preferred), blanks left out."""
        names = (self.first_name, self.last_name, self.preferred_name or "")
        return tuple(n.strip() for n in names if n.strip())

    @property
    def forms(self) -> tuple[str, ...]:
        """Every form searched for, longest first: full names, then single names."""
        first, last, preferred = (
            n.strip() for n in (self.first_name, self.last_name, self.preferred_name or "")
        )
        full = [f"{given} {last}" for given in (first, preferred) if given and last]
        return tuple(dict.fromkeys(f for f in (*full, last, first, preferred) if f))


@dataclass(frozen=True)
class NameMention:
    section_key: str
    mentioned_key: str
    start: int
    end: int


def find_member_names(section_key: str, text: str, roster: Sequence[MemberName]) -> list[NameMention]:
    """Every other roster member's name in `section_key`'s text, in text order (rules: module docstring)."""
    own = {_fold(form) for m in roster if m.key == section_key for form in (*m.forms, *m.parts)}
    found: list[tuple[int, int, str]] = []
    for member in roster:
        if member.key == section_key:
            continue
        for form in member.forms:
            if _fold(form) in own:
                continue
            for match in _form_pattern(form).finditer(text):
                if _is_common_word(form) and not _counts_as_name(text, match):
                    continue
                found.append((match.start(), match.end(), member.key))
    # Longest first, so a full name claims its span before the first or last name inside it.
    found.sort(key=lambda f: (f[0] - f[1], f[0]))
    kept: list[tuple[int, int, str]] = []
    for start, end, key in found:
        clash = any(s < end and start < e and (s, e) != (start, end) for s, e, _ in kept)
        if not clash and (start, end, key) not in kept:
            kept.append((start, end, key))
    kept.sort()
    return [NameMention(section_key, key, start, end) for start, end, key in kept]


class NameMask:
    """Replaces names with a placeholder in many texts, for comparing them (not for spans).

    Built once per check from every name involved. `apply` returns the text casefolded with each
    name replaced; the same whole-word rules as above, except that a common-word name is masked
    wherever it is capitalized (masking a word the same way in both texts does not change how
    alike they are). Expects NFC text with single spaces inside lines (see `apply`).
    """

    __slots__ = ("_capitalized", "_folded", "_placeholder")

    def __init__(self, names: Iterable[str], placeholder: str) -> None:
        forms = sorted({" ".join(n.split()) for n in names if n.strip()}, key=lambda n: (-len(n), n))
        common = [f[0].upper() + f[1:].lower() for f in forms if _is_common_word(f)]
        self._capitalized = [_literal_first(form, accents=False) for form in common]
        self._folded = [_literal_first(f.casefold(), accents=True) for f in forms if not _is_common_word(f)]
        self._placeholder = placeholder

    def apply(self, text: str) -> str:
        """`text` (NFC, runs of spaces collapsed) casefolded, names replaced by the placeholder."""
        text = text.replace("\u2019", "'").replace("\u02bc", "'")
        for prefix, pattern in self._capitalized:
            if prefix in text:
                text = pattern.sub(self._placeholder, text)
        text = text.casefold()
        for prefix, pattern in self._folded:
            if prefix in text:
                text = pattern.sub(self._placeholder, text)
        return text


def _literal_first(form: str, accents: bool) -> tuple[str, re.Pattern[str]]:
    """A case-sensitive pattern for `form` that starts with its letters and checks boundaries after.

    Starting with a literal lets the regex engine jump between occurrences instead of testing
    every position (about five times faster over a 12 x 50 section check); the lookbehinds then
    look back over the name to the character before it. Returns the literal prefix too, a cheap
    `in` test before running the pattern.
    """
    form = unicodedata.normalize("NFC", form)
    body = []
    for char in form:
        base = unicodedata.normalize("NFD", char)[0]
        body.append(
            f"(?:{re.escape(char)}|{re.escape(base)})" if accents and base != char else re.escape(char)
        )
    name = "".join(body)
    prefix = form[: next((i for i, b in enumerate(body) if b.startswith("(?:")), len(form))]
    return prefix, re.compile(
        f"{name}(?<!\\w{name})(?<!\\w-{name})(?<!\\w'{name})(?!\\w)(?!-\\w)(?!'(?!s\\b)\\w)"
    )


def _form_pattern(form: str) -> re.Pattern[str]:
    return re.compile(f"{_BEFORE}{_form_regex(form)}{_AFTER}", re.IGNORECASE)


def _form_regex(form: str) -> str:
    """The regex for one name form: flexible whitespace, apostrophes, hyphens and accents."""
    out = []
    for char in unicodedata.normalize("NFC", form):
        if char.isspace():
            out.append(r"\s+")
        elif char in _APOSTROPHES:
            out.append(f"[{_APOSTROPHES}]")
        elif char == "-":
            out.append("[-\u2010\u2011]")
        else:
            base = unicodedata.normalize("NFD", char)[0]
            variants = re.escape(char) if base == char else f"(?:{re.escape(char)}|{re.escape(base)})"
            out.append(f"{variants}[{_COMBINING}]*")
    return "".join(out)


def _fold(name: str) -> str:
    """Case- and accent-insensitive key of a name, for comparing forms with each other."""
    decomposed = unicodedata.normalize("NFD", " ".join(name.split()).casefold())
    return "".join(c for c in decomposed if not unicodedata.combining(c)).replace("\u2019", "'")


def _is_common_word(form: str) -> bool:
    return " " not in form.strip() and _fold(form) in COMMON_WORD_NAMES


def _counts_as_name(text: str, match: re.Match[str]) -> bool:
    """A common-word name counts when capitalized mid-sentence (see the module docstring)."""
    word = match.group()
    capitalized = word[0].isupper() and not (len(word) > 1 and word.isupper())
    return capitalized and _SENTENCE_START.search(text, 0, match.start()) is None
