"""Text output is safe to print: control characters from the inputs are shown, never sent.

The trace rows here are SYNTHETIC (tests/casegen.py, formats.md §3); a sender chooses its
Message-ID and the far end its reply text, so both carry a terminal escape sequence.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from casegen import extended_csv, extended_row, led
from hypothesis import given
from hypothesis import strategies as st
from typer.testing import CliRunner

from mailflow_doctor.cli import app
from mailflow_doctor.report.terminal import escaped, printable

CONTROL = {chr(c) for c in (*range(0x20), *range(0x7F, 0xA0))}
CLEAR = "\x1b[2J"


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


def test_trace_views_and_the_diagnosis_show_escapes_not_send_them(tmp_path):
    t0 = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)
    rows = []
    for n in range(3):
        t = t0 + timedelta(minutes=10 * n)
        reason = led("450", f"4.4.316 Connection refused{CLEAR}", 10061, "mail.contoso.example",
                     "203.0.113.25", t)
        row = extended_row(t, "DEFER", n, source="104.47.1.2", target_ip="203.0.113.25",
                           target_host="mail.contoso.example", status=reason)
        row["message_id"] = f"<msg{n}{CLEAR}@example.org>"
        row["recipient_address"] = f"user{n}\x07@example.net"
        row["client_hostname"] = f"NAM12{CLEAR}.outbound"  # early in the row: in the excerpt
        rows.append(row)
    trace = tmp_path / "trace.csv"
    extended_csv(trace, rows)
    runner = CliRunner()
    for args in (["trace", str(trace)], ["trace", "summary", str(trace)],
                 ["diagnose", str(trace)]):
        out = runner.invoke(app, args).stdout
        assert "\x1b" not in out and "\x07" not in out, args
        assert "\\x1b[2J" in out or "\\x07" in out, args


def test_warnings_and_errors_on_stderr_are_escaped(tmp_path):
    odd = tmp_path / f"evil{CLEAR}.csv"
    runner = CliRunner()
    result = runner.invoke(app, ["diagnose", str(odd)])  # no such file: an error
    assert result.exit_code == 2
    assert "\x1b" not in result.stderr and "evil\\x1b[2J.csv" in result.stderr
    trace = tmp_path / "trace.csv"
    t0 = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)
    extended_csv(trace, [extended_row(t0, "RECEIVE", 1)])
    result = runner.invoke(app, ["trace", str(trace), str(odd)])  # one usable file: a warning
    assert result.exit_code == 0
    assert "\x1b" not in result.stderr and "warning: " in result.stderr
    assert "evil\\x1b[2J.csv" in result.stderr
