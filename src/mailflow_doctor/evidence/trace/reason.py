"""Decode Exchange Online Defer/Fail reasons (`[{LED=...};{MSG=...};...]`) into a DeferReason.

The shape is not documented; it is known from real copies (formats.md §3.5 and §3.6):

    Reason: [{LED=<reply> [Message=..] [LastAttemptedServerName=..] [LastAttemptedIP=ip:port]
    [SmtpSecurity=a;b] [<EOP server> <UTC time> <session>]};{MSG=..};{FQDN=..};{IP=..};{LRT=..}].
    OutboundProxyTargetIP: <ip>. OutboundProxyTargetHostName: <host>

The LED text may itself hold `{`, `}` and `;`, so the fields are found by anchoring on `};{MSG=`,
`};{FQDN=`, ... searched from the right, never by splitting on `;`. Copies pasted from the UI or
forums are often cut short: whatever was read before the cut is kept and `truncated` is set. NDR
text (`... returned '450 4.4.316 Connection refused [Message=...] [...](Socket error code 10061)'`)
goes through the same LED decoding. The decoder is called once per trace row, so its Python
works with a handful of precompiled regexes and `str.find`, never character by character.

Almost every real string has one well-formed shape (brackets in their usual order, no `}` or `]`
inside values). Those are read in C when the package was built with its compiled reader
(`_reason_scan.pyx`, `_decode_compiled`), else by one regex pass over the whole string and, when
the LED holds brackets, one over the LED (`_decode_dominant`); anything else, or anything those
would read differently, goes the general way (`_decode_general`). All must give equal results:
tests/test_reason_fastpath.py checks it.
"""

from __future__ import annotations

import re
from datetime import datetime
from functools import lru_cache

from ...model.trace import DeferReason
from .._records import draft_of
from ..timefmt import parse_time

__all__ = ["decode_reason"]

# `450 4.4.316`, `451-4.7.23`, `4.7.321` at the start of the LED text.
_REPLY_AT_START = re.compile(
    r"\s*(?:([2-5]\d\d)(?:[ -]|$))?(?:([2-5]\.\d{1,3}\.\d{1,3})(?!\w|\.\d))?[ \t]*"
)
# A reply anywhere in free text (NDR lines); an enhanced code is required so that bare numbers
# and IP addresses never pass for a reply.
_REPLY_ANYWHERE = re.compile(r"(?<![\w.])(?:([2-5]\d\d)[ -])?([2-5]\.\d{1,3}\.\d{1,3})(?!\w|\.\d)")
# Matched at the found `error code` (minus the 7-letter word before it): scanning the whole
# string for the alternation is slow.
_SOCKET = re.compile(r"(?:[Ss]ocket|insock) error code:?\s*(\d{1,9})")
_SOCKET_TAIL = re.compile(r"\s*\((?:[Ss]ocket|[Ww]insock) error code:?\s*\d+\)\s*$")
_META_KEY = re.compile(r"\[(?:Message|LastAttemptedServerName|LastAttemptedIP|SmtpSecurity)=")
_META_SPLIT = re.compile(r"\]\s*\[")
_EOP_BRACKET = re.compile(
    r"\s*([A-Za-z0-9][A-Za-z0-9-]*(?:\.[A-Za-z0-9-]+)+)"
    r"(?:\s+(\d{4}-\d\d-\d\dT[0-9:.]+Z?))?(?:\s+([0-9A-Fa-f]{16}))?\s*"
)

