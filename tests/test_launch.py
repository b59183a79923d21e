"""The `mailflow-doctor` launcher: a kept store named by `logs sessions|summary` is opened
while the CLI loads, claimed by the command, and released in every case.

Logs are SYNTHETIC (tests/storegen.py)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from storegen import session, write_log

from mailflow_doctor.launch import store_asked
from mailflow_doctor.store import db

T0 = datetime(2026, 11, 23, 8, 0, tzinfo=UTC)


@pytest.mark.parametrize(("args", "store"), [
    (["logs", "sessions", "L", "--store", "case.duckdb"], "case.duckdb"),
    (["logs", "summary", "--store=case.duckdb", "L"], "case.duckdb"),
    (["logs", "sessions", "--store", "a.duckdb", "--store", "b.duckdb"], "b.duckdb"),
    (["logs", "sessions", "--", "--store", "a.duckdb"], None),  # a path, not the option
    (["logs", "sessions", "--store"], None),
    (["logs", "sessions", "--store="], None),
    (["logs", "sessions", "--store", "case.duckdb", "--help"], None),  # opens nothing
    (["diagnose", "case", "--store", "case.duckdb"], None),  # only the timed queries
    (["logs", "--store", "case.duckdb"], None),
    ([], None),
])
def test_store_asked(args, store):
    assert store_asked(args) == store


def _probe(path) -> int:
    """Exit code of another process opening `path` read-write (1 while we hold its lock)."""
    return subprocess.run([sys.executable, "-c", "import duckdb, sys; "
                           "duckdb.connect(sys.argv[1]).close()", str(path)],
                          capture_output=True, timeout=60).returncode


@pytest.fixture
def stores(tmp_path, monkeypatch):
    monkeypatch.setattr(db, "_ahead", None)
    paths = []
    for name in ("a.duckdb", "b.duckdb"):
        path = tmp_path / name
        db.open_store(path).close()
        paths.append(path)
    return paths


def test_the_store_opened_ahead_is_the_one_claimed(stores):
    a, _ = stores
    db.open_ahead(str(a))
    ahead = db._ahead
    with db.opening(a.parent / ".." / a.parent.name / a.name) as claimed:  # same file
        assert claimed is ahead and db._ahead is None
        assert claimed.store().con.execute("SELECT 1").fetchone() == (1,)
    assert _probe(a) == 0  # the command's `with` closed it


def test_a_store_opened_ahead_for_another_path_is_released(stores):
    a, b = stores
    db.open_ahead(str(a))
    ahead = db._ahead
    with db.opening(b) as claimed:
        assert claimed is not ahead
        assert _probe(a) == 0  # released as soon as another store was asked for
        assert claimed.store().path == b


def test_a_store_closed_behind_is_closed_when_the_with_block_ends(stores):
    a, _ = stores
    with db.opening(a) as opened:
        store = opened.store()
        store.con.execute("SELECT count(*) FROM sessions").fetchone()
        opened.close_behind()  # a command renders its report meanwhile
    assert store.con is None and _probe(a) == 0


def test_no_store_opened_ahead_for_a_missing_file(tmp_path, monkeypatch):
    monkeypatch.setattr(db, "_ahead", None)
    db.open_ahead(str(tmp_path / "new.duckdb"))
    assert db._ahead is None and not (tmp_path / "new.duckdb").exists()


def _one_log(root):
    write_log(root / "EXCH01" / "RECV2026112308-1.LOG",
              session("08DE0000000000A1", T0 + timedelta(minutes=5), "40.107.12.34:50001")
              + session("08DE0000000000A2", T0 + timedelta(minutes=20), "10.1.2.3:50002"))
    return root


def test_main_claims_the_store_it_opened_ahead(tmp_path, monkeypatch, capsys):
    from mailflow_doctor import launch

    logs = _one_log(tmp_path / "logs")
    store = tmp_path / "case.duckdb"
    db.open_store(store).close()
    monkeypatch.setattr(db, "_ahead", None)
    claimed = []
    real_opening = db.opening

    def opening(path):
        ahead = db._ahead
        found = real_opening(path)
        claimed.append(found is ahead and ahead is not None)
        return found

    def exit_now(code):  # the quick path ends the process itself: here, as sys.exit does
        raise SystemExit(code)

    monkeypatch.setattr(db, "opening", opening)
    monkeypatch.setattr(os, "_exit", exit_now)
    monkeypatch.setattr(sys, "argv", ["mailflow-doctor", "logs", "sessions", str(logs),
                                      "--store", str(store), "--format", "json"])
    with pytest.raises(SystemExit) as done:
        launch.main()
    assert done.value.code == 0 and claimed == [True]
    assert [s["session_id"] for s in json.loads(capsys.readouterr().out)["sessions"]] == [
        "08DE0000000000A1", "08DE0000000000A2"]
    assert db._ahead is None and _probe(store) == 0  # claimed, and closed by the command


def test_a_store_opened_ahead_for_a_refused_command_is_left_as_it_was(tmp_path, monkeypatch):
    """Opened ahead, never claimed (the parser refuses the command): the thread only connected,
    so a DuckDB file that is not a store yet gets no tables; the exit hook releases it."""
    import duckdb

    from mailflow_doctor import launch

    other = tmp_path / "other.duckdb"
    duckdb.connect(str(other)).close()
    monkeypatch.setattr(db, "_ahead", None)
    monkeypatch.setattr(sys, "argv", ["mailflow-doctor", "logs", "sessions", str(tmp_path),
                                      "--store", str(other), "--format", "xml"])
    with pytest.raises(SystemExit) as done:
        launch.main()
    assert done.value.code == 2
    ahead = db._ahead
    assert ahead is not None and _probe(other) == 1  # held until the exit hook runs
    ahead.__exit__()
    assert _probe(other) == 0
    con = duckdb.connect(str(other), read_only=True)
    assert con.execute("SELECT count(*) FROM duckdb_tables()").fetchone() == (0,)
    con.close()


def test_a_command_refusing_its_options_leaves_a_duckdb_file_as_it_was(tmp_path):
    """The same through the whole app: the store is opened before the options are checked."""
    import duckdb
    from typer.testing import CliRunner

    from mailflow_doctor.cli.app import app

    other = tmp_path / "other.duckdb"
    duckdb.connect(str(other)).close()
    result = CliRunner().invoke(app, ["logs", "sessions", str(tmp_path), "--ip", "not-an-ip",
                                      "--store", str(other)])
    assert result.exit_code == 2 and "not-an-ip" in result.stderr
    con = duckdb.connect(str(other), read_only=True)
    assert con.execute("SELECT count(*) FROM duckdb_tables()").fetchone() == (0,)
    con.close()


_MAIN = "from mailflow_doctor.launch import main; main()"  # the console script's work
_LAUNCHER = [sys.executable, "-c", _MAIN]


def _launch(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([*_LAUNCHER, *args], capture_output=True, text=True, timeout=120)


def test_launcher_answers_as_the_whole_app(tmp_path):
    logs = _one_log(tmp_path / "logs")
    store = tmp_path / "case.duckdb"
    query = ("logs", "sessions", str(logs), "--range", "eop", "--format", "json")
    from typer.testing import CliRunner

    from mailflow_doctor.cli.app import app

    first = CliRunner().invoke(app, [*query, "--store", str(store)])  # the whole app
    again = _launch(*query, f"--store={store}")  # opened ahead, then claimed
    assert first.exit_code == again.returncode == 0, again.stderr
    doc = json.loads(again.stdout)
    assert [s["session_id"] for s in doc["sessions"]] == ["08DE0000000000A1"]
    assert doc["sessions"] == json.loads(first.stdout)["sessions"]
    assert doc["input"]["files_already_in_store"] == 1

    # Opened ahead but never claimed (the parser refuses the command first): closed at exit,
    # with no traceback or hang from the thread.
    bad = _launch("logs", "sessions", str(logs), "--format", "xml", "--store", str(store))
    assert bad.returncode == 2 and "xml" in bad.stderr and "Traceback" not in bad.stderr


@pytest.mark.parametrize("args", [
    ["logs"],
    ["logs", "--help"],
    ["logs", "sessions", "--help"],
    ["logs", "summary", "--help"],
    ["logs", "sessions", "--format", "xml"],
    ["logs", "sessions", "--ip", "not-an-ip", "NOPE"],
    ["logs", "weekly"],
    ["logs", "summary", "NOPE", "--by", "weekday"],
])
def test_the_logs_only_app_answers_as_the_whole_app(args):
    """launch.py gives `logs ...` an app of that group alone: usage, help and errors must be the
    same as the whole app's, so that no one can tell which answered."""
    from typer.testing import CliRunner

    from mailflow_doctor.cli.app import app
    from mailflow_doctor.launch import logs_only_app

    runner = CliRunner()
    whole = runner.invoke(app, args, prog_name="mailflow-doctor")
    alone = runner.invoke(logs_only_app(), args, prog_name="mailflow-doctor")
    assert (alone.exit_code, alone.stdout, alone.stderr) == (
        whole.exit_code, whole.stdout, whole.stderr)
    assert alone.exit_code in (0, 2) and (alone.stdout + alone.stderr).strip()


