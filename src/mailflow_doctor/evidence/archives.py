"""Archives of log folders (.zip, .tar, .tar.gz/.tgz, a single file's .gz) as files on disk.

Admins send the ProtocolLog folder of each server zipped, and the readers want real files
(DuckDB's CSV reader takes a path), so an archive is extracted once, into a folder kept for the
purpose: beside the case store (`case.duckdb.d/archives/`), where the next run finds it and
reads nothing again; or a temporary folder removed when the run ends. Archives are told by
their name; what they hold is sniffed like any other file.

Each archive gets a folder named after its path, size and modification time, and below it the
archive's own path, then the members' paths: `…/archives/@…/home/a/case/EX01.zip/ProtocolLog/
SmtpSend/SEND2026112801-1.LOG` (a single file's `.gz` holds its one member the same way:
`…/SmtpSend/SEND2026112801-1.LOG.gz/SEND2026112801-1.LOG`). So the folder layout still names the
server (exchange/layout.py), and a cited line shows as that archive's path and the member's,
without the extraction folder (model.shown_source), which may be a temporary one already gone.

Archive contents are attacker-controlled: members that would land outside their folder (`..`,
absolute names), links and devices are refused, and the bytes written and the number of members
are bounded, so a zip bomb stops with a problem instead of filling the disk. A corrupt archive is
one problem; the members extracted before the damage are still used, and so is the first part
of the member the damage is in (a download cut short).

The archive, JSON, hashing and copying modules are imported when an archive is met: plain logs
start faster.
"""

from __future__ import annotations

import os
import re
import stat
from collections.abc import Callable, Iterator
from pathlib import Path, PurePath
from typing import IO

from ..model import InputProblem, Location
from .textio import NOT_A_FILE

MAX_BYTES = 20 * 2**30  # per archive, as extracted
MAX_MEMBERS = 50_000  # per archive; a server's ProtocolLog folder holds a few hundred files
MAX_PROBLEMS = 20  # refused members listed per archive; the others are counted
CHUNK = 1 << 14  # small: a member cut short keeps all but its last few KiB

Entry = tuple[str, str, Callable[[], IO[bytes]]]  # (member name, what it is, opener)


def archive_kind(path: str | PurePath) -> str | None:
    """`zip`, `tar` or `gzip` (one compressed file) by the name; None for anything else."""
    name = str(path).lower()
    if name.endswith((".tar", ".tgz", ".tar.gz")):
        return "tar"
    if name.endswith(".zip"):
        return "zip"
    return "gzip" if name.endswith(".gz") else None


def store_folder(store_path: str | PurePath) -> Path:
    """Where the archives of the case store at `store_path` are extracted: beside it."""
    return Path(f"{os.path.abspath(store_path)}.d") / "archives"


class _TooBig(Exception):
    pass


