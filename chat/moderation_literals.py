"""Which literal words a regex can't match without, so the moderation rules run only the regexes
that can match a message (a long message paid ~90 full regex scans; most rules never match it).

`required_literals(pattern)` reads the parsed regex (the stdlib's own parser) and returns a set of
strings one of which occurs in every match, or None when it can't tell (a rule without a literal
core always runs). `LiteralIndex` answers "which of these literals can occur in this text" from
the text's words: a literal that occurs in the text has each of its space-separated pieces inside
one word, so the pieces found in the words are a superset of what is needed — a rule is skipped
only when a piece it needs is in no word, which the regex could not have matched either.
Sound by construction and checked in tests: every rule match on the corpus passes the filter, and
the filtered rules give the verdicts of running every rule.

`start_literals(pattern)` reads the same tree for strings one of which every match *begins* with;
`Starts.search` then tries the regex only where those occur (`pattern.match(text, position)`)
instead of at every position of the text: a `\b(?:<<group>>) are …` rule tried at each word start
of a 4 kB message cost ~0.1 ms, a handful of anchored attempts cost microseconds. On a long text
every rule's start strings are found in one pass (`LeadFinder`), and the secret shapes' literals
likewise (`MayContain`): Aho–Corasick automata (pyahocorasick) built once per process.
"""

from __future__ import annotations

import os
import re
import re._constants as sre  # type: ignore[import-not-found,unused-ignore]
import re._parser as sre_parse  # type: ignore[import-not-found,unused-ignore]
from collections.abc import Callable, Iterable
from functools import lru_cache
from typing import Any

# At most this many exact strings are tracked for one part of a regex (a product of alternatives
# grows fast); past it the part counts as "anything".
_MAX_EXACT = 64
# At most this many strings are tracked as the beginnings of a regex's matches (`start_literals`).
_MAX_STARTS = 512
# Pieces are cut to this many characters (a prefix of a required piece is required too).
PIECE_CHARS = 12
# Words up to this long are looked up once per process; longer ones are searched each time (past
# HUGE_WORD piece by piece).
_CACHED_WORD = 40
HUGE_WORD = 4096
# Anchored attempts of one rule on one text before `Starts.search` searches the whole text instead.
MAX_ATTEMPTS = 64
# Occurrences of one lead (a group of start strings' common prefix, `Starts`) listed in one text;
# past it the rule searches the whole text (a text made of "как как как …").
MAX_PLACES = 4 * MAX_ATTEMPTS

_Info = tuple[set[str] | None, set[str] | None]  # (every string it can match, one of which must occur)
# A group of start strings (`Starts`): their lead, the pieces they all need besides the anchor, them.
_Group = tuple[str, frozenset[str], tuple[str, ...]]


def _best(candidates: Iterable[set[str] | None]) -> set[str] | None:
    usable = [candidate for candidate in candidates if candidate and "" not in candidate]
    if not usable:
        return None
    # The rarest requirement: longest shortest string, then fewest alternatives.
    return min(usable, key=lambda strings: (-min(map(len, strings)), len(strings)))


def _sequence(items: Any) -> _Info:
    candidates: list[set[str] | None] = []
    run: set[str] = {""}  # exact strings of the current run of fixed parts
    broken = False
    for op, value in items:
        exact, required = _node(op, value)
        if exact is not None and len(run) * len(exact) <= _MAX_EXACT:
            run = {left + right for left in run for right in exact}
            continue
        broken = True
        repeated = _repeated_unit(op, value)
        if repeated is not None and len(run) * len(repeated) <= _MAX_EXACT:
            # "f\*+k": a match holds "f*" (the run, then one repetition) and "*k" (the last one, then on)
            candidates += [{left + right for left in run for right in repeated}, required]
            run = set(repeated)
            continue
        candidates += [run, required]
        run = set(exact) if exact is not None else {""}
    candidates.append(run)
    return (None if broken else run), _best(candidates)


