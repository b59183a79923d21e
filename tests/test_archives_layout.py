"""The server from the Exchange folder layout, and archives of log folders read as the folders.

Every log here is SYNTHETIC: receive sessions from tests/storegen.py, send sessions built with
test_protocol_log.rows (tailspintoys.ca names, invented ids); the paths follow formats.md §1.1.
"""

from __future__ import annotations

import dataclasses
import gzip
import io
import re
import shutil
import tarfile
import zipfile
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import test_protocol_log as real
from storegen import session, write_log

from mailflow_doctor.evidence.archives import Unpacker, archive_kind, store_folder
from mailflow_doctor.evidence.collect import SessionQuestion, collect
from mailflow_doctor.evidence.exchange import protocol_log
from mailflow_doctor.evidence.exchange.layout import Origin, origin
from mailflow_doctor.model import InputProblem, Location
from mailflow_doctor.store import open_store, register
from mailflow_doctor.store.run import QueryError, run_sessions_query

T0 = datetime(2026, 11, 28, 1, 0, tzinfo=UTC)
INSTALL = r"C:\Program Files\Microsoft\Exchange Server\V15"


@pytest.mark.parametrize("path, expected", [
    ("case/EX01/TransportRoles/Logs/FrontEnd/ProtocolLog/SmtpReceive/RECV2026112801-1.LOG",
     Origin("EX01", "FrontEnd")),
    (r"D:\case\EX01\TransportRoles\Logs\Hub\ProtocolLog\SmtpSend\SEND2026112801-1.LOG",
     Origin("EX01", "Hub")),
    ("case/EX01/FrontEnd/SmtpReceive/RECV2026112801-1.LOG", Origin("EX01", "FrontEnd")),
    ("case/EX02/Mailbox/ProtocolLog/SmtpReceive/Delivery/RECV2026112801-1.LOG",
     Origin("EX02", "Mailbox")),
    ("case/EDGE01/TransportRoles/Logs/Edge/ProtocolLog/SmtpSend/SEND2026112801-1.LOG",
     Origin("EDGE01", "Edge")),
    # Exchange 2010 Hub and Edge write without a role folder: the role is not said.
    (r"case\EDGE01\TransportRoles\Logs\ProtocolLog\SmtpSend\SEND2026112801-1.LOG",
     Origin("EDGE01", None)),
    ("case/EX03/ProtocolLog/SmtpSend/SEND2026112801-1.LOG", Origin("EX03", None)),
    ("case/ex04.tailspintoys.ca/TransportRoles/Logs/MessageTracking/MSGTRK2026112801-1.LOG",
     Origin("ex04", None)),
    (rf"\\EX01\c$\{INSTALL[3:]}\TransportRoles\Logs\FrontEnd\ProtocolLog\SmtpSend\S.LOG",
     Origin("EX01", "FrontEnd")),
    (r"\\?\UNC\EX05\d$\Exchange\TransportRoles\Logs\Hub\ProtocolLog\SmtpSend\S.LOG",
     Origin("EX05", "Hub")),
    ("//10.20.0.25/c$/Exchange/TransportRoles/Logs/Hub/ProtocolLog/SmtpSend/S.LOG",
     Origin("10.20.0.25", "Hub")),
    (r"\\FS01\cases\EX06\FrontEnd\ProtocolLog\SmtpSend\S.LOG", Origin("EX06", "FrontEnd")),
    # an archive stands for the folder it was made of, as Windows names a zip
    ("/x/@0a-1b/case/EX07.zip/ProtocolLog/SmtpSend/S.LOG", Origin("EX07", None)),
    ("/x/@0a-1b/case/logs.tar.gz/EX08/FrontEnd/ProtocolLog/SmtpSend/S.LOG",
     Origin("EX08", "FrontEnd")),
    # nothing says: on the server itself, no layout, a folder that only shares a name
    (rf"{INSTALL}\TransportRoles\Logs\FrontEnd\ProtocolLog\SmtpSend\S.LOG",
     Origin(None, "FrontEnd")),
    ("case/EX 09/FrontEnd/ProtocolLog/SmtpSend/S.LOG", Origin(None, "FrontEnd")),
    ("/home/edge/logs/SEND2026112801-1.LOG", Origin(None, None)),
    ("/home/edge/case/EX10/ProtocolLog/SmtpSend/S.LOG", Origin("EX10", None)),
    ("SEND2026112801-1.LOG", Origin(None, None)),
])
def test_server_and_role_from_the_folder_layout(path, expected):
    assert origin(path) == expected