# Structured fields after the LED, as (anchor, DeferReason field).
_FIELDS = tuple(
    ("};{" + name + "=", key)
    for name, key in (
        ("MSG", "msg"),
        ("FQDN", "fqdn"),
        ("IP", "ip"),
        ("LRT", "lrt"),
        ("Last attempted server name", "last_attempted_server"),  # pre-2017 form
    )
)
_STD_TAIL = re.compile(
    r"\};\{MSG=([^{}]*)\};\{FQDN=([^{}]*)\};\{IP=([^{}]*)\};\{LRT=([^{}]*)\}\s*(\])?\s*"
)
_META_FIELDS = {
    "Message": "inner_message",
    "LastAttemptedServerName": "last_attempted_server",
    "LastAttemptedIP": "last_attempted_ip",
    "SmtpSecurity": "smtp_security",
}
_PROXY_IP = "OutboundProxyTargetIP:"
_PROXY_HOST = "OutboundProxyTargetHostName:"

# The dominant shape, bracketed (`Reason: [{LED=...};{MSG=...};...}]. OutboundProxy...`) or as NDR
# text (`450 4.4.316 Connection refused [Message=...] ... [<EOP server>](Socket error code N)`).
# The regex engine scans "anything but one character" (`[^}]*`) about eight times faster than a
# set of characters, so long values are matched that way (a value may then hold `{`, which the
# general path reads the same way), and the other sets are ASCII ranges, which compile to bitmaps.
# An optional part is written `(?:...|)`: as `(?:...)?` it costs a copy of all group marks.
_REPLY_CODES = r"([2-5]\d\d)[ -]([2-5]\.\d{1,3}\.\d{1,3}) "
# The reply up to the first `[`, the metadata brackets in their usual order, then text that the
# general path drops. The EOP server bracket is a narrower _EOP_BRACKET in ASCII sets (its own
# `\s` and repeated label group cost more than the rest of the LED); a host with an empty label
# (`a..b`), which _EOP_BRACKET would not accept, is declined afterwards.
_METADATA = (
    r"([^[]*)"
    r"(?:\[Message=([^]]*)\] ?|)"
    r"(?:\[LastAttemptedServerName=([^]]*)\] ?|)"
    r"(?:\[LastAttemptedIP=([^]]*)\] ?|)"
    r"(?:\[SmtpSecurity=([^]]*)\] ?|)"
    r"(?:\[([A-Za-z0-9][A-Za-z0-9-]*\.[A-Za-z0-9.-]*[A-Za-z0-9-])"
    r"(?: ([0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9:.]+Z?)|)(?: ([0-9A-Fa-f]{16})|)\]|)"
    r"([^[]*)"
)
# The LRT's usual US form is taken apart here (see _us_time); the suffix words are `[!-9;-~]`, i.e.
# printable ASCII but `:`.
_BRACKETED = re.compile(
    r"(?:Reason: )?\[\{LED=" + _REPLY_CODES + r"([^}]*)\};\{MSG=([^}]*)\};\{FQDN=([^}]*)\};"
    r"\{IP=([^}]*)\};\{LRT="
    r"(?:([0-9]{1,2})/([0-9]{1,2})/([0-9]{4}) (1[0-2]|[1-9]):([0-9]{2}):([0-9]{2}) ([AP])M"
    r"|([^}]*))\}\]"
    r"(?:\. OutboundProxyTargetIP: ([!-9;-~]*[!-\-/-9;-~])\. "
    r"OutboundProxyTargetHostName: ([!-9;-~]*[!-\-/-9;-~])\.?|)"
)
_LED_METADATA = re.compile(_METADATA)
_NDR = re.compile(_REPLY_CODES + _METADATA)
# For _us_time: a one-digit day or month padded; 12-hour clock to 24-hour (12 AM is midnight).
_PAD = {str(n): f"0{n}" for n in range(10)}
_HOUR_AM = {str(hour): f"{hour % 12:02d}" for hour in range(1, 13)}
_HOUR_PM = {str(hour): f"{hour % 12 + 12:02d}" for hour in range(1, 13)}


# DeferReason's frozen __init__ costs more than the decoding itself (see _records).
_Draft = draft_of(DeferReason)


def decode_reason(text: str) -> DeferReason | None:
    """Decode one reason string; None when it holds no LED and no SMTP reply at all.

    Never raises: trace rows are attacker-influenced data and one odd row must not stop a file.
    """
    if not isinstance(text, str) or not text:
        return None
    return _decode_cached(text)