def _node(op: Any, value: Any) -> _Info:
    if op is sre.LITERAL:
        return {chr(value)}, None
    if op is sre.AT or op in (sre.ASSERT, sre.ASSERT_NOT):
        return {""}, None  # zero-width: matches no characters
    if op is sre.IN:
        chars: set[str] = set()
        for kind, item in value:
            if kind is sre.LITERAL:
                chars.add(chr(item))
            elif kind is sre.RANGE and item[1] - item[0] < 8:
                chars.update(map(chr, range(item[0], item[1] + 1)))
            else:  # NEGATE, categories (\w, \d), wide ranges
                return None, None
        return chars, None
    if op is sre.BRANCH:
        branches = [_sequence(branch) for branch in value[1]]
        exact: set[str] | None = None
        if all(branch_exact is not None for branch_exact, _ in branches):
            exact = set().union(*(branch_exact for branch_exact, _ in branches if branch_exact is not None))
            exact = exact if len(exact) <= _MAX_EXACT else None
        alternatives = [branch_required for _, branch_required in branches if branch_required]
        return exact, (set().union(*alternatives) if len(alternatives) == len(branches) else None)
    if op is sre.SUBPATTERN:
        _group, add_flags, _del_flags, pattern = value
        return (None, None) if add_flags & re.IGNORECASE else _sequence(pattern)
    if op is sre.ATOMIC_GROUP:
        return _sequence(value)
    if op in (sre.MAX_REPEAT, sre.MIN_REPEAT, sre.POSSESSIVE_REPEAT):
        low, high, pattern = value
        unit, unit_required = _sequence(pattern)
        if low == 0:
            return (unit | {""} if unit is not None and high == 1 else None), None
        if unit is not None and low == high and len(unit) ** low <= _MAX_EXACT:
            repeated = {""}
            for _ in range(low):
                repeated = {left + right for left in repeated for right in unit}
            return repeated, unit_required
        return None, unit_required or (unit if unit and "" not in unit else None)
    return None, None  # anything else (., backreferences, conditionals): no literal known


def _repeated_unit(op: Any, value: Any) -> set[str] | None:
    """The exact strings of one repetition of `x{n,m}` with n ≥ 1, if known (none can be empty)."""
    if op not in (sre.MAX_REPEAT, sre.MIN_REPEAT, sre.POSSESSIVE_REPEAT) or value[0] < 1:
        return None
    exact, _required = _sequence(value[2])
    return exact if exact and "" not in exact else None


def required_literals(pattern: str, flags: int = 0) -> frozenset[str] | None:
    """Strings one of which every match of `pattern` contains; None when none is known."""
    parsed = sre_parse.parse(pattern, flags)
    if parsed.state.flags & re.IGNORECASE:
        return None
    _exact, required = _sequence(list(parsed))
    return frozenset(required) if required else None


def may_contain(pattern: re.Pattern[str]) -> Callable[[str], bool]:
    """A quick test, False only when `pattern` can't match the text: one of the literals every
    match contains must occur in it — compared as the pattern compares them (case-insensitively
    under IGNORECASE, by a regex of those literals alone). Always True when none is known. For
    patterns searched over raw text (secret shapes in a reply): a `\\b…` pattern costs ~15 ns a
    character, an 8 kB reply ~0.12 ms each."""
    contained = _contained(pattern)
    if contained is None:
        return lambda text: True
    literals, ignore_case = contained
    if ignore_case:
        return _IgnoringCase(literals, pattern.flags & re.ASCII).may_occur
    return lambda text: any(literal in text for literal in literals)


def _contained(pattern: re.Pattern[str]) -> tuple[list[str], bool] | None:
    """The literals `may_contain` looks for, and whether case-insensitively; None: none known."""
    parsed = sre_parse.parse(pattern.pattern, pattern.flags)
    _exact, required = _sequence(list(parsed))
    if not required or "" in required:
        return None
    ignore_case = bool(parsed.state.flags & re.IGNORECASE)
    # A piece of a required literal is required too: a few short ones are quicker to look for.
    return _fewest_pieces(required, 8 if ignore_case else 6), ignore_case


