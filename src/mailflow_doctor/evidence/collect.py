"""Turn the paths an admin hands us into typed evidence, each file's kind told by its content.

Folders are walked recursively; every file is sniffed by every reader and parsed by the first
that recognises it. Explicit options (`--trace FILE`, ...) name the category and so override
sniffing across categories. Nothing here judges the evidence; it only reads and sorts it.

Protocol logs run to gigabytes, so they go through the DuckDB case store (a file the admin keeps
with `--store`, or a temporary one) and only the sessions the caller asks for (SessionQuestion)
become records, within a day of the trace's time span when there is a trace. Message tracking
logs are read after the trace too: only the files whose first and last rows meet that window,
and of those only the events of the trace's messages. A month of logs from a busy estate then
costs the days the trace covers, and memory for a few messages.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from importlib import import_module
from pathlib import Path
from types import ModuleType

from ..ipspace import PrefixSet
from ..model import InputProblem, Location
from ..model.exchange import SmtpSession
from ..model.firewall import DenyEvent, FirewallRuleset
from ..model.trace import TraceEvent
from ..model.tracking import TrackingEvent, message_key
from .archives import Unpacker, archive_kind, store_folder
from .textio import NOT_A_FILE, UnreadableInput, is_empty, read_head
from .trace.merge import merge

# Category → reader modules, most specific first. A reader module has KIND, sniff(), parse().
READERS: dict[str, tuple[str, ...]] = {
    "trace": ("trace.extended_csv", "trace.detail_csv", "trace.summary_csv",
              "trace.json_export"),
    "receive-logs": ("exchange.protocol_log",),
    "tracking-logs": ("exchange.message_tracking",),
    "firewall-config": ("firewall.asa", "firewall.ios", "firewall.fortigate", "firewall.panos",
                        "firewall.pfsense", "firewall.nftables", "firewall.azure_nsg",
                        "firewall.aws_sg",
                        "firewall.iptables"),
    "firewall-log": ("firewall.deny_log",),
}
UNRECOGNISED = "unrecognised"
PROTOCOL_LOGS = "receive-logs"
TRACKING_LOGS = "tracking-logs"
TRACE_MARGIN = timedelta(days=1)  # around the trace's span: sessions before the defers count too
Window = tuple[datetime, datetime] | None  # (since, until) in UTC; None: everything


@dataclass(frozen=True)
class SessionQuestion:
    """Which protocol-log sessions become records, and where the case store lives."""

    prefixes: PrefixSet | None = None  # sources wanted; None: every session
    ehlo_suffix: str | None = None  # also sessions whose EHLO name ends so, from any source
    store: Path | None = None  # None: a temporary store
    progress: object = None  # a store progress callback (Rich bar in the CLI)


def _module(name: str) -> ModuleType:
    return import_module(f"{__package__}.{name}")


@dataclass
class Evidence:
    """Everything read from the inputs, plus what could not be used."""

    trace: list[TraceEvent] = field(default_factory=list)
    sessions: list[SmtpSession] = field(default_factory=list)  # those asked for
    session_count: int = 0  # receive sessions of any source in the logs (within the window)
    firewalls: list[FirewallRuleset] = field(default_factory=list)
    denies: list[DenyEvent] = field(default_factory=list)
    tracking: list[TrackingEvent] = field(default_factory=list)  # on-premises message tracking
    tracking_files_read: int = 0  # message tracking logs read (their events may all be others')
    tracking_outside_window: int = 0  # tracking log files left unread: no row near the trace
    problems: list[InputProblem] = field(default_factory=list)
    inputs: list[tuple[str, str]] = field(default_factory=list)  # (file, kind)

    @property
    def usable(self) -> bool:
        return bool(self.trace or self.session_count or self.sessions or self.firewalls
                    or self.denies or self.tracking)

    def add(self, category: str, records: list) -> None:
        {"trace": self.trace, "receive-logs": self.sessions, "firewall-config": self.firewalls,
         "firewall-log": self.denies, "tracking-logs": self.tracking}[category].extend(records)


def _files(path: Path, unpack: Unpacker) -> Iterable[Path]:
    """The files under `path`; an archive (.zip, .tar.gz, .gz) gives the files it holds.

    Copies already extracted (beside a store kept in `path`) come through their archive only."""
    found = sorted(p for p in path.rglob("*") if not p.is_dir()
                   and unpack.root not in p.absolute().parents) if path.is_dir() else [path]
    for file in found:
        yield from unpack.expand(file) if file.is_file() else [file]  # the caller says why not


def _identify(path: Path, categories: Iterable[str]) -> tuple[str, ModuleType] | None:
    head = read_head(path)
    if not head:
        return None
    for category in categories:
        for name in READERS[category]:
            module = _module(name)
            if module.sniff(head):
                return category, module
    return None


def _read(evidence: Evidence, path: Path, category: str, module: ModuleType,
          options: dict[str, dict]) -> None:
    try:
        parsed = module.parse(path, **options.get(module.KIND, {}))
    except UnreadableInput as exc:
        evidence.problems.append(exc.problem)
        evidence.inputs.append((str(path), UNRECOGNISED))
        return
    evidence.add(category, parsed.records)
    evidence.problems.extend(parsed.problems)
    evidence.inputs.append((str(path), module.KIND))


def collect(paths: Iterable[str | Path] = (),
            forced: dict[str, Iterable[str | Path]] | None = None,
            options: dict[str, dict] | None = None,
            sessions: SessionQuestion | None = None) -> Evidence:
    """Read every file under `paths` (kind sniffed) and under `forced[category]`.

    `options` gives a reader, by its KIND, extra arguments (e.g. a filter for deny logs);
    `sessions` says which protocol-log sessions to keep (default: all).
    """
    evidence = Evidence()
    # Archives are extracted beside the store, where its next run finds them; else temporarily.
    unpack = Unpacker(store_folder(sessions.store) if sessions and sessions.store else None)
    logs: list[Path] = []
    tracking: list[tuple[Path, ModuleType]] = []
    jobs: list[tuple[Path, tuple[str, ...], bool]] = []
    for category, items in (forced or {}).items():
        jobs.extend((Path(p), (category,), True) for p in items)
    jobs.extend((Path(p), tuple(READERS), False) for p in paths)

    for root, categories, explicit in jobs:
        if not root.exists():
            evidence.problems.append(InputProblem(Location(str(root)), "no such file or folder"))
            continue
        named_file = root.is_file() and archive_kind(root) is None
        for path in _files(root, unpack):
            if not path.is_file():  # read, a pipe is gone; opened, a FIFO waits for a writer
                evidence.problems.append(InputProblem(Location(str(path)), NOT_A_FILE
                                                      if path.exists() else "broken link"))
                continue
            found = _identify(path, categories)
            if found is None and explicit and len(categories) == 1:
                # The admin told us what it is: let the category's main reader explain why not.
                found = categories[0], _module(READERS[categories[0]][-1])
            if found is None:
                evidence.inputs.append((str(path), UNRECOGNISED))
                if named_file:
                    evidence.problems.append(InputProblem(
                        Location(str(path)),
                        "empty file" if is_empty(path) else
                        "not a kind of evidence this tool reads (message trace export, "
                        "SMTP protocol log, message tracking log, firewall configuration or "
                        "deny log)"))
                continue
            if found[0] == PROTOCOL_LOGS:
                logs.append(path)
                evidence.inputs.append((str(path), found[1].KIND))
                continue
            if found[0] == TRACKING_LOGS:
                tracking.append((path, found[1]))
                continue
            _read(evidence, path, *found, options or {})
    evidence.trace = merge(evidence.trace)
    window = _trace_window(evidence.trace)
    wanted = _trace_messages(evidence.trace)
    for path, module in tracking:
        _read_tracking(evidence, path, module, window,
                       {**(options or {}), module.KIND: {"message_ids": wanted}})
    if logs:
        _read_sessions(evidence, logs, sessions or SessionQuestion(), window)
    evidence.problems.extend(unpack.problems)
    unpack.close()  # everything is read: a temporary copy can go
    return evidence


def _trace_window(trace: list[TraceEvent]) -> Window:
    """The trace's time span widened by TRACE_MARGIN: the on-premises log rows worth reading.
    (A trace may hold times at the ends of datetime's range: PowerShell's DateTime.MinValue.)"""
    if not trace:
        return None
    first, last = min(e.time_utc for e in trace), max(e.time_utc for e in trace)
    try:
        since = first - TRACE_MARGIN
    except OverflowError:
        since = datetime.min.replace(tzinfo=UTC)
    try:
        until = last + TRACE_MARGIN
    except OverflowError:
        until = datetime.max.replace(tzinfo=UTC)
    return since, until


def _trace_messages(trace: list[TraceEvent]) -> frozenset[str] | None:
    """The trace's messages (`message_key`), whose tracking events are kept; None: all are."""
    if not trace:
        return None
    return frozenset(key for e in trace if (key := message_key(e.message_id)))