@lru_cache(maxsize=4096)
def _decode_cached(text: str) -> DeferReason | None:
    # One reason string recurs for every recipient of a message and in every export of it; the
    # result is immutable, so repeats are served from here.
    try:
        return _decode(text)
    except Exception:  # pragma: no cover - last-resort guard; the fuzz tests call _decode directly
        return DeferReason(raw=text, truncated=True)


def _word(value: str) -> str | None:
    """A suffix value: one word, without the dot that ends its sentence; may be missing
    (`OutboundProxyTargetIP: OutboundProxyTargetHostName: mail.contoso.com`)."""
    parts = value.split(None, 1)
    return parts[0].rstrip(".") or None if parts else None


def _decode(text: str) -> DeferReason | None:
    return (_decode_compiled is not None and _decode_compiled(text)) or \
        _decode_dominant(text) or _decode_general(text)


def _decode_dominant(text: str) -> DeferReason | None:
    """The dominant shape in one or two regex passes; None for any other string (not only
    non-reasons). Each early None marks where the general path could read the string otherwise."""
    m = _BRACKETED.fullmatch(text)
    if m is not None:
        (smtp, enhanced, led, msg, fqdn, ip, month, day, year, hour, minute, second, meridiem, lrt,
         proxy_ip, proxy_host) = m.groups()
        if proxy_ip is None and "OutboundProxyTarget" in text:
            return None  # a suffix keyword inside a value would move the general path's cut
        if "[" in led:
            r = _LED_METADATA.fullmatch(led)
            if r is None:
                return None
            (reply, message, server, attempted_ip, security, eop_server, eop_time, eop_session,
             after) = r.groups()
        else:
            reply, after = led, ""
            message = server = attempted_ip = security = eop_server = eop_time = eop_session = None
    elif "LED=" in text or "OutboundProxyTarget" in text:
        return None  # the general path would read NDR text from that `LED=` on, or cut it
    else:
        r = _NDR.fullmatch(text)
        if r is None:
            return None
        (smtp, enhanced, reply, message, server, attempted_ip, security, eop_server, eop_time,
         eop_session, after) = r.groups()
        msg = fqdn = ip = month = lrt = proxy_ip = proxy_host = None
    if "]" in after or eop_server and ".." in eop_server:
        return None  # the general path would end the last bracket there, or not read that host
    d = _Draft()
    d.raw = text
    d.smtp_code = int(smtp)
    d.enhanced_code = enhanced
    d.text = _reply_text(reply)
    d.inner_message = message and message.strip() or None
    d.last_attempted_server = server and server.strip() or None
    d.last_attempted_ip = attempted_ip and attempted_ip.strip() or None
    d.smtp_security = security and security.strip() or None
    d.eop_server = eop_server
    d.eop_time = eop_time and parse_time(eop_time)
    d.eop_session = eop_session and eop_session.upper()
    d.msg = msg and msg.strip() or None
    d.fqdn = fqdn and fqdn.strip() or None
    d.ip = ip and ip.strip() or None
    d.lrt = _us_time(month, day, year, hour, minute, second, meridiem) if month else \
        parse_time(lrt)
    d.proxy_target_ip = proxy_ip
    d.proxy_target_host = proxy_host
    # The socket error is most often the whole Message or MSG value; when no `error code` comes
    # before that value, it is the first in the text, and the scan of _socket_error is saved.
    socket_error = None
    if message is not None and "error code" not in reply:
        socket_error = _whole_socket_error(message)
    elif msg is not None and "error code" not in led:  # a MSG only in the bracketed form
        socket_error = _whole_socket_error(msg)
    d.socket_error = _socket_error(text) if socket_error is None else socket_error
    d.truncated = False
    d.__class__ = DeferReason
    return d  # type: ignore[return-value]