def _send(sid: str, minute: int) -> list[str]:
    """A SYNTHETIC send session to EOP (one message)."""
    return real.rows(sid, "Outbound to Office 365", [
        ("*", "None", "Set Session Permissions"), ("*", "", "attempting to connect"),
        ("+", "", ""), ("<", "220 BN8NAM12FT001.mail.protection.outlook.com ESMTP", ""),
        (">", "EHLO ex01.tailspintoys.ca", ""),
        ("<", "250 BN8NAM12FT001.mail.protection.outlook.com Hello [13.92.177.139] SIZE 1", ""),
        ("*", "", "sending message with RecordId 7 and InternetMessageId <m@tailspintoys.ca>"),
        (">", "QUIT", ""), ("<", "221 2.0.0 Service closing transmission channel", ""),
        ("-", "", "Local")], local="10.20.0.25:30123", remote="104.47.34.97:25", minute=minute)


def _write_send(folder: Path, lines: list[str]) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    return real.write(folder, real.SEND + lines, "SEND2026112801-1.LOG")


def _case(root: Path) -> Path:
    """A SYNTHETIC case folder: EX01 copied as FrontEnd/..., EX02 with its TransportRoles."""
    ex01 = root / "EX01" / "FrontEnd" / "ProtocolLog"
    write_log(ex01 / "SmtpReceive" / "RECV2026112801-1.LOG",
              session("08DE000000000001", T0, "104.47.34.97:41234", server="EX01")
              + session("08DE000000000002", T0 + timedelta(minutes=3), "40.92.10.20:5000",
                        server="EX01", tls="notoffered"))
    _write_send(ex01 / "SmtpSend", _send("08DE0000000000A1", 1))
    _write_send(root / "EX02" / "TransportRoles" / "Logs" / "Hub" / "ProtocolLog" / "SmtpSend",
                _send("08DE0000000000B1", 2))
    (root / "EX01" / "README.txt").write_text("copied from EX01 by the admin\n")
    return root


def _relative(sessions, marker: str):
    """Sessions with their path cut after `marker`, so a folder and its archive compare (a
    single file's .gz holds its member in a folder named after it)."""
    return [dataclasses.replace(s, location=Location(re.sub(
        r"[^/]+\.gz/", "", s.location.source.split(marker, 1)[1]), s.location.line))
        for s in sessions]


def _zip(folder: Path, target: Path, extra: dict[str, bytes] | None = None) -> Path:
    with zipfile.ZipFile(target, "w", zipfile.ZIP_DEFLATED) as zf:
        for path in sorted(folder.rglob("*")):
            zf.write(path, path.relative_to(folder).as_posix())
        for name, data in (extra or {}).items():
            zf.writestr(name, data)
    return target


def _archives(tmp_path: Path, case: Path) -> dict[str, tuple[Path, str]]:
    """The case as a zip, a tar.gz and one .gz per file: (path to give, marker in paths)."""
    zipped = _zip(case, tmp_path / "case.zip")
    tarred = tmp_path / "case.tar.gz"
    with tarfile.open(tarred, "w:gz") as tf:
        tf.add(case, "case")
    gz = shutil.copytree(case, tmp_path / "gzcase")
    for path in [p for p in gz.rglob("*") if p.is_file()]:
        path.with_name(path.name + ".gz").write_bytes(gzip.compress(path.read_bytes()))
        path.unlink()
    return {"zip": (zipped, "case.zip/"), "tar.gz": (tarred, "case.tar.gz/case/"),
            "gz": (gz, "gzcase/")}


