"""Text meant for a terminal, made safe to print.

What the inputs hold is attacker-influenced: a Message-ID, an EHLO name or a reason is whatever
the sender or the far end chose, a log or configuration line whatever was written there. Printed
raw, a control character could move the cursor, clear the screen or hide a line from the admin.
Text shows each one as `\\xNN`; JSON as `\\u00NN` (the json module leaves DEL and the C1
controls raw when it keeps non-ASCII text readable, so `json_text` escapes those).
"""

from __future__ import annotations

import re

_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")  # C0, DEL and C1
_CONTROL_IN_TEXT = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")  # but tab and line feed
_DEL_AND_C1 = re.compile(r"[\x7f-\x9f]")


def _shown(m: re.Match) -> str:
    return f"\\x{ord(m.group()):02x}"


def escaped(value: str | None) -> str:
    """One value (None as ""), every control character shown, a line feed too: a value in a
    table or a line of its own must stay on that line."""
    if not value:
        return ""
    if value.isprintable():  # the common case, checked in C
        return value
    return _CONTROL.sub(_shown, value)


_ASCII_CONTROLS = bytes(range(0x20)) + b"\x7f"


def needs_escaping(text: str) -> bool:
    """True when `escaped` would change `text` (it holds a C0, DEL or C1 character). ASCII text,
    nearly every log value, is checked as bytes: 2-3 times faster than `str.isprintable`."""
    if text.isascii():
        data = text.encode("ascii")
        return len(data.translate(None, _ASCII_CONTROLS)) != len(data)
    return _CONTROL.search(text) is not None


def printable(text: str) -> str:
    """A whole rendered text: its line feeds and tabs kept (a configuration line or a fix may
    hold tabs), every other control character shown (a carriage return too: it could write
    over the start of its line)."""
    return _CONTROL_IN_TEXT.sub(_shown, text)


def json_text(data: object, **options: object) -> str:
    """`data` as the renderers print JSON: indented, other scripts readable, a final line feed,
    and every control character escaped (json itself escapes only those below a space)."""
    import json  # here: a text answer does without it (a repeated query is timed)

    text = json.dumps(data, indent=2, ensure_ascii=False, **options)
    return _DEL_AND_C1.sub(lambda m: f"\\u{ord(m.group()):04x}", text) + "\n"