def _us_time(month: str, day: str, year: str, hour: str, minute: str, second: str,
             meridiem: str) -> datetime | None:
    """An LRT in the service's US form (`3/16/2017 4:59:18 PM`), read as parse_time reads it
    but by the C ISO parser: the general route costs a third of a whole fast decode."""
    try:
        hour = (_HOUR_PM if meridiem == "P" else _HOUR_AM)[hour]
        return datetime.fromisoformat(f"{year}-{_PAD.get(month, month)}-{_PAD.get(day, day)}T"
                                      f"{hour}:{minute}:{second}+00:00")
    except ValueError:  # no such day
        return None


def _reply_text(text: str) -> str:
    """The reply's own words: without the `(Socket error code N)` or `##` that may end them."""
    text = text.strip()
    end = text[-1:]
    if end == ")":
        return _SOCKET_TAIL.sub("", text)
    if end == "#":
        return text.rstrip("#").rstrip()
    return text


def _decode_general(text: str) -> DeferReason | None:
    """Any string: cut-off copies, braces in the LED, old-style fields, NDR and log text."""
    f: dict = {"raw": text}

    # 1. The `. OutboundProxyTargetIP: X. OutboundProxyTargetHostName: Y` suffix (either part may
    #    be empty or missing); everything before it is the bracketed reason.
    cut = text.rfind(_PROXY_IP)
    if cut < 0:
        cut = text.rfind(_PROXY_HOST)
    if cut >= 0:
        tail = text[cut:]
        host_at = tail.find(_PROXY_HOST)
        if tail.startswith(_PROXY_IP):
            ip = _word(tail[len(_PROXY_IP):host_at] if host_at > 0 else tail[len(_PROXY_IP):])
            if ip:
                f["proxy_target_ip"] = ip
        if host_at >= 0:
            host = _word(tail[host_at + len(_PROXY_HOST):])
            if host:
                f["proxy_target_host"] = host
        body = text[:cut].rstrip()
        if body.endswith("."):
            body = body[:-1]
    else:
        body = text

    # 2. Split the LED from the structured fields that follow it.
    at = _find_led(body)
    if at >= 0:
        led, truncated = _split_fields(body[at + 4:], body[at - 2:at] == "[{", f)
    else:
        led = _free_text_reply(body)
        if led is None:
            return None
        truncated = False

    # 3. The reply itself: codes, text, bracket metadata.
    truncated = _decode_led(led, f) or truncated

    lrt = f.pop("lrt", None)
    if lrt is not None:
        f["lrt"] = parse_time(lrt)
    socket_error = _socket_error(text)
    if socket_error is not None:
        f["socket_error"] = socket_error
    if truncated:
        f["truncated"] = True
    return DeferReason(**f)


def _socket_error(text: str) -> int | None:
    """N of the first `Socket error code N` / `Winsock error code: N`, anywhere in the text."""
    at = text.find("error code")
    while at >= 0:
        m = _SOCKET.match(text, max(0, at - 7))  # 7 = len("Socket "), len("insock ")
        if m:
            return int(m.group(1))
        at = text.find("error code", at + 10)
    return None


def _whole_socket_error(value: str) -> int | None:
    """N when the value is just `Socket error code N` (up to 9 digits), read as _SOCKET reads it."""
    if value.startswith("Socket error code "):
        number = value[18:]
        if number.isdecimal() and len(number) <= 9:
            return int(number)
    return None


def _find_led(body: str) -> int:
    """Where `LED=` starts as a field name (not inside a word such as `FILED=`); -1 if absent.

    A plain find, because a regex with a look-behind scans the whole string slowly."""
    at = body.find("LED=")
    while at > 0 and body[at - 1].isalnum():
        at = body.find("LED=", at + 4)
    return at