def test_send_sessions_take_the_server_from_the_folder(tmp_path):
    case = _case(tmp_path / "case")
    found = run_sessions_query([case]).sessions
    servers = {(s.log_type, s.session_id): s.server for s in found}
    assert servers == {("receive", "08DE000000000001"): "EX01",
                       ("receive", "08DE000000000002"): "EX01",
                       ("send", "08DE0000000000A1"): "EX01", ("send", "08DE0000000000B1"): "EX02"}
    for s in found:  # the Python reader agrees, file by file
        assert s in protocol_log.parse(s.location.source).records


def test_receive_sessions_keep_the_server_of_their_connector(tmp_path):
    path = write_log(tmp_path / "EX09" / "FrontEnd" / "ProtocolLog" / "SmtpReceive" / "R.LOG",
                     session("08DE000000000003", T0, "104.47.34.97:41234", server="EX01"))
    assert protocol_log.parse(path).records[0].server == "EX01"
    assert run_sessions_query([path]).sessions[0].server == "EX01"


@pytest.mark.parametrize("kind", ["zip", "tar.gz", "gz"])
def test_archives_give_the_same_sessions_as_the_folder(tmp_path, kind):
    case = _case(tmp_path / "case")
    plain = _relative(run_sessions_query([case]).sessions, "case/")
    assert len(plain) == 4
    given, marker = _archives(tmp_path, case)[kind]
    result = run_sessions_query([given], tmp_path / "case.duckdb")
    assert _relative(result.sessions, marker) == plain
    assert result.info.problems == [] and result.info.registration.unpacked == (
        4 if kind == "gz" else 1)  # gz: one per file, the README too
    evidence = collect([given])
    assert _relative(evidence.sessions, marker) == plain and evidence.problems == []
    kinds = sorted(kind for _, kind in evidence.inputs)
    assert kinds == ["smtp-protocol-log"] * 3 + ["unrecognised"]  # the README, no problem
    # Cited, a line names the archive and the member, not the extraction folder (which for
    # `collect` without a store is already deleted): `<archive>/<member>:line`; the member of a
    # single file's .gz as the .gz itself.
    prefix = {"zip": str(given), "tar.gz": f"{given}/case", "gz": str(given)}[kind]
    expected = {prefix + (f"{s.location.source}.gz:{s.location.line}" if kind == "gz"
                          else str(s.location))[len(str(case)):]
                for s in run_sessions_query([case]).sessions}
    assert {str(s.location) for s in evidence.sessions} == expected
    assert {str(s.location) for s in result.sessions} == expected


def test_collect_with_a_store_extracts_beside_it_once(tmp_path):
    case = _case(tmp_path / "case")
    given = _zip(case, tmp_path / "case.zip")
    db = tmp_path / "case.duckdb"
    first = collect([given], sessions=SessionQuestion(store=db))
    assert len(first.sessions) == 4
    assert all(s.location.source.startswith(str(store_folder(db))) for s in first.sessions)
    logs = sorted(store_folder(db).rglob("*.LOG"))
    stamps = [p.stat().st_mtime_ns for p in logs]
    again = collect([given], sessions=SessionQuestion(store=db))
    assert again.sessions == first.sessions
    assert [p.stat().st_mtime_ns for p in logs] == stamps


