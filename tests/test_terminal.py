"""Text output is safe to print: control characters from the inputs are shown, never sent.

The trace rows and protocol logs here are SYNTHETIC (tests/casegen.py, tests/storegen.py,
formats.md §1 and §3); a sender chooses its Message-ID and the far end its reply text, so they
carry terminal escape sequences and line feeds. The CLI runner keeps escape sequences
(color=True): without it, it would strip them itself and no check here could fail.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

from casegen import extended_csv, extended_row, led
from hypothesis import given
from hypothesis import strategies as st
from storegen import session, write_log
from typer.testing import CliRunner

from mailflow_doctor.cli.app import app
from mailflow_doctor.report.terminal import escaped, needs_escaping, printable

CONTROL = {chr(c) for c in (*range(0x20), *range(0x7F, 0xA0))}
CLEAR = "\x1b[2J"
runner = CliRunner()


def run(*args: str):
    return runner.invoke(app, list(args), color=True)


def test_values_and_texts():
    assert escaped(None) == "" and escaped("") == ""
    assert escaped("mail.contoso.com") == "mail.contoso.com"
    assert escaped(f"a{CLEAR}b\tc\nd\x9b1m\x7f") == "a\\x1b[2Jb\\x09c\\x0ad\\x9b1m\\x7f"
    assert escaped("caf\xe9 \xa0x") == "caf\xe9 \xa0x"  # printable or not, not a control
    assert printable(f"line 1\tx{CLEAR}\nline 2\r\x07\n") == "line 1\tx\\x1b[2J\nline 2\\x0d\\x07\n"


@given(st.text())
def test_no_control_character_gets_through(text):
    assert not CONTROL & set(escaped(text))
    assert not (CONTROL - {"\n", "\t"}) & set(printable(text))
    assert escaped(escaped(text)) == escaped(text)
    assert printable(printable(text)) == printable(text)
    if not CONTROL & set(text):
        assert escaped(text) == text and printable(text) == text


@given(st.one_of(st.text(), st.text(st.characters(max_codepoint=0x7F)),
                 st.text(st.sampled_from("ab \t\n\x00\x1b\x7f\x85\u2028é"))))
def test_needs_escaping_is_whether_escaping_changes_the_text(text):
    assert needs_escaping(text) == (escaped(text) != text)


def test_trace_views_and_the_diagnosis_show_escapes_not_send_them(tmp_path):
    t0 = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)
    rows = []
    for n in range(3):
        t = t0 + timedelta(minutes=10 * n)
        reason = led("450", f"4.4.316 Connection refused{CLEAR}\nFAKE LINE 1", 10061,
                     "mail.contoso.example", "203.0.113.25", t)
        row = extended_row(t, "DEFER", n, source="104.47.1.2", target_ip="203.0.113.25",
                           target_host="mail.contoso.example", status=reason)
        row["message_id"] = f"<msg{n}{CLEAR}@example.org>\nFAKE LINE 2"
        row["recipient_address"] = f"user{n}\x07@example.net"
        row["client_hostname"] = f"NAM12{CLEAR}.outbound\nFAKE LINE 3"  # early: in the excerpt
        rows.append(row)
    trace = tmp_path / f"trace{CLEAR}\nFAKE LINE 4.csv"
    extended_csv(trace, rows)
    for args in (["trace", str(trace)], ["trace", "summary", str(trace)],
                 ["diagnose", str(trace)]):
        out = run(*args).stdout
        assert "\x1b" not in out and "\x07" not in out, args
        assert "\\x1b[2J" in out, args
        assert not any(line.startswith("FAKE") for line in out.splitlines()), args
    out = run("trace", str(trace), "--format", "json").stdout
    data = json.loads(out)
    assert data["events"][0]["message_id"] == f"<msg0{CLEAR}@example.org>\nFAKE LINE 2"
    assert "\x1b" not in out


def test_json_escapes_del_and_c1_controls_too(tmp_path):
    t0 = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)
    row = extended_row(t0, "RECEIVE", 1)
    row["message_id"] = "<m\x9b2J\x7f\xe9@example.org>"  # 8-bit CSI, DEL, and é (kept)
    trace = tmp_path / "trace.csv"
    extended_csv(trace, [row])
    out = run("trace", str(trace), "--format", "json").stdout
    assert "\x9b" not in out and "\x7f" not in out and "\xe9" in out
    assert json.loads(out)["events"][0]["message_id"] == "<m\x9b2J\x7f\xe9@example.org>"


def test_logs_sessions_escape_a_session_id(tmp_path):
    t0 = datetime(2026, 11, 23, 8, 0, tzinfo=UTC)
    write_log(tmp_path / "EXCH01" / "RECV2026112308-1.LOG",
              session(f"08DE{CLEAR}00000A2", t0, "40.107.12.35:50002"))
    out = run("logs", "sessions", str(tmp_path)).stdout
    assert "08DE\\x1b[2J00000A2" in out and "\x1b" not in out


def test_warnings_and_errors_on_stderr_are_escaped(tmp_path):
    odd = tmp_path / f"evil{CLEAR}.csv"
    result = run("diagnose", str(odd))  # no such file: an error
    assert result.exit_code == 2
    assert "\x1b" not in result.stderr and "evil\\x1b[2J.csv" in result.stderr
    trace = tmp_path / "trace.csv"
    t0 = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)
    extended_csv(trace, [extended_row(t0, "RECEIVE", 1)])
    result = run("trace", str(trace), str(odd))  # one usable file: a warning
    assert result.exit_code == 0
    assert "\x1b" not in result.stderr and "warning: " in result.stderr
    assert "evil\\x1b[2J.csv" in result.stderr


_VALUE = st.one_of(st.none(), st.text(max_size=30),
                   st.sampled_from(["mail.contoso.com", CLEAR, "a\nb", "x\ty", "\x9b1m"]))


@given(server=_VALUE, ehlo=_VALUE, tls=_VALUE, disconnect=_VALUE, connector=_VALUE,
       subject=_VALUE, replies=st.lists(st.text(max_size=80), max_size=3))
def test_session_text_is_each_value_escaped(server, ehlo, tls, disconnect, connector, subject,
                                            replies):
    """`logs sessions` builds a session's lines from raw values when that is safe: whatever the
    values, the text must be what escaping every value gives, and hold no control character."""
    from mailflow_doctor.model import Location
    from mailflow_doctor.model.exchange import Certificate, SmtpSession
    from mailflow_doctor.report.logs import _session_lines, _session_text

    t0 = datetime(2026, 11, 23, 8, 0, tzinfo=UTC)
    s = SmtpSession(session_id="08DE0000000000A1", server=server, connector=connector,
                    start=t0, end=t0 + timedelta(seconds=2), local_endpoint="10.0.0.5:25",
                    remote_ip="40.107.12.34", location=Location("RECV.LOG", 7), ehlo=ehlo,
                    tls=tls, disconnect=disconnect, replies=tuple(replies),
                    certificate=Certificate(subject=subject, not_after=t0))
    lines = _session_text(s)
    assert lines == _session_lines(s, escaped)
    assert not any(set(line) & CONTROL for line in lines)