def _free_text_reply(body: str) -> str | None:
    """The reply inside NDR or log text: from its code to the closing quote, if quoted."""
    m = _REPLY_ANYWHERE.search(body)
    meta = _META_KEY.search(body)
    if meta and (m is None or m.start() > meta.start()):
        # A fragment such as `Cannot establish session [Message=451 5.7.3 ...]`: the code seen
        # first belongs to the inner message, the outer reply was cut off.
        return body.strip()
    if m is None:
        return None
    start = m.start()
    end = len(body)
    quote = body[start - 1] if start else ""
    if quote in ("'", '"'):
        close = body.rfind(quote)
        if close > start:
            end = close
    return body[start:end]


def _split_fields(rest: str, bracketed: bool, f: dict) -> tuple[str, bool]:
    """Fill MSG/FQDN/IP/LRT/old-style fields into f; return the LED text and truncation."""
    at = rest.rfind("};{MSG=")
    if at >= 0:
        # Fast path for the complete modern form, the one seen on almost every row.
        m = _STD_TAIL.fullmatch(rest, at)
        if m:
            msg, fqdn, ip, lrt, close = m.groups()
            f["msg"] = msg.strip() or None
            f["fqdn"] = fqdn.strip() or None
            f["ip"] = ip.strip() or None
            f["lrt"] = lrt.strip() or None
            return rest[:at], bracketed and not close
    anchors = []
    for anchor, key in _FIELDS:
        at = rest.rfind(anchor)
        if at >= 0:
            anchors.append((at, len(anchor), key))
    truncated = False
    if not anchors:
        close = rest.rfind("}")
        if close < 0:
            return rest, True
        tail = rest[close + 1:].lstrip()
        return rest[:close], bracketed and not tail.startswith("]")
    anchors.sort()
    for i, (at, size, key) in enumerate(anchors):
        if i + 1 < len(anchors):
            value = rest[at + size:anchors[i + 1][0]]
        else:
            value = rest[at + size:]
            close = value.find("}")
            if close < 0:
                truncated = True
            else:
                tail = value[close + 1:].lstrip()
                value = value[:close]
                truncated = bracketed and not tail.startswith("]")
        f[key] = value.strip() or None
    return rest[:anchors[0][0]], truncated


def _decode_led(led: str, f: dict) -> bool:
    """Fill smtp_code, enhanced_code, text and the bracket metadata; True when cut short."""
    m = _REPLY_AT_START.match(led)
    smtp, enhanced = m.groups()
    if smtp:
        f["smtp_code"] = int(smtp)
    if enhanced:
        f["enhanced_code"] = enhanced
    after = led[m.end():]

    at = after.find("[")
    if at >= 0:
        km = _META_KEY.search(after, at)
        if km:
            at = km.start()
        else:
            at = after.rfind("[")
            if not _EOP_BRACKET.fullmatch(after[at + 1:].split("]", 1)[0]):
                at = -1
    if at < 0:
        text, meta = after, ""
    else:
        text, meta = after[:at], after[at + 1:]
    f["text"] = _reply_text(text)
    if not meta:
        return False

    parts = _META_SPLIT.split(meta)
    last = parts[-1]
    close = last.rfind("]")
    truncated = close < 0
    if not truncated:
        parts[-1] = last[:close]
    for i, part in enumerate(parts):
        key, eq, value = part.partition("=")
        field = _META_FIELDS.get(key) if eq else None
        if field:
            f[field] = value.strip() or None
            continue
        if truncated and i == len(parts) - 1:
            continue  # a half-written server name is worse than none
        eop = _EOP_BRACKET.fullmatch(part)
        if eop:
            f["eop_server"] = eop.group(1)
            if eop.group(2):
                f["eop_time"] = parse_time(eop.group(2))
            if eop.group(3):
                f["eop_session"] = eop.group(3).upper()
    return truncated


try:  # the compiled reader of the dominant shape, when the package was built with it
    from ._reason_scan import Scanner
except ImportError:  # installed without a C compiler: the regex path reads every string
    _decode_compiled = None
else:
    _decode_compiled = Scanner(DeferReason, _reply_text, parse_time, _socket_error,
                               _whole_socket_error).decode