def test_unchanged_archive_is_not_extracted_again(tmp_path):
    case = _case(tmp_path / "case")
    given = _zip(case, tmp_path / "case.zip")
    db = tmp_path / "case.duckdb"
    with open_store(db) as store:
        first = register(store, [tmp_path / "case.zip"])
    logs = sorted(store_folder(db).rglob("*.LOG"))
    stamps = [p.stat().st_mtime_ns for p in logs]
    assert (first.unpacked, first.new, len(logs)) == (1, 3, 3)
    with open_store(db) as store:
        again = register(store, [given])
    assert (again.unpacked, again.new, again.changed, again.unchanged) == (0, 0, 0, 3)
    assert [p.stat().st_mtime_ns for p in logs] == stamps
    _zip(case, given, {"EX01/notes.txt": b"added later\n"})  # a new version of the archive
    with open_store(db) as store:
        third = register(store, [given])
    assert (third.unpacked, third.new) == (1, 3)
    kept = sorted(p.suffix or "folder" for p in store_folder(db).iterdir())
    assert kept == [".json", "folder"]  # the old version's copy is gone
    with open_store(db) as store:  # the folder holding the archive, the case and the store
        everything = register(store, [tmp_path])
    assert (everything.files, everything.unpacked) == (6, 0)
    assert len(collect([tmp_path], sessions=SessionQuestion(store=db)).sessions) == 8


def test_members_outside_the_folder_and_links_are_refused(tmp_path):
    case = _case(tmp_path / "case")
    given = _zip(case, tmp_path / "slip.zip", {
        "../../evil.LOG": b"x", "/etc/evil.LOG": b"x", "C:\\evil.LOG": b"x",
        "EX01/..\\..\\evil.LOG": b"x"})
    tarred = tmp_path / "links.tar.gz"
    with tarfile.open(tarred, "w:gz") as tf:
        link = tarfile.TarInfo("EX01/passwd.LOG")
        link.type, link.linkname = tarfile.SYMTYPE, "/etc/passwd"
        tf.addfile(link)
        fifo = tarfile.TarInfo("EX01/pipe")
        fifo.type = tarfile.FIFOTYPE
        tf.addfile(fifo)
    result = run_sessions_query([given, tarred])
    assert len(result.sessions) == 4
    assert sorted(map(str, result.info.problems)) == sorted([
        f"{tarred}: member 'EX01/passwd.LOG' is a link or device; skipped",
        f"{tarred}: member 'EX01/pipe' is a link or device; skipped",
        *(f"{given}: member {name!r} points outside the archive folder; skipped"
          for name in ("../../evil.LOG", "/etc/evil.LOG", "C:\\evil.LOG",
                       "EX01/..\\..\\evil.LOG"))])
    assert not list(tmp_path.rglob("evil.LOG"))