class MayContain:
    """`may_contain` of several patterns at once (the secret shapes over a reply): the literals of
    all of them looked for in one pass over the text, and the case-insensitive patterns' ASCII ones
    in one pass over `text.lower()` (as `_IgnoringCase` looks for them), each with an Aho–Corasick
    automaton (pyahocorasick) — instead of one `in` pass per literal (≈ 50 over an 8 kB reply,
    ≈ 0.2 ms). A pattern's answer is exactly `may_contain`'s."""

    def __init__(self, patterns: Iterable[re.Pattern[str]]) -> None:
        import ahocorasick  # a C extension, loaded with the patterns that use it

        self.count, self.always = 0, set()
        plain: dict[str, list[int]] = {}
        lowered: dict[str, list[int]] = {}
        self.ignoring_case: dict[int, _IgnoringCase] = {}
        for index, pattern in enumerate(patterns):
            self.count += 1
            contained = _contained(pattern)
            if contained is None:
                self.always.add(index)
                continue
            literals, ignore_case = contained
            if ignore_case:
                ignoring = self.ignoring_case[index] = _IgnoringCase(literals, pattern.flags & re.ASCII)
                for literal in ignoring.lowered:
                    lowered.setdefault(literal, []).append(index)
            else:
                for literal in literals:
                    plain.setdefault(literal, []).append(index)
        self.plain, self.lowered = ahocorasick.Automaton(), ahocorasick.Automaton()
        for automaton, literals_of in ((self.plain, plain), (self.lowered, lowered)):
            for literal, indices in literals_of.items():
                automaton.add_word(literal, tuple(indices))
            if literals_of:
                automaton.make_automaton()
        self.any_plain, self.any_lowered = bool(plain), bool(lowered)

    def __call__(self, text: str) -> list[bool]:
        """Per pattern, in order: False only when it can't match the text."""
        found = set(self.always)
        if self.any_plain:
            found.update(index for _end, indices in self.plain.iter(text) for index in indices)
        if self.ignoring_case:
            lowered = _lowered(text)
            if lowered is None:
                found.update(index for index, ignoring in self.ignoring_case.items() if ignoring.finder.search(text))
            else:
                if self.any_lowered:
                    found.update(index for _end, indices in self.lowered.iter(lowered) for index in indices)
                found.update(
                    index
                    for index, ignoring in self.ignoring_case.items()
                    if index not in found and ignoring.others is not None and ignoring.others.search(text)
                )
        return [index in found for index in range(self.count)]


# The only characters that re's IGNORECASE matches with an ASCII character and str.lower() does
# not map to it, or that lower() turns into two characters (a test checks every code point).
_LOWER_DIFFERS = re.compile("[\u0130\u0131\u017f]")


class _IgnoringCase:
    """Whether one of these literals occurs in a text as a case-insensitive regex would find it.
    ASCII literals: looked for in text.lower() (exact for ASCII literals when _LOWER_DIFFERS is
    absent) — the regex, which tries every alternative at every position, costs ~40 ns a character."""

    def __init__(self, literals: list[str], ascii_flag: int) -> None:
        self.lowered = [literal.lower() for literal in literals if literal.isascii()]
        others = [literal for literal in literals if not literal.isascii()]
        self.finder = _finder(literals, ascii_flag)
        self.others = _finder(others, ascii_flag) if others else None

    def may_occur(self, text: str) -> bool:
        lowered = _lowered(text)
        if lowered is None:
            return self.finder.search(text) is not None
        if any(literal in lowered for literal in self.lowered):
            return True
        return self.others is not None and self.others.search(text) is not None


@lru_cache(maxsize=1)
def _lowered(text: str) -> str | None:
    """text.lower() for the case-insensitive checks (every secret shape reads the same reply), or
    None when it holds a character lower() treats unlike the regex."""
    return None if _LOWER_DIFFERS.search(text) else text.lower()


def _finder(literals: list[str], ascii_flag: int) -> re.Pattern[str]:
    """A case-insensitive regex of the literals, one alternative per first character."""
    by_first: dict[str, list[str]] = {}
    for literal in literals:
        by_first.setdefault(literal[0], []).append(re.escape(literal[1:]))
    alternatives = [
        re.escape(first) + ("(?:" + "|".join(rests) + ")" if len(rests) > 1 else rests[0])
        for first, rests in by_first.items()
    ]
    return re.compile("|".join(alternatives), re.IGNORECASE | ascii_flag)


def searcher(pattern: re.Pattern[str]) -> Callable[[str], bool]:
    """`pattern.search(text) is not None`, tried only where a match can begin when the strings every
    match begins with are known (`_starts`; compared as the pattern compares them): for patterns
    searched over raw text (secret shapes in a reply), where a case-insensitive `\\b(?:password|…)`
    costs ≈ 25 ns a character of the whole reply."""
    parsed = sre_parse.parse(pattern.pattern, pattern.flags)
    items = list(parsed)
    strings = _starts(items)
    anchored = bool(items) and items[0][0] is sre.AT and items[0][1] in (sre.AT_BEGINNING, sre.AT_BEGINNING_STRING)
    if not strings or anchored or not all(strings):
        return lambda text: pattern.search(text) is not None
    return _StartSearch(pattern, strings, ignore_case=bool(parsed.state.flags & re.IGNORECASE)).search