# -- the quick path: `logs sessions|summary` without Typer (logs_command.quick) ---------------

_OPTION_NAMES = ["--ip", "--range", "--by", "--since", "--until", "--store", "--instance",
                 "--format", "--output", "-f", "-o", "--help", "-h", "--bogus", "--", "-"]
_VALUES = ["eop", "10.0.0.0/8", "40.107.12.34", "2026-11-23T08:00", "json", "text", "xml",
           "worldwide", "china", "hour", "server", "", "-x", "a=b", "case.duckdb", "logs",
           " spaced", "é"]


def _typer_reads(args: list[str]) -> dict | None:
    """What Typer hands logs_command.run for `logs ARGS`, or None when it refuses them."""
    from typer.testing import CliRunner

    from mailflow_doctor.cli import logs as logs_cli
    from mailflow_doctor.cli.app import app

    got = []
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(logs_cli, "run", lambda command, **kw: got.append({"command": command,
                                                                        **kw}) or 0)
        result = CliRunner().invoke(app, ["logs", *args])
    return got[0] if result.exit_code == 0 and got else None


def _with_defaults(found: dict) -> dict:
    import inspect

    from mailflow_doctor.logs_command import run

    params = inspect.signature(run).parameters
    return {name: found.get(name, p.default) for name, p in params.items()}