def test_corrupt_archives_are_one_problem_each_and_the_rest_is_read(tmp_path):
    case = _case(tmp_path / "case")
    data = tmp_path / "case.tgz"
    with tarfile.open(data, "w:gz") as tf:
        tf.add(case / "EX02", "EX02")
    (case / "broken.zip").write_bytes(b"PK\x03\x04 not really a zip")
    (case / "cut.tgz").write_bytes(data.read_bytes()[: len(data.read_bytes()) // 2])
    (case / "junk.LOG.gz").write_bytes(b"\x1f\x8b\x08 junk")
    result = run_sessions_query([case])
    assert len(result.sessions) == 4
    problems = sorted(result.info.problems, key=str)
    assert [p.location for p in problems] == [
        Location(str(case / name)) for name in ("broken.zip", "cut.tgz", "junk.LOG.gz")]
    assert all(p.message.startswith("cannot extract archive") for p in problems)
    evidence = collect([case])
    assert len(evidence.sessions) == 4 and sorted(evidence.problems, key=str) == problems


def test_size_and_member_count_are_bounded(tmp_path):
    bomb = tmp_path / "bomb.zip"
    with zipfile.ZipFile(bomb, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("a.LOG", b"\0" * 3_000_000)
        zf.writestr("b.LOG", b"\0" * 10)
    with Unpacker(max_bytes=2**20) as unpack:
        assert unpack.expand(bomb) == []
        assert unpack.problems == [InputProblem(Location(str(bomb)), (
            "expands to more than 1 MiB; extraction stopped at member 'a.LOG' "
            "(extract it yourself to read the rest)"))]
    with Unpacker(max_members=1) as unpack:
        assert [p.name for p in unpack.expand(bomb)] == ["a.LOG"]
        assert unpack.problems[0].message == "more than 1 members; the rest are not read"


def test_temporary_folder_is_removed_on_close(tmp_path):
    given = _zip(_case(tmp_path / "case"), tmp_path / "case.zip")
    with Unpacker() as unpack:
        members = unpack.expand(given)
        assert len(members) == 4 and all(p.is_file() for p in members)
        assert unpack.expand(tmp_path / "case" / "EX01" / "README.txt") == [
            tmp_path / "case" / "EX01" / "README.txt"]
    assert not unpack.root.exists()


@pytest.mark.parametrize("name, kind", [("a.zip", "zip"), ("A.TGZ", "tar"), ("a.tar.gz", "tar"),
                                        ("a.tar", "tar"), ("RECV.LOG.gz", "gzip"),
                                        ("RECV.LOG", None), ("gz", None)])
def test_archives_are_told_by_their_name(name, kind):
    assert archive_kind(name) == kind


def test_gz_member_is_named_after_the_archive(tmp_path):
    given = tmp_path / "EX01" / "FrontEnd" / "ProtocolLog" / "SmtpSend" / "SEND.LOG.gz"
    given.parent.mkdir(parents=True)
    buffer = io.BytesIO()
    with gzip.GzipFile(fileobj=buffer, mode="wb", filename="other-name") as fh:
        fh.write("\r\n".join(real.SEND + _send("08DE0000000000C1", 4)).encode() + b"\r\n")
    given.write_bytes(buffer.getvalue())
    found = run_sessions_query([given]).sessions
    assert [(s.server, Path(s.location.source).name) for s in found] == [("EX01", "SEND.LOG")]


def test_cited_member_paths_on_windows_name_the_drive_or_share():
    from mailflow_doctor.model import shown_source

    key = "@0123456789abcdef-01234567"
    temp = r"C:\Users\a\AppData\Local\Temp\mailflow-archives-x"
    assert shown_source(rf"{temp}\{key}\D\cases\EX01.zip\SmtpReceive\R.LOG", windows=True) == \
        r"D:\cases\EX01.zip\SmtpReceive\R.LOG"
    assert shown_source(rf"{temp}\{key}\fs01\share\EX01.zip\R.LOG", windows=True) == \
        r"\\fs01\share\EX01.zip\R.LOG"
    assert shown_source(r"C:\cases\a@b\R.LOG", windows=True) == r"C:\cases\a@b\R.LOG"
    assert shown_source(f"/tmp/x/{key}/srv/EX01.zip/R.LOG", windows=False) == \
        "/srv/EX01.zip/R.LOG"


def test_an_archive_cut_short_keeps_what_came_before_the_damage(tmp_path):
    """A download cut short: the first part of the member it cuts is read, with one problem."""
    log = tmp_path / "src" / "EX01" / "FrontEnd" / "ProtocolLog" / "SmtpReceive" / "R.LOG"
    write_log(log, [line for n in range(400) for line in session(
        f"08DE{n:012X}", T0 + timedelta(minutes=n), "104.47.34.97:41234", server="EX01")])
    whole = len(run_sessions_query([log]).sessions)
    packed = gzip.compress(log.read_bytes())
    tarred = io.BytesIO()
    with tarfile.open(fileobj=tarred, mode="w:gz") as tf:
        tf.add(tmp_path / "src" / "EX01", "EX01")
    for name, data in (("R.LOG.gz", packed), ("case.tgz", tarred.getvalue())):
        cut = tmp_path / name
        cut.write_bytes(data[: len(data) * 6 // 10])
        result = run_sessions_query([cut])
        assert 0 < len(result.sessions) < whole, name
        assert any(p.location == Location(str(cut)) and p.message.startswith(
            "cut short in member") and "what came before the damage is read" in p.message
            for p in result.info.problems), result.info.problems


def test_archives_inside_archives_are_named_and_empty_ones_said(tmp_path):
    """An archive inside another is not opened (its bytes would escape the outer one's
    budget): it is named, with what to do."""
    case = _case(tmp_path / "case")
    inner = _zip(case, tmp_path / "EX-all.zip")
    bundle = tmp_path / "bundle.zip"
    with zipfile.ZipFile(bundle, "w") as zf:
        zf.write(inner, "servers/EX-all.zip")
        zf.write(case / "EX01" / "README.txt", "README.txt")
    result = collect([bundle])
    assert result.sessions == [] and [str(p) for p in result.problems] == [
        f"{bundle}/servers/EX-all.zip: an archive inside the archive: not opened (extract it "
        "and give its folder)"]
    empty_zip, empty_gz, hollow = (tmp_path / "e.zip", tmp_path / "e.LOG.gz", tmp_path / "h.zip")
    empty_zip.write_bytes(b"")
    empty_gz.write_bytes(b"")
    with zipfile.ZipFile(hollow, "w") as zf:
        zf.writestr("EX01/", "")
    result = collect([empty_zip, empty_gz, hollow])
    assert sorted(map(str, result.problems)) == [
        f"{empty_gz}: empty file", f"{empty_zip}: empty file",
        f"{hollow}: the archive holds no files"]


def test_an_empty_file_is_called_empty(tmp_path):
    (tmp_path / "trace.csv").write_bytes(b"")
    (tmp_path / "bom.csv").write_bytes(b"\xef\xbb\xbf")
    (tmp_path / "junk.csv").write_bytes(b"\x00\x01\x02junk")
    result = collect([tmp_path / "trace.csv", tmp_path / "bom.csv", tmp_path / "junk.csv"])
    messages = {Path(p.location.source).name: p.message for p in result.problems}
    assert messages["trace.csv"] == messages["bom.csv"] == "empty file"
    assert messages["junk.csv"].startswith("not a kind of evidence")
    (tmp_path / "RECV.LOG").write_bytes(b"")
    with pytest.raises(QueryError, match="RECV.LOG: empty file"):
        run_sessions_query([tmp_path / "RECV.LOG"])
    (tmp_path / "gone.csv").symlink_to(tmp_path / "nowhere.csv")
    assert [str(p) for p in collect([tmp_path / "gone.csv"]).problems] == [
        f"{tmp_path / 'gone.csv'}: no such file or folder"]


def test_a_damaged_member_is_not_kept_as_if_cut_short(tmp_path):
    """A checksum fails only at a member's end, after its bytes were written: the member is
    corrupt, not cut short, and none of it is read."""
    log = tmp_path / "R.LOG"
    write_log(log, [line for n in range(200) for line in session(
        f"08DE{n:012X}", T0 + timedelta(minutes=n), "104.47.34.97:41234", server="EX01")])
    stored = tmp_path / "stored.zip"
    with zipfile.ZipFile(stored, "w", zipfile.ZIP_STORED) as zf:
        zf.write(log, "EX01/R.LOG")
    data = bytearray(stored.read_bytes())
    at = data.index(b"104.47.34.97", 20_000)
    data[at:at + 12] = b"EVIL.ONE.ONE"
    stored.write_bytes(bytes(data))
    with Unpacker() as unpack:
        assert unpack.expand(stored) == []
        [problem] = unpack.problems
        assert problem.message.startswith("cannot extract archive at member 'EX01/R.LOG'")


def test_tar_members_at_the_top_are_cited_by_their_own_name(tmp_path):
    case = _case(tmp_path / "case")
    tarred = tmp_path / "logs.tar.gz"
    with tarfile.open(tarred, "w:gz") as tf:
        for log in sorted(case.rglob("*.LOG")):
            tf.add(log, log.name)  # at the top, no folder
    shown = {str(s.location).rsplit(":", 1)[0] for s in run_sessions_query([tarred]).sessions}
    assert shown == {f"{tarred}/{log.name}" for log in case.rglob("*.LOG")}