class _StartSearch:
    """Where a raw-text pattern's matches can begin: the occurrences of its start strings — found
    with `str.find` (case-insensitively: in `text.lower()` for ASCII strings, exact as in
    `_IgnoringCase`; by a case-insensitive regex of the others, resumed one character after each
    hit so overlapping ones count) — and `pattern.match` there, which reads the text before the
    position for `\\b` as `search` does. Past MAX_ATTEMPTS attempts the text is searched whole."""

    def __init__(self, pattern: re.Pattern[str], strings: set[str], *, ignore_case: bool) -> None:
        self.pattern = pattern
        self.ignore_case = ignore_case
        # Cut to six characters, without any that has another as its prefix: a prefix of a string every
        # match begins with is one too, and fewer strings are fewer passes over the text.
        kept: list[str] = []
        for string in sorted(
            {(string.lower() if ignore_case and string.isascii() else string)[:6] for string in strings}
        ):
            if not (kept and string.startswith(kept[-1])):
                kept.append(string)
        self.plain = tuple(string for string in kept if string.isascii() or not ignore_case)
        others = [string for string in kept if not string.isascii()] if ignore_case else []
        self.others = _finder(others, pattern.flags & re.ASCII) if others else None

    def search(self, text: str) -> bool:
        haystack = text
        if self.ignore_case:
            lowered = _lowered(text)
            if lowered is None:
                return self.pattern.search(text) is not None
            haystack = lowered
        attempts = 0
        for string in self.plain:
            for position in occurrences(haystack, string, MAX_PLACES):
                if self.pattern.match(text, position):
                    return True
                attempts += 1
                if attempts > MAX_ATTEMPTS:
                    return self.pattern.search(text) is not None
        if self.others is not None:
            hit = self.others.search(text)
            while hit is not None:
                if self.pattern.match(text, hit.start()):
                    return True
                attempts += 1
                if attempts > MAX_ATTEMPTS:
                    return self.pattern.search(text) is not None
                hit = self.others.search(text, hit.start() + 1)
        return False


def _fewest_pieces(literals: Iterable[str], length: int) -> list[str]:
    """The literals cut to their first `length` characters, without any that contains another."""
    kept: list[str] = []
    for piece in sorted({literal[:length] for literal in literals}, key=lambda piece: (len(piece), piece)):
        if not any(other in piece for other in kept):
            kept.append(piece)
    return kept


def _starts(items: Any) -> set[str] | None:
    """Strings one of which every match of this sequence begins with; None when none is known."""
    run: set[str] = {""}  # the exact text of the fixed parts read so far
    items = list(items)
    for index, (op, value) in enumerate(items):
        exact, _required = _node(op, value)
        strings = exact if exact is not None else _item_starts(op, value)
        optional = op in (sre.MAX_REPEAT, sre.MIN_REPEAT, sre.POSSESSIVE_REPEAT) and value[0] == 0
        if strings is None and optional and "" in run:
            # "(?:step by \w+ )?guide": a match begins with the optional part or with what follows
            # it (only looked into while nothing is known yet: it multiplies the strings)
            present, absent = _starts(value[2]), _starts(items[index + 1 :])
            strings = None if present is None or absent is None else present | absent
        if strings is None:
            break
        fitted = _fit(len(run), strings)
        if fitted is None:
            break
        run = {left + right for left in run for right in fitted}
        if exact is None or fitted is not strings:
            break  # only the beginning of this part is known: what follows it is not
    return None if "" in run else run


def _fit(multiplier: int, strings: set[str]) -> set[str] | None:
    """`strings`, or (the product being too large) their shortest common cut that fits: a prefix of
    a string every match begins with is one too."""
    if multiplier * len(strings) <= _MAX_STARTS:
        return strings
    for length in range(max(map(len, strings)) - 1, 0, -1):
        cut = {string[:length] for string in strings}
        if multiplier * len(cut) <= _MAX_STARTS:
            return cut
    return None