_TEXT = st.text(st.characters(exclude_characters="\x00", exclude_categories=("Cs",)),
               max_size=6)  # an argument holds no NUL
_TOKENS = st.lists(st.one_of(  # anything
    st.sampled_from(_OPTION_NAMES), st.sampled_from(_VALUES),
    st.builds(lambda n, v: f"{n}={v}", st.sampled_from(_OPTION_NAMES), st.sampled_from(_VALUES)),
    _TEXT), max_size=8)
_PLAIN = st.lists(st.one_of(  # options with values, and paths: mostly what quick reads
    st.tuples(st.sampled_from(_OPTION_NAMES), st.sampled_from(_VALUES)).map(list),
    st.builds(lambda n, v: [f"{n}={v}"], st.sampled_from(_OPTION_NAMES),
              st.sampled_from(_VALUES)),
    _TEXT.map(lambda p: [p])), max_size=5).map(lambda parts: sum(parts, []))


@settings(max_examples=400, deadline=None)
@given(st.sampled_from(["sessions", "summary", "weekly"]), st.one_of(_TOKENS, _PLAIN))
def test_quick_reads_a_command_line_as_typer_does_or_leaves_it_to_typer(command, rest):
    from mailflow_doctor.logs_command import quick

    args = [command, *rest]
    found = quick(args)
    if found is not None:
        typer = _typer_reads(args)
        assert typer is not None, args
        assert _with_defaults(found) == _with_defaults(typer), args


@pytest.mark.parametrize("args", [
    ["sessions", "L", "--range", "eop", "--since", "2026-11-21T01:00:00+00:00", "--until",
     "2026-11-21T01:15:00+00:00", "--store", "case.duckdb"],  # the benchmark's command line
    ["summary", "L1", "L2", "--by=hour", "--format", "json", "--output", "out.json"],
    ["sessions", "--ip", "40.107.12.34", "--instance", "china", "--store=case.duckdb"],
    ["sessions", "L", "--range", "not-a-range"],  # run's own error: the same in both paths
])
def test_quick_reads_the_plain_command_lines(args):
    from mailflow_doctor.logs_command import quick

    found = quick(args)
    assert found is not None and _with_defaults(found) == _with_defaults(_typer_reads(args))


@pytest.mark.parametrize("args", [
    ["sessions", "L", "-f", "json"], ["sessions", "--help"], ["sessions", "--", "L"],
    ["sessions", "--store", "a", "--store", "b"], ["sessions", "--format", "xml"],
    ["sessions", "--instance", "mars"], ["summary", "--ip", "1.2.3.4"], ["sessions", "--ip"],
    ["sessions", "--ip", "--store"], ["sessions", "--since="], ["weekly"], [],
])
def test_quick_leaves_everything_else_to_typer(args):
    from mailflow_doctor.logs_command import quick

    assert quick(args) is None


