"""The readers of the dominant reason shape must agree with the general decoder.

`_decode_dominant` (two regex passes) and `_decode_compiled` (the C reader in _reason_scan.pyx,
when the package was built with it) may decline any string (None), but what they return must
equal what `_decode_general` returns for the same string, field for field.
"""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from test_reason import EXAMPLES, REASONISH

from mailflow_doctor.evidence.trace import reason
from mailflow_doctor.evidence.trace.reason import _decode_dominant, _decode_general
from mailflow_doctor.model.trace import DeferReason

READERS = [_decode_dominant] + ([reason._decode_compiled] if reason._decode_compiled else [])

PLAIN = st.text(alphabet="abcxyz019.-: ", max_size=12)
# A socket error as the whole value (read there without a scan), and near misses of that.
SOCKET = st.integers(0, 10**10).map("Socket error code {}".format) | st.sampled_from([
    "Socket error code ", "Socket error code 12 ", "Socket error code  12", "socket error code 3",
    "Socket error code 1\u0663", "Socket error code \xb2", "Socket error code: 4",
    "Winsock error code: 5", "xSocket error code 6"])
# Value text made of what the two paths treat specially.
TRICKY = st.lists(
    st.sampled_from(list("ab .:;-#()[]{}=\t\n\xa0\x1c") + [
        "LED=", "};{MSG=", "};{Last attempted server name=", "] [", "Socket error code 1",
        "OutboundProxyTargetIP: "]),
    max_size=8,
).map("".join)
HOST = st.from_regex(r"[A-Za-z0-9][A-Za-z0-9-]{0,5}(\.[A-Za-z0-9-]{1,5}){1,3}", fullmatch=True)
ODD_HOST = st.sampled_from(["a..b", "a.b.", "-a.b", "ab", "a_b.c", "a.-b", "a.b-", "\xe9.b", " a.b",
                           "a.b ", "Message=a.b"])
SESSION = st.from_regex(r"[0-9A-Fa-f]{16}", fullmatch=True)
ODD_SESSION = st.from_regex(r"[0-9A-Za-z]{15,17}", fullmatch=True)
ISO = st.sampled_from(["2025-01-29T19:07:30.476Z", "2023-03-07T18:46:06Z"])
ODD_ISO = st.sampled_from(["2023-13-07T18:46:06Z", "2023-03-07T18:46:06.3781234Z", "2023-03-07",
                          "2023-03-07T18:46:06Zx", "\t2023-03-07T18:46:06Z"])
WORD = st.from_regex(r"[A-Za-z0-9.-]{0,8}[A-Za-z0-9-]", fullmatch=True)
ODD_WORD = st.from_regex(r"\S{0,6}", fullmatch=True) | st.sampled_from(
    ["", "2001:db8::1", "a.", "OutboundProxyTargetIP:x", "OutboundProxyTargetHostName:x", "\xe9",
     "a\x1cb", "a\xa0", ".", "a..", "{a}"])
DIGIT = "\u0663"  # a digit to `\d` and int(), not to the ISO parser
ODD_ISO = ODD_ISO | st.just(f"2023-03-0{DIGIT}T18:46:06Z")

KINDS = ("smtp", "dash", "enhanced", "text", "meta", "sep", "host", "iso", "session", "after",
         "tail", "opening", "field", "other-lrt", "month", "day", "year", "hour", "minute",
         "second", "meridiem", "dot", "ip", "proxy-host", "cut")


class Part:
    """Draws the parts of one string: the usual ones, except that (in most strings) the parts
    of one kind are odd. Few odd parts at a time keep most strings on the fast path, so that
    each kind of odd part is compared where it alone decides."""

    def __init__(self, draw) -> None:
        self.draw = draw
        self.odd = draw(st.sampled_from((*KINDS, "none")))

    def __call__(self, kind: str, usual: st.SearchStrategy, odd: st.SearchStrategy):
        return self.draw(odd if kind == self.odd else usual)

    def number(self, kind: str, low: int, high: int, *odd: str) -> str:
        return self(kind, st.integers(low, high).map(str), st.sampled_from(odd))