def _item_starts(op: Any, value: Any) -> set[str] | None:
    if op is sre.BRANCH:
        starts: set[str] = set()
        for branch in value[1]:
            branch_starts = _starts(branch)
            if branch_starts is None:
                return None
            starts |= branch_starts
        return _fit(1, starts)
    if op is sre.SUBPATTERN:
        _group, add_flags, _del_flags, pattern = value
        return None if add_flags & re.IGNORECASE else _starts(pattern)
    if op is sre.ATOMIC_GROUP:
        return _starts(value)
    if op in (sre.MAX_REPEAT, sre.MIN_REPEAT, sre.POSSESSIVE_REPEAT) and value[0] >= 1:
        return _starts(value[2])  # a match begins with one repetition
    return None


def start_literals(pattern: str, flags: int = 0) -> frozenset[str] | None:
    """Strings one of which every match of `pattern` begins with (zero-width parts such as `\\b` and
    lookarounds match no text); None when none is known."""
    parsed = sre_parse.parse(pattern, flags)
    if parsed.state.flags & re.IGNORECASE:
        return None
    starts = _starts(list(parsed))
    if not starts:
        return None
    kept: list[str] = []  # a string with a shorter one as its prefix adds no position
    for string in sorted(starts):
        if not (kept and string.startswith(kept[-1])):
            kept.append(string)
    return frozenset(kept)


def _pieces(literal: str) -> frozenset[str]:
    return frozenset(piece[:PIECE_CHARS] for piece in literal.split(" ") if piece)


def needs(literals: frozenset[str] | None) -> tuple[frozenset[str], ...] | None:
    """A rule's requirement as alternatives of piece sets (all pieces of one alternative must be in
    the text's words); supersets of another alternative are dropped. None: always run."""
    if literals is None:
        return None
    alternatives = sorted({_pieces(literal) for literal in literals}, key=len)
    if not alternatives[0]:
        return None  # a literal of spaces only: nothing to look for
    kept: list[frozenset[str]] = []
    for alternative in alternatives:
        if not any(smaller <= alternative for smaller in kept):
            kept.append(alternative)
    return tuple(kept)


class Requirement:
    """`needs` arranged for a quick test: one-piece alternatives as a set, the others under their
    longest piece (the one least likely to be in a text), looked at only when that piece is."""

    __slots__ = ("anchored", "anchors", "single")

    def __init__(self, alternatives: tuple[frozenset[str], ...]) -> None:
        self.single = frozenset(piece for need in alternatives if len(need) == 1 for piece in need)
        anchored: dict[str, list[frozenset[str]]] = {}
        for need in alternatives:
            if len(need) > 1:
                anchored.setdefault(max(sorted(need), key=len), []).append(need)
        self.anchored = {anchor: tuple(group) for anchor, group in anchored.items()}
        self.anchors = frozenset(anchored)

    def met_by(self, found: frozenset[str]) -> bool:
        if not self.single.isdisjoint(found):
            return True
        return any(need <= found for anchor in self.anchors & found for need in self.anchored[anchor])


def _first_word(string: str) -> str:
    """The string up to a space that ends at least three characters ("how ", "как ", "i want "):
    a shorter lead ("i ", "a ") would occur all over a text."""
    space = string.find(" ", 3)
    return string if space < 0 else string[: space + 1]