def _launched(*args: str) -> tuple[subprocess.CompletedProcess, bool]:
    """The launcher in a new process, and whether it loaded Typer (from `-X importtime`, whose
    lines are taken out of stderr: the quick path ends its process with os._exit). Output is
    buffered, as for an admin, so that what os._exit would lose unflushed is missed here."""
    env = {k: v for k, v in os.environ.items() if k != "PYTHONUNBUFFERED"}
    done = subprocess.run([sys.executable, "-X", "importtime", "-c", _MAIN, *args],
                          capture_output=True, text=True, timeout=120, env=env)
    lines = done.stderr.splitlines(keepends=True)
    imports = [line for line in lines if line.startswith("import time:")]
    done.stderr = "".join(line for line in lines if not line.startswith("import time:"))
    return done, any(line.split("|")[-1].strip() == "typer" for line in imports)


def test_the_quick_path_answers_as_typer_without_loading_it(tmp_path):
    logs = _one_log(tmp_path / "logs")
    store = tmp_path / "case.duckdb"
    query = ("logs", "sessions", str(logs), "--store", str(store))
    first, _ = _launched(*query)  # builds the store
    assert first.returncode == 0 and first.stderr == ""  # no progress bar drawn on a pipe
    typer, typer_loaded = _launched(*query, "-f", "text")  # a short option: Typer reads it
    quick, quick_loaded = _launched(*query)
    assert typer_loaded and not quick_loaded
    assert typer.returncode == quick.returncode == 0 and typer.stderr == quick.stderr == ""
    assert quick.stdout == typer.stdout and "08DE0000000000A1" in quick.stdout

    for bad in (["--ip", "300.1.1.1"], ["--since", "yesterday-ish"]):
        (typer, typer_loaded), (quick, quick_loaded) = (_launched(*query, *bad, "-f", "text"),
                                                        _launched(*query, *bad))
        assert typer_loaded and not quick_loaded
        assert typer.returncode == quick.returncode == 2 and not quick.stdout
        assert quick.stderr == typer.stderr and quick.stderr.startswith("mailflow-doctor: ")