def lrt(part: Part) -> str:
    """The US form, with impossible dates and near misses of its pattern; or another form."""
    other = st.sampled_from(["", " ", "16/03/2017 16:59:18", "2017-03-16T16:59:18Z", "yesterday"])
    if part("other-lrt", st.just(False), st.just(True)):
        return part.draw(other)
    year = part("year", st.sampled_from(["2017", "2024"]), st.sampled_from(["0000", "20245"]))
    return (f"{part.number('month', 1, 12, '0', '13', '01', DIGIT)}/"
            f"{part.number('day', 1, 31, '0', '32', '05', DIGIT)}/{year} "
            f"{part.number('hour', 1, 12, '0', '13', '01', DIGIT)}:"
            f"{part.number('minute', 10, 59, '00', '60', '5', '1' + DIGIT)}:"
            f"{part.number('second', 10, 59, '00', '60', '5', '1' + DIGIT)} "
            f"{part('meridiem', st.sampled_from(['AM', 'PM']), st.sampled_from(['pm', 'PMZ']))}")


def led(part: Part) -> str:
    smtp = part("smtp", st.sampled_from(["421", "450", "451", "550"]),
                st.sampled_from(["199", "45"]))
    dash = part("dash", st.sampled_from([" ", "-"]), st.sampled_from(["", "  ", "\t", "--"]))
    enhanced = part("enhanced", st.sampled_from(["4.4.316", "4.7.320", "5.4.7"]),
                    st.sampled_from(["4.4.3166", "4.4", "4.4.316x"]))
    text = part("text", st.sampled_from(["Connection refused", "Cannot connect to remote server"]),
                st.sampled_from(["timed out(Socket error code 10060)", "expired ##", "", " x ",
                                 "Winsock error code: 7 x", "error code"])
                | TRICKY)
    out = f"{smtp}{dash}{enhanced} {text}"
    # Brackets in the usual order, or (odd) shuffled, repeated, or apart by other white space.
    keys = ["Message", "LastAttemptedServerName", "LastAttemptedIP", "SmtpSecurity", "eop"]
    keys = part("sep", st.just(keys), st.permutations(keys + ["Message", "eop"]))
    sep = part("sep", st.sampled_from([" ", ""]), st.sampled_from(["  ", "\t", "\xa0", "] ", "x"]))
    for key in keys:
        if not part.draw(st.booleans()):
            continue
        if key != "eop":
            out += f"{sep}[{key}={part('meta', PLAIN | SOCKET, TRICKY)}]"
            continue
        eop = [part("host", HOST, ODD_HOST)]
        if part.draw(st.booleans()):
            eop.append(part("iso", ISO, ODD_ISO))
        if part.draw(st.booleans()):
            eop.append(part("session", SESSION, ODD_SESSION))
        out += f"{sep}[" + " ".join(eop) + "]"
    return out + part("after", st.sampled_from(["", "(Socket error code 10061)"]),
                      st.sampled_from([" trailing", "]", "[x]"]))


@st.composite
def dominant(draw) -> str:
    """Strings of the dominant shape, bracketed or as NDR text, most with one kind of odd part."""
    part = Part(draw)
    if draw(st.booleans()):
        return led(part) + part("tail", st.just(""), st.sampled_from([
            "};{MSG=a};{FQDN=b};{IP=c};{LRT=d}]",
            ". OutboundProxyTargetIP: 1.2.3.4. OutboundProxyTargetHostName: a.b"]))
    opening = part("opening", st.sampled_from(["Reason: [{LED=", "[{LED="]),
                   st.just("Defer: [{LED="))
    fields = "".join(f"}};{{{name}={part('field', PLAIN | SOCKET, TRICKY)}"
                     for name in ("MSG", "FQDN", "IP"))
    out = f"{opening}{led(part)}{fields}}};{{LRT={lrt(part)}}}]"
    if draw(st.booleans()):
        dot = part("dot", st.sampled_from(["", "."]), st.just(".."))
        out += (f". OutboundProxyTargetIP: {part('ip', WORD, ODD_WORD)}{dot}. "
                f"OutboundProxyTargetHostName: {part('proxy-host', WORD, ODD_WORD)}{dot}")
    if part("cut", st.just(False), st.just(True)):  # copies pasted from the UI are often cut
        out = out[:draw(st.integers(0, len(out)))]
    return out