class Starts:
    """Where a regex's matches can begin: at an occurrence of one of its start strings
    (`start_literals`). `search` tries the regex only there — `pattern.match(text, position)`
    reads the text before the position for `\\b` and lookbehinds as `search` does — so a rule costs a
    few anchored attempts instead of an attempt at every position of a long text.

    The strings are grouped by their first word; a group's occurrences are found by searching the
    group's common prefix (its `lead`) once, and `text.startswith(strings, position)` tells whether
    one of the group's strings begins there: the same positions as searching each string (every
    string begins with its lead), for one `str.find` pass per group instead of one per string (a
    rule has up to 512 strings; a pass over 8 kB of Cyrillic text costs ≈ 5 µs). A group is looked
    for only when the pieces all its strings share occur in the text's words (`LiteralIndex.found`),
    under the longest of them; a string of the group whose other pieces don't occur can't be at a
    position, so `startswith` needs no filtering of the group by them."""

    __slots__ = ("anchors", "by_anchor", "needs")

    def __init__(self, strings: frozenset[str]) -> None:
        by_word: dict[str, list[str]] = {}
        for string in sorted(strings):
            by_word.setdefault(_first_word(string), []).append(string)
        by_anchor: dict[str, list[_Group]] = {}
        for members in by_word.values():
            shared = frozenset.intersection(*map(_pieces, members))  # the first word's pieces at least
            anchor = max(sorted(shared), key=len)
            lead = os.path.commonprefix(members)  # noqa: RUF071 - character by character is what is meant
            by_anchor.setdefault(anchor, []).append((lead, shared - {anchor}, tuple(members)))
        self.by_anchor = {anchor: tuple(groups) for anchor, groups in by_anchor.items()}
        self.anchors = frozenset(by_anchor)
        self.needs = tuple({_pieces(string) for string in strings})

    @classmethod
    def of(cls, pattern: str, flags: int = 0) -> Starts | None:
        parsed = list(sre_parse.parse(pattern, flags))
        if parsed and parsed[0][0] is sre.AT and parsed[0][1] in (sre.AT_BEGINNING, sre.AT_BEGINNING_STRING):
            return LineStarts(multiline=bool(flags & re.MULTILINE) and parsed[0][1] is sre.AT_BEGINNING)
        strings = start_literals(pattern, flags)
        if strings is None or not all(map(_pieces, strings)):
            return None  # unknown, or a string of spaces only: nothing to look for
        return cls(strings)

    def search(
        self,
        pattern: re.Pattern[str],
        text: str,
        found: frozenset[str],
        positions: dict[str, list[int]] | Places | None = None,
    ) -> bool:
        """Whether `pattern.search(text)` finds a match; `found` is the text's pieces (which must
        include every piece of `needs`). `positions`, when given, keeps each lead's occurrences in
        this text for the other rules that search the same lead (it belongs to one text). Past
        MAX_ATTEMPTS anchored attempts the whole text is searched once (a text made of one start
        string repeated stays linear). `positions` may be a `Places` (every lead found in one pass)."""
        lookup = positions if isinstance(positions, Places) else Places(text, {} if positions is None else positions)
        attempts = 0
        for anchor in self.anchors & found:
            for lead, others, strings in self.by_anchor[anchor]:
                if others and not others <= found:
                    continue  # a piece every string of the group needs is in no word
                places = lookup.of(lead)
                if len(places) > MAX_PLACES:
                    return pattern.search(text) is not None  # a text made of one lead: searched whole
                for position in places:
                    if text.startswith(strings, position):
                        if pattern.match(text, position):
                            return True
                        attempts += 1
                        if attempts > MAX_ATTEMPTS:
                            return pattern.search(text) is not None
        return False

    @property
    def leads(self) -> frozenset[str]:
        """The strings `search` looks for (each group's lead)."""
        return frozenset(lead for groups in self.by_anchor.values() for lead, _others, _strings in groups)


def occurrences(text: str, string: str, limit: int) -> list[int]:
    """The positions where `string` begins in `text` (overlapping ones too), in order, up to
    `limit` + 1 of them (more than `limit`: the caller gives up on positions)."""
    places = []
    position = text.find(string)
    while position >= 0:
        places.append(position)
        if len(places) > limit:
            break
        position = text.find(string, position + 1)
    return places


_NOWHERE: list[int] = []  # the occurrences of a lead that occurs nowhere (shared: never appended to)


class Places:
    """One text's lead occurrences, shared by the rules that search it (`Starts.search`): those in
    `found` (kept as they are worked out); a lead of `every` not in `found` occurs nowhere (`found`
    holds every occurrence of each of them: `LeadFinder.every_place`); any other lead is searched
    with `str.find` when first asked for."""

    __slots__ = ("every", "found", "text")

    def __init__(self, text: str, found: dict[str, list[int]], every: frozenset[str] = frozenset()) -> None:
        self.text, self.found, self.every = text, found, every

    def of(self, lead: str) -> list[int]:
        """Where `lead` begins in the text, in order, overlapping ones too — all of them, or (more
        than MAX_PLACES) at least MAX_PLACES + 1: the caller then searches the whole text."""
        places = self.found.get(lead)
        if places is None:
            places = _NOWHERE if lead in self.every else occurrences(self.text, lead, MAX_PLACES)
            self.found[lead] = places
        return places