def test_the_quick_path_stops_quietly_on_a_closed_pipe(tmp_path):
    """`mailflow-doctor logs sessions ... | head`: exit 1 and nothing on stderr, as Typer does."""
    logs = _one_log(tmp_path / "logs")
    query = [*_LAUNCHER, "logs", "sessions", str(logs), "--store", str(tmp_path / "case.duckdb")]
    subprocess.run(query, capture_output=True, timeout=120)  # builds the store
    results = []
    for extra in ([], ["-f", "text"]):
        child = subprocess.Popen(query + extra, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        child.stdout.close()  # before the report is written: writing it meets a closed pipe
        results.append((child.wait(timeout=120), child.stderr.read()))
        child.stderr.close()
    assert results[0] == results[1] == (1, b"")


def test_quick_leaves_windows_command_lines_to_typer(monkeypatch):
    """Typer expands wildcards, `~` and variables on Windows, where shells do not."""
    from mailflow_doctor import logs_command

    args = ["sessions", "logs", "--store", "case.duckdb"]
    assert logs_command.quick(args) is not None
    monkeypatch.setattr(logs_command.os, "name", "nt")
    assert logs_command.quick(args) is None


@pytest.mark.parametrize("extra", [[], ["-f", "text"]], ids=["quick", "typer"])
def test_a_closed_standard_stream_is_skipped_as_click_echo_skips_it(tmp_path, extra):
    """`... >&-` exits 0 with the report going nowhere; `... --output r.txt 2>&-` writes the
    report although its warnings have nowhere to go."""
    lines = session("08DE0000000000A1", T0, "40.107.12.34:50001") + ["not,a,log,line"]
    logs = write_log(tmp_path / "logs" / "EXCH01" / "RECV2026112308-1.LOG", lines).parent
    report = tmp_path / "report.txt"
    base = [f'"$0" -c "{_MAIN}" "$@"', sys.executable,
            "logs", "sessions", str(logs), "--store", str(tmp_path / "c.duckdb"), *extra]
    no_stdout = subprocess.run(["sh", "-c", base[0] + " >&-", *base[1:]], capture_output=True,
                               text=True, timeout=120)
    assert no_stdout.returncode == 0 and "Traceback" not in no_stdout.stderr
    assert "warning: " in no_stdout.stderr  # the bad line
    no_stderr = subprocess.run(["sh", "-c", base[0] + " 2>&-", *base[1:], "--output",
                                str(report)], capture_output=True, text=True, timeout=120)
    assert no_stderr.returncode == 0
    assert "08DE0000000000A1" in report.read_text(encoding="utf-8")


@pytest.mark.parametrize("extra", [[], ["-f", "text"]], ids=["quick", "typer"])
def test_an_ascii_stdout_gets_the_report_in_utf8(tmp_path, extra):
    root = tmp_path / "logé"
    _one_log(root)
    env = dict(os.environ, PYTHONIOENCODING="ascii")
    done = subprocess.run([*_LAUNCHER, "logs", "sessions", str(root), *extra],
                          capture_output=True, timeout=120, env=env)
    assert done.returncode == 0 and b"Traceback" not in done.stderr, done.stderr
    assert "logé".encode() in done.stdout and "08DE0000000000A1".encode() in done.stdout


def test_the_quick_path_deletes_its_temporary_store(tmp_path):
    logs = _one_log(tmp_path / "logs")
    scratch = tmp_path / "scratch"
    scratch.mkdir()
    env = dict(os.environ, TMPDIR=str(scratch))
    done = subprocess.run([*_LAUNCHER, "logs", "sessions", str(logs)], capture_output=True,
                          text=True, timeout=120, env=env)
    assert done.returncode == 0 and "08DE0000000000A1" in done.stdout
    assert "temporary (deleted)" in done.stdout and list(scratch.iterdir()) == []


def test_a_store_that_fails_to_close_behind_says_so(stores, monkeypatch):
    a, _ = stores

    def failing(self):
        raise RuntimeError("checkpoint failed")

    with pytest.raises(RuntimeError, match="checkpoint failed"):
        with db.opening(a) as opened:
            store = opened.store()
            monkeypatch.setattr(db.CaseStore, "close", failing)
            opened.close_behind()
    monkeypatch.undo()
    store.close()
    assert _probe(a) == 0


@pytest.mark.parametrize("extra", [[], ["-f", "text"]], ids=["quick", "typer"])
def test_a_log_whose_name_is_not_utf8_is_named_in_every_report(tmp_path, extra):
    """Left out with a warning that names it (its odd byte as `\\xff`), in the text and JSON
    reports and in an --output file too, even where stdout is strict UTF-8."""
    logs = _one_log(tmp_path / "logs")
    odd = os.fsencode(logs) + b"/EX\xff02"
    os.mkdir(odd)
    with open(odd + b"/RECV2026112308-1.LOG", "wb") as fh:
        fh.write((logs / "EXCH01" / "RECV2026112308-1.LOG").read_bytes())
    with open(os.fsencode(logs) + b"/READ\xffME.txt", "wb") as fh:  # not a log: passed over
        fh.write(b"notes\n")
    env = dict(os.environ, PYTHONIOENCODING="utf-8:strict")
    base = [*_LAUNCHER, "logs", "sessions", str(logs), *extra]
    for more in ([], ["--format", "json"], ["--output", str(tmp_path / "r.txt")]):
        done = subprocess.run(base + more, capture_output=True, timeout=120, env=env)
        assert done.returncode == 0 and b"Traceback" not in done.stderr, done.stderr
        assert b"EX\\xff02/RECV2026112308-1.LOG" in done.stderr  # the warning
        assert b"READ" not in done.stderr
    report = (tmp_path / "r.txt").read_text(encoding="utf-8")
    assert "EX\\xff02" in report and "08DE0000000000A1" in report


def test_a_store_that_fails_to_close_still_gives_its_answer(tmp_path, monkeypatch, capsys):
    """A checkpoint that fails at the end (a full disk): the report, then one line, exit 2."""
    from mailflow_doctor.logs_command import run

    logs = _one_log(tmp_path / "logs")
    real = db.CaseStore.close

    def failing(self):
        real(self)
        raise db.duckdb.IOException("Could not write file: No space left on device")

    monkeypatch.setattr(db.CaseStore, "close", failing)
    assert run("sessions", paths=[logs], store=tmp_path / "case.duckdb") == 2
    out, err = capsys.readouterr()
    assert "08DE0000000000A1" in out
    assert err.splitlines()[-1].startswith("mailflow-doctor: ")
    assert "cannot write to the case store" in err and "No space left" in err