def agree(text: str) -> DeferReason | None:
    """What the readers of the dominant shape return (the last that accepts), each checked."""
    found = None
    for read in READERS:
        fast = read(text)
        if fast is not None:
            assert type(fast) is DeferReason
            assert fast == _decode_general(text), (read, text)
            found = fast
    return found


def test_the_compiled_reader_is_built_where_it_can_be():
    import shutil
    import sysconfig
    from pathlib import Path

    if not (shutil.which("cc") or shutil.which("gcc")) or \
            not (Path(sysconfig.get_paths()["include"]) / "Python.h").exists():
        pytest.skip("no C compiler or Python headers: the package runs on the regex readers")
    assert reason._decode_compiled is not None, "pip install -e . builds _reason_scan"


@settings(max_examples=1200, suppress_health_check=[HealthCheck.too_slow])
@given(dominant())
def test_dominant_shape_agrees_with_general_path(text: str) -> None:
    agree(text)


@settings(max_examples=1000, suppress_health_check=[HealthCheck.too_slow])
@given(st.text(max_size=300) | REASONISH)
def test_arbitrary_text_agrees_with_general_path(text: str) -> None:
    agree(text)


@pytest.mark.parametrize("text", [
    # A brace in a field makes the general path read fields by anchors, and then an old-style
    # anchor inside the LED counts.
    ("[{LED=450 4.4.316 x [Message=a};{Last attempted server name=b]};{MSG={};{FQDN=f};"
     "{IP=i};{LRT=}]"),
    "[{LED=450 4.4.316 Connection r",  # cut: truncated, not a complete record
    "450 4.4.316 refused [Message=LED=x]",  # NDR text the general path reads from `LED=`
    "[{LED=450 4.4.316 x};{MSG=OutboundProxyTargetHostName: h};{FQDN=};{IP=};{LRT=}]",
    "450 4.4.316 refused [Message=x] [a.b]]",  # `]` after the last bracket
    # A suffix keyword inside the last word moves the general path's cut.
    ("[{LED=450 4.4.316 x};{MSG=};{FQDN=};{IP=};{LRT=}]. OutboundProxyTargetIP: 1.2.3.4. "
     "OutboundProxyTargetHostName: OutboundProxyTargetIP:x"),
    # A suffix word the fast pattern does not take (not ASCII): the general path reads it.
    ("[{LED=450 4.4.316 x};{MSG=};{FQDN=};{IP=};{LRT=}]. OutboundProxyTargetIP: \xe9. "
     "OutboundProxyTargetHostName: a.b"),
    "450 4.4.316 refused [Message=x] [a..b]",  # an empty label: no EOP server to the general path
    "450 4.4.316 refused [a.b] [Message=x]",  # the reply text runs on to the first `[Key=`
    "450 4.4.316 refused [Message=x]  [LastAttemptedIP=y]",  # other white space between brackets
    "450 4.4.316 refused [Message=x] [LastAttemptedIP=y] trailing]",  # `]` after the last bracket
    "450 4.4.316 refused [Message=x]. OutboundProxyTargetIP: 1.2.3.4",  # NDR text with a suffix
])
def test_near_misses_are_left_to_the_general_path(text: str) -> None:
    assert all(read(text) is None for read in READERS)
    assert _decode_general(text) is not None


