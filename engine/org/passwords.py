"""The password policy: one rule for every path that sets a password (the API, the pages,
`flask create-user`, `flask import-org`); demo data alone is exempt, and only outside production.

A password is accepted when it is
- 10 to 128 characters long, without control characters;
- made of at least three of the four classes upper-case letter, lower-case letter, digit and
  other character (symbols, spaces, Chinese characters) — or 16 characters or more: a long
  passphrase needs no classes (length beats composition; NIST SP 800-63B says the same);
- not one of the 30,000 most common passwords, ignoring case (the list zxcvbn ships);
- not easily guessed: zxcvbn, a maintained strength estimator that knows dictionary words,
  names, keyboard patterns, repeats, sequences, dates and l33t spellings, and is told the
  username and display name, scores it at least 3 of 4 (about 10^8 guesses or more);
- free of the username.
Problems come back as codes; the API names the field with English text, the pages show the
Chinese text of the same code (api/web/password.py).
"""

from __future__ import annotations

from typing import Any

from engine.errors import Invalid, Msg, field_error

MIN_LENGTH = 10
MAX_LENGTH = 128
PASSPHRASE_LENGTH = 16
MIN_SCORE = 3
_ZXCVBN_MAX = 72  # zxcvbn refuses longer input; the first 72 characters decide its score

MESSAGES = {
    "too_short": Msg("at least {n} characters", n=MIN_LENGTH),
    "too_long": Msg("at most {n} characters", n=MAX_LENGTH),
    "control": Msg("no control characters"),
    "classes": Msg(
        "at least three of upper-case letters, lower-case letters, digits and symbols (or {n} characters or more)",
        n=PASSPHRASE_LENGTH,
    ),
    "common": Msg("one of the most common passwords"),
    "guessable": Msg("too easy to guess (common words, names, dates, repeats or keyboard patterns)"),
    "username": Msg("contains the username"),
    "same": Msg("the same as the current password"),
}


def classes(password: str) -> int:
    """How many of upper, lower, digit, other the password uses."""
    return (
        any(c.isupper() for c in password)
        + any(c.islower() for c in password)
        + any(c.isdigit() for c in password)
        + any(not (c.isupper() or c.islower() or c.isdigit()) for c in password)
    )


def problems(password: str, username: str = "", display_name: str = "") -> list[str]:
    """The policy's objections to `password` (codes of MESSAGES), [] when it is acceptable."""
    if not password:
        return ["too_short"]
    if len(password) > MAX_LENGTH:
        return ["too_long"]
    if any(ord(c) < 32 or ord(c) == 127 for c in password):
        return ["control"]
    found = ["too_short"] if len(password) < MIN_LENGTH else []
    if len(password) < PASSPHRASE_LENGTH and classes(password) < 3:
        found.append("classes")
    if username and len(username) >= 3 and username.lower() in password.lower():
        found.append("username")
    from zxcvbn import zxcvbn
    from zxcvbn.matching import RANKED_DICTIONARIES

    if password.lower() in RANKED_DICTIONARIES["passwords"]:
        found.append("common")
    else:
        hints = [h for h in (username, display_name, "sanji") if h]
        if zxcvbn(password[:_ZXCVBN_MAX], user_inputs=hints)["score"] < MIN_SCORE:
            found.append("guessable")
    return found


def details(codes: list[str], field: str) -> list[dict[str, Any]]:
    return [field_error(field, MESSAGES[code].template, code, **MESSAGES[code].params) for code in codes]


def require(password: str, field: str = "password", username: str = "", display_name: str = "") -> None:
    """Raise Invalid (422) naming `field` when the password breaks the policy."""
    codes = problems(password, username, display_name)
    if codes:
        raise Invalid(
            "{field} does not meet the password policy: {problems}",
            details(codes, field),
            field=field,
            problems=[MESSAGES[c] for c in codes],
        )