def _read_tracking(evidence: Evidence, path: Path, module: ModuleType, window: Window,
                   options: dict[str, dict]) -> None:
    """A tracking log, unless its first and last rows say that all of it lies outside the
    window (a file whose times cannot be read that way is read)."""
    if window is not None:
        from .exchange._w3c import time_span

        try:
            first, last = time_span(str(path), path.stat().st_size)
        except OSError:
            first = last = None  # the reader reports why
        if last is not None and last < window[0] or first is not None and first > window[1]:
            evidence.tracking_outside_window += 1
            evidence.inputs.append((str(path), module.KIND))
            return
    evidence.tracking_files_read += 1
    _read(evidence, path, TRACKING_LOGS, module, options)


def _read_sessions(evidence: Evidence, logs: list[Path], question: SessionQuestion,
                   window: Window) -> None:
    """The asked-for sessions of `logs`, through the case store, within the trace's window."""
    from ..store.run import MAX_PROBLEMS_SHOWN, QueryError, sessions_for_diagnosis

    since, until = window or (None, None)
    try:
        found = sessions_for_diagnosis(logs, question.store, prefixes=question.prefixes,
                                       ehlo_suffix=question.ehlo_suffix, since=since,
                                       until=until, progress=question.progress)
    except QueryError as exc:
        evidence.problems.append(InputProblem(Location(str(question.store or logs[0])),
                                              str(exc)))
        return
    evidence.sessions.extend(found.sessions)
    evidence.session_count += found.total
    evidence.problems.extend(found.info.problems)
    if found.info.bad_lines > MAX_PROBLEMS_SHOWN:
        evidence.problems.append(InputProblem(
            Location(str(question.store or logs[0].parent)),
            f"{found.info.bad_lines} bad lines in the protocol logs in all; the first "
            f"{MAX_PROBLEMS_SHOWN} are listed"))