@pytest.mark.parametrize("text", [
    # Digits that int() reads but the ISO parser does not.
    f"[{{LED=450 4.4.316 x}};{{MSG=}};{{FQDN=}};{{IP=}};{{LRT=3/16/2017 4:59:1{DIGIT} PM}}]",
    f"[{{LED=450 4.4.316 x}};{{MSG=}};{{FQDN=}};{{IP=}};{{LRT={DIGIT}/16/2017 4:59:18 PM}}]",
    "[{LED=450 4.4.316 x};{MSG=};{FQDN=};{IP=};{LRT=2/29/2023 4:59:18 PM}]",  # no such day
    "450 4.4.316 x [Message=y] [a.b 2025-01-29T19:07:30.476Z 08DD00000000000G]",  # not hex
])
def test_odd_parts_agree(text: str) -> None:
    agree(text)


@pytest.mark.parametrize("text", [
    # Without `}` in the LED and the fields, a `{` in them leaves every field where the general
    # path (then reading by anchors) finds it.
    ("[{LED=450 4.4.316 a{b [Message={x] [a.b]};{MSG=c{d};{FQDN={};{IP=i};"
     "{LRT=3/16/2017 4:59:18 PM}]"),
    "[{LED=450 4.4.316 x};{MSG=};{FQDN=};{IP=};{LRT={}]",
    "450 4.4.316 x [Message=a [b] [LastAttemptedIP=c][SmtpSecurity=d] (Socket error code 5)",
])
def test_odd_values_on_the_fast_path(text: str) -> None:
    assert all(read(text) == _decode_general(text) for read in READERS)


def test_well_formed_strings_take_the_fast_path() -> None:
    taken = [name for name, (text, _) in EXAMPLES.items() if agree(text) is not None]
    assert taken == ["1-reference-case", "2-4.7.320-short", "3-4.7.320-metadata",
                     "7-certificate-expired", "7-connection-aborted", "3.6-proxy-frontend",
                     "3.6-onprem-timeout", "4-winsock-on-prem"]


def test_the_compiled_reader_refuses_a_record_it_would_not_fill():
    """It sets DeferReason's slots one by one: a field it does not know would stay unset."""
    from dataclasses import dataclass

    if reason._decode_compiled is None:
        pytest.skip("built without the compiled reader")
    from mailflow_doctor.evidence.trace._reason_scan import Scanner

    @dataclass(frozen=True, slots=True)
    class Wider(DeferReason):
        extra: int = 0

    with pytest.raises(TypeError, match="fields"):
        Scanner(Wider, reason._reply_text, reason.parse_time, reason._socket_error,
                reason._whole_socket_error)


def test_a_str_subclass_is_read_as_the_str_it_is():
    """Found by review: the compiled reader took only an exact str and raised on a subclass,
    which decode_reason's guard turned into an empty record."""

    class Text(str):
        pass

    text = ("[{LED=450 4.4.316 Connection refused};{MSG=Socket error code 10061};{FQDN=a.b};"
            "{IP=1.2.3.4};{LRT=3/16/2017 4:59:18 PM}]")
    reason._decode_cached.cache_clear()
    decoded = reason.decode_reason(Text(text))
    assert decoded == _decode_general(text) and decoded.socket_error == 10061
    assert all(read(Text(text)) in (None, decoded) for read in READERS)


def test_the_compiled_reader_refuses_fields_that_are_not_slots():
    """A class naming the fields in a plain `__slots__` attribute has no slot descriptors to
    set: refused when the reader is made, not a crash when it decodes."""
    if reason._decode_compiled is None:
        pytest.skip("built without the compiled reader")
    from mailflow_doctor.evidence.trace._reason_scan import NAMES, Scanner

    fake = type("Fake", (), dict.fromkeys(NAMES))
    fake.__slots__ = NAMES  # the field names, but as plain class attributes
    with pytest.raises(TypeError, match="slots"):
        Scanner(fake, reason._reply_text, reason.parse_time, reason._socket_error,
                reason._whole_socket_error)
