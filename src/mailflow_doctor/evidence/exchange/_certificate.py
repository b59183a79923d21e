"""Certificate lines of SMTP protocol logs, in both formats Exchange has written.

Older builds log one `*` line per attribute (value in `data`, label such as `Certificate subject`
in `context`) after a bare `Sending certificate` line. Recent 2016/2019 builds log a single `*`
line whose `context` lists all labels (`Sending certificate Subject Issuer name Serial number ...`)
and whose `data` holds the values separated by spaces. Spaces inside DNs make that second format
ambiguous, so it is read best-effort: only the thumbprint (40 hex digits), the two ISO dates and
the `;`-joined SAN list can be told apart for certain.
"""

from __future__ import annotations

import re

from ...model.exchange import Certificate
from ..timefmt import parse_time

_HEX = re.compile(r"[0-9A-Fa-f]+")
_THUMBPRINT = re.compile(r"[0-9A-Fa-f]{40}")
_ISO_TIME = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:?\d\d)?")

# Label (lower case, without the "certificate " prefix) -> Certificate field.
_LABELS = {
    "subject": "subject",
    "issuer name": "issuer",
    "issuer": "issuer",
    "serial number": "serial",
    "thumbprint": "thumbprint",
    "alternate names": "san",
    "subject alternate names": "san",
    "not before": "not_before",
    "not after": "not_after",
}
_SENT = "sending certificate"
_REMOTE = "remote certificate"


class CertificateLines:
    """Collects one session's certificate lines; keeps ours and the peer's apart.

    Send logs also carry `Remote certificate` lines (the peer's certificate). They are tracked
    separately so they can never be mistaken for the certificate this server presented, which
    is the only one the model has a field for.
    """

    __slots__ = ("sent", "remote", "_target")

    def __init__(self) -> None:
        self.sent: dict[str, str] = {}
        self.remote: dict[str, str] = {}
        self._target = self.sent

    def feed(self, data: str, context: str) -> bool:
        """Take one `*` line; True when it was a certificate line."""
        label = " ".join(context.split()).lower()
        for prefix, block in ((_SENT, self.sent), (_REMOTE, self.remote)):
            if label.startswith(prefix):
                rest = label[len(prefix):].strip()
                if not rest:  # bare "Sending certificate": attribute lines follow
                    block.clear()
                    self._target = block
                elif rest.startswith("subject issuer"):  # the single-line format
                    block.clear()
                    block.update(_single_line(data))
                    self._target = block
                elif rest in _LABELS:  # e.g. "Remote certificate subject"
                    block[_LABELS[rest]] = data.strip()
                else:
                    return False
                return True
        if label.startswith("certificate "):
            label = label[len("certificate "):]
        elif label not in ("not before", "not after"):
            return False
        if label not in _LABELS:
            return False
        self._target[_LABELS[label]] = data.strip()
        return True

    def presented(self) -> Certificate | None:
        """The certificate this server sent, or None when none was logged."""
        return _certificate(self.sent)


def _certificate(values: dict[str, str]) -> Certificate | None:
    if not values:
        return None
    san = tuple(n.strip() for n in values.get("san", "").split(";") if n.strip())
    return Certificate(
        subject=values.get("subject") or None,
        issuer=values.get("issuer") or None,
        serial=values.get("serial") or None,
        thumbprint=values.get("thumbprint") or None,
        not_before=parse_time(values.get("not_before", "")),
        not_after=parse_time(values.get("not_after", "")),
        san=san,
    )


def _single_line(data: str) -> dict[str, str]:
    """Split `subject issuer serial thumbprint not-before not-after sans` as well as it can be."""
    tokens = data.split()
    dates = [i for i, t in enumerate(tokens) if _ISO_TIME.fullmatch(t)]
    end = dates[0] if dates else len(tokens)
    # The thumbprint is the last 40-hex token before the dates (a serial may also be 40 hex).
    thumbs = [i for i in range(end) if _THUMBPRINT.fullmatch(tokens[i])]
    values: dict[str, str] = {}
    if dates:
        values["not_before"] = tokens[dates[0]]
        if len(dates) > 1:
            values["not_after"] = tokens[dates[1]]
        rest = tokens[dates[-1] + 1:]
        if rest:
            values["san"] = " ".join(rest)
    elif tokens and ";" in tokens[-1]:
        values["san"] = tokens[-1]
    if not thumbs:
        names_end = end
    else:
        values["thumbprint"] = tokens[thumbs[-1]]
        names_end = thumbs[-1]
        if names_end > 0 and _HEX.fullmatch(tokens[names_end - 1]):
            names_end -= 1
            values["serial"] = tokens[names_end]
    values.update(_subject_and_issuer(tokens[:names_end]))
    return values


def _subject_and_issuer(tokens: list[str]) -> dict[str, str]:
    """Two DNs written one after the other: the issuer starts at the second `CN=` token."""
    if not tokens:
        return {}
    starts = [i for i, t in enumerate(tokens) if t.upper().startswith("CN=")]
    if len(starts) >= 2:
        cut = starts[1]
    elif len(tokens) == 2:
        cut = 1
    else:
        return {"subject": " ".join(tokens)}
    return {"subject": " ".join(tokens[:cut]), "issuer": " ".join(tokens[cut:])}
