"""Text → tokens for the search index (engine/platform/search.py): Chinese text has no spaces, so
a CJK run is cut into overlapping two-character pieces (bigrams) plus its last character; Latin
words and numbers stay words. `tokens` makes what an entry is indexed by, `query_tokens` and
`match_tokens` what a search asks the index for."""

from __future__ import annotations

import unicodedata
from collections.abc import Iterator

MAX_WORD = 40


def is_cjk(ch: str) -> bool:
    o = ord(ch)
    return (
        0x3400 <= o <= 0x9FFF  # CJK unified ideographs (+ extension A)
        or 0xF900 <= o <= 0xFAFF
        or 0x20000 <= o <= 0x3134F
        or 0x3040 <= o <= 0x30FF  # kana
        or 0xAC00 <= o <= 0xD7AF  # hangul
    )


def normalize(text: str) -> str:
    """Full-width letters and digits as ASCII, lower case: how text is stored and queries compared."""
    return unicodedata.normalize("NFKC", text).lower()


def _pieces(text: str) -> Iterator[tuple[bool, str]]:
    """(is_cjk, piece): runs of CJK characters and words of letters and digits, in order."""
    buf: list[str] = []
    cjk = False
    for ch in text:
        if is_cjk(ch):
            if buf and not cjk:
                yield False, "".join(buf)
                buf = []
            cjk = True
            buf.append(ch)
        elif ch.isalnum():
            if buf and cjk:
                yield True, "".join(buf)
                buf = []
            cjk = False
            buf.append(ch)
        elif buf:
            yield cjk, "".join(buf)
            buf = []
    if buf:
        yield cjk, "".join(buf)


def tokens(text: str) -> list[str]:
    """Index tokens: each CJK run's bigrams and its last character; each word (cut at MAX_WORD)."""
    out: list[str] = []
    for cjk, piece in _pieces(normalize(text)):
        if cjk:
            out.extend(piece[i : i + 2] for i in range(len(piece) - 1))
            out.append(piece[-1])
        else:
            out.append(piece[:MAX_WORD])
    return out


def source_token(source: str) -> str:
    """The token that says an entry's source (a word no text holds)."""
    return "zzsource" + source


def query_tokens(term: str) -> list[tuple[str, bool]]:
    """(token, is_prefix) the index must hold for `term` (already normalized): a CJK run's
    bigrams, or its one character as a prefix; a word as a prefix."""
    out: list[tuple[str, bool]] = []
    for cjk, piece in _pieces(term):
        if cjk and len(piece) > 1:
            out.extend((piece[i : i + 2], False) for i in range(len(piece) - 1))
        else:
            out.append((piece[:MAX_WORD], True))
    return out


def match_tokens(term: str) -> list[tuple[str, bool]]:
    """The tokens a search asks the index for: `query_tokens`, but of a CJK run of three or more
    characters only every other bigram and the last (月度书面报告 → 月度, 书面, 报告). The
    candidates hold the words' bigrams that cover every character; the LIKE check on the text
    (which every search applies) keeps those holding the words as typed. Fewer and rarer
    posting lists to intersect: the index answers faster."""
    out: list[tuple[str, bool]] = []
    for cjk, piece in _pieces(term):
        if cjk and len(piece) > 1:
            last = len(piece) - 2
            out.extend((piece[i : i + 2], False) for i in sorted({*range(0, last + 1, 2), last}))
        else:
            out.append((piece[:MAX_WORD], True))
    return out