class Unpacker:
    """Extracts archives under `root`, each once; None: a temporary folder, deleted on close.

    `extracted` counts the archives extracted by this object (not found ready); `problems`
    holds what could not be used, named by archive, on every run (not only the extracting one).
    """

    def __init__(self, root: str | PurePath | None = None, *, max_bytes: int = MAX_BYTES,
                 max_members: int = MAX_MEMBERS) -> None:
        self._tmpdir = None
        if root is None:
            import tempfile

            # TemporaryDirectory also cleans up when the object is dropped without `close`.
            self._tmpdir = tempfile.TemporaryDirectory(prefix="mailflow-archives-",
                                                       ignore_cleanup_errors=True)
        self.root = Path(root if root is not None else self._tmpdir.name)
        self.max_bytes = max_bytes
        self.max_members = max_members
        self.extracted = 0
        self.problems: list[InputProblem] = []

    def expand(self, path: str | PurePath) -> list[Path]:
        """`path` itself, or when it is an archive the files it holds (extracted if need be).

        An archive inside it is named as a problem, not opened: its bytes and members would
        escape this archive's budget, and its folder the clean-up of older versions."""
        kind = archive_kind(path)
        if kind is None:
            return [Path(path)]
        import json

        archive = os.path.abspath(path)
        try:
            st = os.stat(archive)
            if not stat.S_ISREG(st.st_mode):
                self.problems.append(InputProblem(Location(archive), NOT_A_FILE))
                return []
            if not st.st_size:
                self.problems.append(InputProblem(Location(archive), "empty file"))
                return []
            key = _key(archive, st)
            folder, manifest = self.root / key, self.root / f"{key}.json"
            if not (folder.is_dir() and manifest.is_file()):  # the folder comes last
                self._extract(archive, kind, folder, manifest)
            notes = json.loads(manifest.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            self.problems.append(InputProblem(Location(archive),
                                              f"cannot extract archive: {_reason(exc)}"))
            return []
        self.problems.extend(InputProblem(Location(archive), note) for note in notes)
        members = sorted(p for p in folder.rglob("*") if p.is_file())
        if not members and not notes:
            self.problems.append(InputProblem(Location(archive), "the archive holds no files"))
        found: list[Path] = []
        for member in members:
            if archive_kind(member) is None:
                found.append(member)
            else:
                self.problems.append(InputProblem(Location(str(member)), (
                    "an archive inside the archive: not opened (extract it and give its "
                    "folder)")))
        return found

    def _extract(self, archive: str, kind: str, folder: Path, manifest: Path) -> None:
        """Extract into a work folder, write the notes, then rename the folder into place."""
        import json
        import shutil
        import tempfile

        self.root.mkdir(parents=True, exist_ok=True)
        work = Path(tempfile.mkdtemp(prefix=f"{folder.name}.partial-", dir=self.root))
        try:
            parts = _path_parts(archive)
            notes = self._members(archive, _entries(archive, kind), work.joinpath(*parts))
            staged = manifest.with_name(f"{work.name}.json")
            staged.write_text(json.dumps(notes), encoding="utf-8")
            os.replace(staged, manifest)
            try:
                os.rename(work, folder)
            except OSError:
                if not folder.is_dir():  # else another run got there first: use its copy
                    raise
        finally:
            shutil.rmtree(work, ignore_errors=True)
        self.extracted += 1
        for stale in self.root.glob(folder.name.split("-")[0] + "-*"):
            if stale.name not in (folder.name, manifest.name) and ".partial-" not in stale.name:
                _remove(stale)  # an earlier version of this archive

    def _members(self, archive: str, entries: Iterator[Entry], base: Path) -> list[str]:
        """Write the regular-file members below `base`; the notes on what was not written."""
        import lzma
        import tarfile
        import zipfile
        import zlib

        # RuntimeError covers zipfile's unsupported-compression error (Deflate64) too.
        read_errors = (OSError, EOFError, ValueError, RuntimeError, zipfile.BadZipFile,
                       tarfile.TarError, zlib.error, lzma.LZMAError)
        notes: list[str] = []
        refused = count = total = 0
        name = writing = None
        try:
            for name, what, open_member in entries:
                count += 1
                if count > self.max_members:
                    notes.append(f"more than {self.max_members} members; the rest are not read")
                    break
                if what == "folder":
                    continue
                parts = _safe_parts(name)
                if what != "file":
                    why = f"is a {what}"
                elif parts is None:
                    why = "points outside the archive folder"
                else:
                    target = base.joinpath(*parts)
                    try:
                        target.parent.mkdir(parents=True, exist_ok=True)
                        out = open(target, "xb")  # closed by _copy, removed on error
                    except (OSError, ValueError) as exc:
                        why = f"cannot be written ({_reason(exc)})"
                    else:
                        writing = target
                        total = self._copy(open_member, out, target, total)
                        writing = None
                        continue
                refused += 1
                if refused <= MAX_PROBLEMS:
                    notes.append(f"member {name!r} {why}; skipped")
        except _TooBig:
            notes.append(f"expands to more than {_size(self.max_bytes)}; extraction stopped at "
                         f"member {name!r} (extract it yourself to read the rest)")
        except read_errors as exc:
            if writing is not None and writing.exists():  # kept by _copy: cut short
                notes.append(f"cut short in member {name!r} ({_reason(exc)}): what came "
                             "before the damage is read")
            else:
                at = f" at member {name!r}" if name is not None else ""
                notes.append(f"cannot extract archive{at}: {_reason(exc)}")
        if refused > MAX_PROBLEMS:
            notes.append(f"{refused - MAX_PROBLEMS} more members skipped")
        return notes

    def _copy(self, open_member: Callable[[], IO[bytes]], out: IO[bytes], target: Path,
              total: int) -> int:
        """Copy one member, counting against the archive's byte budget; the new total."""
        try:
            with out, open_member() as src:
                # read1: what one step decompresses, so bytes before a cut reach the file
                read = getattr(src, "read1", src.read)
                while chunk := read(CHUNK):
                    total += len(chunk)
                    if total > self.max_bytes:
                        raise _TooBig
                    out.write(chunk)
        except Exception as exc:
            # A download cut short still holds its first part, which the readers read up to
            # the cut (a cut last line is theirs to report). Anything else (a bomb, a checksum
            # that fails at the member's end, a full disk) leaves no part behind.
            if not (_cut_short(exc) and target.stat().st_size):
                target.unlink(missing_ok=True)
            raise
        except BaseException:
            target.unlink(missing_ok=True)  # interrupted: no half member left behind
            raise
        return total

    def close(self) -> None:
        if self._tmpdir is not None:
            self._tmpdir.cleanup()
            self._tmpdir = None

    def __enter__(self) -> Unpacker:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _entries(archive: str, kind: str) -> Iterator[Entry]:
    """The members in archive order: name, `file`/`folder`/what else it is, and an opener."""
    import gzip
    import tarfile
    import zipfile

    if kind == "zip":
        with zipfile.ZipFile(archive) as zf:
            for info in zf.infolist():
                # The Unix mode; Windows tools write none, which is a plain file.
                mode = info.external_attr >> 16
                what = ("folder" if info.is_dir() or stat.S_ISDIR(mode) else
                        "file" if not stat.S_IFMT(mode) or stat.S_ISREG(mode) else
                        "link or device")
                yield info.filename, what, lambda info=info: zf.open(info)
    elif kind == "tar":
        with tarfile.open(archive, "r|*") as tf:  # a stream: one pass, members in order
            for member in tf:
                what = ("folder" if member.isdir() else
                        "file" if member.isfile() else "link or device")
                yield member.name, what, lambda member=member: tf.extractfile(member)
    else:
        yield os.path.basename(archive)[:-3], "file", lambda: gzip.open(archive)


def _safe_parts(name: str) -> list[str] | None:
    """The folders and file name of a member; None when it would land outside its folder."""
    parts = name.replace("\\", "/").split("/")
    if name.startswith(("/", "\\")) or re.match(r"[A-Za-z]:", name) or ".." in parts:
        return None
    return [part for part in parts if part not in ("", ".")] or None


def _path_parts(path: str) -> list[str]:
    """An absolute path as folder names to recreate below another folder (drive or host kept)."""
    pure = PurePath(path)
    head = [part for part in re.split(r"[\\/:]+", pure.anchor) if part]
    return head + list(pure.parts[1:] if pure.anchor else pure.parts)


def _cut_short(exc: BaseException) -> bool:
    """The member's data ended early: a truncated file, not corrupt or unwritable data."""
    import tarfile

    return isinstance(exc, EOFError) or (isinstance(exc, tarfile.ReadError)
                                         and "unexpected end of data" in str(exc))


def _key(archive: str, st: os.stat_result) -> str:
    """`@<path>-<version>`: a new version of an archive replaces the old one's folder."""
    import hashlib

    where = hashlib.blake2b(os.fsencode(archive), digest_size=8).hexdigest()
    version = hashlib.blake2b(f"{st.st_size}:{st.st_mtime_ns}".encode(), digest_size=4)
    return f"@{where}-{version.hexdigest()}"


def _remove(path: Path) -> None:
    if path.is_dir():
        import shutil

        shutil.rmtree(path, ignore_errors=True)
    else:
        path.unlink(missing_ok=True)


def _reason(exc: BaseException) -> str:
    return str(getattr(exc, "strerror", None) or exc) or type(exc).__name__


def _size(n: int) -> str:
    for unit, scale in (("GiB", 2**30), ("MiB", 2**20), ("KiB", 2**10)):
        if n >= scale:
            return f"{n / scale:g} {unit}"
    return f"{n} bytes"