class LeadFinder:
    """Every occurrence of every lead of the rules' start strings (`Starts.leads`) in one pass over
    a text: an Aho–Corasick automaton (pyahocorasick; built once per process, ≈ 0.4 MB for the
    rules' ≈ 2,300 leads). A long text's rules look for up to ≈ 80 leads, one `str.find` pass of
    ≈ 5 µs per 8 kB each; the automaton's pass costs ≈ 90 µs per 8 kB. The same positions,
    overlapping ones included (the automaton reports each occurrence at its last character)."""

    # Shorter texts: one `str.find` per lead their few rules look for costs less than the pass.
    MIN_CHARS = 1_000
    # Longer texts too: a 1 MB text made of leads ("как как …") would list each occurrence, where
    # `occurrences` stops past MAX_PLACES.
    MAX_CHARS = 65_536

    def __init__(self, leads: Iterable[str]) -> None:
        import ahocorasick  # a C extension, loaded with the rules that use it

        self.leads = frozenset(leads)
        self.automaton = ahocorasick.Automaton()
        for lead in self.leads:
            self.automaton.add_word(lead, (len(lead) - 1, lead))
        if self.leads:
            self.automaton.make_automaton()

    def places(self, text: str) -> Places:
        """The text's `Places`: every lead's from one pass when the text is MIN_CHARS to MAX_CHARS
        long (more than MAX_PLACES of one lead are all kept: `Starts.search` reads only that there
        are more), else worked out lead by lead as its rules ask."""
        if self.leads and self.MIN_CHARS <= len(text) <= self.MAX_CHARS:
            return Places(text, self.every_place(text), self.leads)
        return Places(text, {})

    def every_place(self, text: str) -> dict[str, list[int]]:
        """Every occurrence of every lead that occurs in the text (overlapping ones too), in order."""
        found: dict[str, list[int]] = {}
        if not self.leads:
            return found
        for end, (back, lead) in self.automaton.iter(text):
            places = found.get(lead)
            if places is None:
                found[lead] = [end - back]
            else:
                places.append(end - back)
        return found


class LineStarts(Starts):
    """A regex that begins with `^` (or `\\A`): its matches begin at the start of the text, or with
    MULTILINE after a newline (the only line break `^` knows) — tried there only."""

    __slots__ = ("multiline",)

    def __init__(self, *, multiline: bool) -> None:
        super().__init__(frozenset())
        self.multiline = multiline

    def search(
        self,
        pattern: re.Pattern[str],
        text: str,
        found: frozenset[str],
        positions: dict[str, list[int]] | Places | None = None,
    ) -> bool:
        if pattern.match(text, 0):
            return True
        position = text.find("\n") if self.multiline else -1
        attempts = 0
        while position >= 0:
            if pattern.match(text, position + 1):
                return True
            attempts += 1
            if attempts > MAX_ATTEMPTS:
                return pattern.search(text) is not None
            position = text.find("\n", position + 1)
        return False


class LiteralIndex:
    """The pieces every rule may need, and which of them a text's words contain."""

    def __init__(self, requirements: Iterable[tuple[frozenset[str], ...] | None]) -> None:
        self.pieces = frozenset(piece for alternatives in requirements for need in alternatives or () for piece in need)
        self.lengths = sorted({len(piece) for piece in self.pieces})
        self._cached = lru_cache(maxsize=65_536)(self._search)

    def _search(self, word: str) -> frozenset[str]:
        pieces, size = self.pieces, len(word)
        return frozenset(
            piece
            for length in self.lengths
            for start in range(size - length + 1)
            if (piece := word[start : start + length]) in pieces
        )

    def found(self, normalised: str) -> frozenset[str]:
        """The pieces that occur in the text's words."""
        cached, search, huge = self._cached, self._search, self._search_huge
        return frozenset().union(
            *(
                cached(word) if len(word) <= _CACHED_WORD else search(word) if len(word) <= HUGE_WORD else huge(word)
                for word in set(normalised.split(" "))
            )
        )

    def _search_huge(self, word: str) -> frozenset[str]:
        # Every substring of a 1 MB word would be 12 M lookups: look for each piece instead.
        return frozenset(piece for piece in self.pieces if piece in word)


def may_match(requirement: Requirement | None, found: frozenset[str]) -> bool:
    """False only when the regex behind `requirement` can't match a text whose pieces are `found`."""
    if requirement is None:
        return True
    return requirement.met_by(found)
