"""Thin command-line layer: arguments → evidence → diagnosis → renderer → exit code.

Exit codes (a contract): 0 nothing wrong found, 1 problems found, 2 bad usage or no usable input.
"""

from __future__ import annotations

import ipaddress
from datetime import UTC, datetime, timedelta
from enum import Enum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Optional

import typer
from typer.core import TyperGroup

from .evidence.timefmt import parse_time
from .progress import RichProgress

if TYPE_CHECKING:
    from collections.abc import Iterable

    from .model.report import Report

# Each command imports what only it needs (HTTP and MSAL for `trace fetch`, the checks for
# `diagnose`, ...): a start-up that loaded everything would cost ~0.3 s on every command.

app = typer.Typer(
    add_completion=False, no_args_is_help=True,
    help="Find out why mail from Exchange Online is not reaching on-premises Exchange.")

EXIT_OK, EXIT_FINDINGS, EXIT_USAGE = 0, 1, 2


class Format(str, Enum):
    text = "text"
    json = "json"


class Instance(str, Enum):
    worldwide = "worldwide"
    usgovdod = "usgovdod"
    usgovgcchigh = "usgovgcchigh"
    china = "china"


FormatOpt = Annotated[Format, typer.Option("--format", "-f", help="Report format.")]
OutputOpt = Annotated[Optional[Path], typer.Option(
    "--output", "-o", help="Write the report to this file instead of the terminal.")]
InstanceOpt = Annotated[Instance, typer.Option(
    help="Microsoft 365 cloud whose EOP ranges apply.")]
StoreOpt = Annotated[Optional[Path], typer.Option(
    help="Case store (DuckDB file) for protocol logs: created if missing, and a later run "
         "reads only new or changed logs. Default: a temporary store.")]


def fail(message: str) -> typer.Exit:
    """One clear line on stderr and exit code 2: for bad usage and unusable input."""
    from .report.terminal import escaped  # the message may quote the input

    typer.echo(f"mailflow-doctor: {escaped(message)}", err=True)
    return typer.Exit(EXIT_USAGE)


def warn(problems: Iterable[object]) -> None:
    """Each input problem as one line on stderr; the rest of the input is still used."""
    from .report.terminal import escaped  # a problem may quote the input

    for problem in problems:
        typer.echo(f"warning: {escaped(str(problem))}", err=True)


def emit(text: str, output: Path | None) -> None:
    if output is None:
        typer.echo(text, nl=False)
        return
    try:
        output.write_text(text, encoding="utf-8")
    except OSError as exc:
        raise fail(f"{output}: cannot write report: {exc.strerror}") from None


def _diagnose(paths: list[Path], forced: dict[str, list[Path]], fmt: Format,
              output: Path | None, instance: Instance, destination: str | None,
              ingress: str | None, store: Path | None = None) -> Report:
    from .diagnose.checks.sources import EOP_HELO_SUFFIX
    from .diagnose.engine import diagnose as run_diagnosis
    from .diagnose.facts import parse_destination
    from .evidence.collect import SessionQuestion, collect
    from .knowledge.endpoints import snapshot
    from .report import json_report
    from .report import text as text_report

    target = None
    if destination:
        try:
            target = parse_destination(destination)
        except ValueError as exc:
            raise fail(f"--destination {destination!r}: {exc}") from None
    eop = snapshot(instance.value)
    with RichProgress() as progress:
        evidence = collect(paths, forced, sessions=SessionQuestion(
            eop.eop_prefixes, EOP_HELO_SUFFIX, store, progress))
    if not evidence.usable:
        first = evidence.problems[0] if evidence.problems else "no evidence files given"
        extra = f" (and {len(evidence.problems) - 1} more problems)" if len(
            evidence.problems) > 1 else ""
        raise fail(f"nothing usable in the input: {first}{extra}")
    warn(evidence.problems)
    report = run_diagnosis(evidence, eop, target, ingress)
    emit({"text": text_report.render, "json": json_report.render}[fmt.value](report), output)
    return report


@app.command()
def diagnose(
    paths: Annotated[Optional[list[Path]], typer.Argument(
        help="Evidence files or folders; each file's kind is detected from its content.")] = None,
    trace: Annotated[Optional[list[Path]], typer.Option(
        help="A message trace export (overrides detection).")] = None,
    receive_logs: Annotated[Optional[list[Path]], typer.Option(
        help="SMTP protocol log file or folder (overrides detection).")] = None,
    firewall_config: Annotated[Optional[list[Path]], typer.Option(
        help="A firewall configuration (overrides detection).")] = None,
    firewall_log: Annotated[Optional[list[Path]], typer.Option(
        help="A firewall deny log (overrides detection).")] = None,
    tracking_logs: Annotated[Optional[list[Path]], typer.Option(
        help="Exchange message tracking log file or folder (overrides detection).")] = None,
    destination: Annotated[Optional[str], typer.Option(
        help="Public address of the on-premises SMTP endpoint, IP[:PORT]; "
             "default: taken from the trace's Defer reasons.")] = None,
    ingress: Annotated[Optional[str], typer.Option(
        help="Firewall interface facing the internet; default: taken from the NAT "
             "that publishes the endpoint.")] = None,
    instance: InstanceOpt = Instance.worldwide,
    store: StoreOpt = None,
    fmt: FormatOpt = Format.text,
    output: OutputOpt = None,
) -> None:
    """Diagnose from the evidence you have: trace exports, protocol logs, firewall configs."""
    forced = {k: v for k, v in {"trace": trace, "receive-logs": receive_logs,
                                "firewall-config": firewall_config,
                                "firewall-log": firewall_log,
                                "tracking-logs": tracking_logs}.items() if v}
    if not paths and not forced:
        raise fail("give at least one evidence file or folder (see --help)")
    report = _diagnose(list(paths or []), forced, fmt, output, instance, destination, ingress,
                       store)
    serious = any(f.severity in ("error", "warning") for f in report.findings)
    raise typer.Exit(EXIT_FINDINGS if serious else EXIT_OK)


@app.command()
def decode(
    reason: Annotated[str, typer.Argument(
        help="A Defer/Fail reason from a message trace, e.g. 'Reason: [{LED=450 4.4.316 ...}'.")],
    fmt: FormatOpt = Format.text,
) -> None:
    """Explain one Defer/Fail reason string: its fields, what it means and what to fix."""
    from .evidence.trace.reason import decode_reason
    from .knowledge.codes import explain
    from .report import decode as decode_report

    decoded = decode_reason(reason)
    if decoded is None:
        raise fail("no SMTP reply or LED=... found in the reason text")
    render = decode_report.render_json if fmt is Format.json else decode_report.render_text
    typer.echo(render(decoded, explain(decoded)), nl=False)


class _TraceGroup(TyperGroup):
    """`trace PATH...` lists the events; `trace summary ...` and `trace fetch ...` are named."""

    def parse_args(self, ctx, args):  # type: ignore[no-untyped-def]
        if args and args[0] not in self.commands and args[0] not in ("--help", "-h"):
            args = ["show", *args]
        return super().parse_args(ctx, args)


trace_app = typer.Typer(cls=_TraceGroup, no_args_is_help=True,
                        help="Read message trace exports on their own (events, summary, fetch).")
app.add_typer(trace_app, name="trace")
PathsArg = Annotated[list[Path], typer.Argument(
    help="Message trace exports or folders; each file's kind is detected from its content.")]


def _trace_events(paths: list[Path]) -> list:
    from .evidence.collect import collect

    evidence = collect(paths)
    warn(evidence.problems)
    if not evidence.trace:
        raise fail("no message trace events found in " + ", ".join(map(str, paths)))
    return evidence.trace


@trace_app.command("show")
def trace_show(paths: PathsArg, fmt: FormatOpt = Format.text, output: OutputOpt = None) -> None:
    """Print the normalised events (the default of `trace PATH...`)."""
    from .report import trace as trace_report

    events = _trace_events(paths)
    render = trace_report.events_json if fmt is Format.json else trace_report.events_text
    emit(render(events), output)


def _since(text: str) -> timedelta:
    unit = text[-1:].lower()
    if unit not in ("h", "d") or not text[:-1].isdigit():
        raise fail(f"--since {text!r}: use hours or days, e.g. 48h or 7d")
    return timedelta(hours=int(text[:-1])) if unit == "h" else timedelta(days=int(text[:-1]))


@trace_app.command("fetch")
def trace_fetch(
    tenant: Annotated[str, typer.Option(help="Tenant id or domain.")],
    client_id: Annotated[str, typer.Option(help="Application (client) id.")],
    output: Annotated[Path, typer.Option("--output", "-o", help="The evidence file to write.")],
    client_secret_env: Annotated[Optional[str], typer.Option(
        help="Name of the environment variable holding the client secret.")] = None,
    certificate: Annotated[Optional[Path], typer.Option(
        help="PEM file with the app's certificate and private key.")] = None,
    device_code: Annotated[bool, typer.Option(help="Sign in interactively.")] = False,
    since: Annotated[str, typer.Option(help="How far back, e.g. 48h or 7d.")] = "48h",
    start: Annotated[Optional[str], typer.Option(help="Start (ISO time, UTC).")] = None,
    end: Annotated[Optional[str], typer.Option(help="End (ISO time, UTC).")] = None,
    recipient_domain: Annotated[Optional[str], typer.Option(
        help="Only recipients in this domain.")] = None,
    status: Annotated[Optional[str], typer.Option(
        help="Only these statuses, comma-separated (e.g. pending,failed).")] = None,
    authority_host: Annotated[str, typer.Option(hidden=True)] = "https://login.microsoftonline.com",
    graph_url: Annotated[Optional[str], typer.Option(hidden=True)] = None,
    ca_bundle: Annotated[Optional[str], typer.Option(hidden=True)] = None,
) -> None:
    """Fetch message traces from Microsoft Graph into a file that `diagnose` reads."""
    import ssl

    import httpx

    from .fetch.auth import AuthError, Credentials, token_provider
    from .fetch.graph_trace import GRAPH, FetchError, GraphClient, fetch_traces, write_fetch

    if sum(map(bool, (client_secret_env, certificate, device_code))) != 1:
        raise fail("give exactly one of --client-secret-env, --certificate, --device-code")
    now = datetime.now(UTC)
    try:
        t1 = parse_time(end) if end else now
        t0 = parse_time(start) if start else t1 - _since(since)
    except ValueError as exc:
        raise fail(str(exc)) from None
    if t0 is None or t1 is None:
        raise fail("--start/--end: not a readable time")
    creds = Credentials(tenant, client_id, client_secret_env, certificate, device_code,
                        authority_host, ca_bundle or True)
    try:
        verify = ssl.create_default_context(cafile=ca_bundle) if ca_bundle else True
        with httpx.Client(timeout=30, verify=verify) as http, RichProgress() as bar:
            client = GraphClient(http, token_provider(creds), graph_url or GRAPH)
            result = fetch_traces(client, tenant, t0, t1, recipient_domain,
                                  {x.strip().lower() for x in status.split(",")} if status
                                  else None, progress=bar)
        write_fetch(result, output)
    except (AuthError, FetchError) as exc:
        raise fail(str(exc)) from None
    except OSError as exc:
        raise fail(f"{output}: cannot write: {exc.strerror}") from None
    typer.echo(f"{len(result['traces'])} trace(s), details of {len(result['details'])} "
               f"pending/failed message(s) written to {output}", err=True)


@trace_app.command("summary")
def trace_summary(paths: PathsArg, fmt: FormatOpt = Format.text,
                  output: OutputOpt = None) -> None:
    """Per target: delivered, deferred, failed and pending messages, errors, hourly timeline."""
    from .diagnose.trace_summary import summarise
    from .report import trace as trace_report

    targets = summarise(_trace_events(paths))
    render = trace_report.summary_json if fmt is Format.json else trace_report.summary_text
    emit(render(targets), output)


firewall_app = typer.Typer(no_args_is_help=True,
                           help="Ask a firewall configuration about EOP → your SMTP endpoint.")
app.add_typer(firewall_app, name="firewall")
ConfigsArg = Annotated[list[Path], typer.Argument(
    help="Firewall configurations (ASA running-config, iptables-save, nftables); several are "
         "layers of one path.")]
DestinationOpt = Annotated[str, typer.Option(help="The public SMTP endpoint, IP[:PORT].")]
SourcesOpt = Annotated[Optional[str], typer.Option(
    help="Comma-separated CIDRs to ask about instead of the EOP ranges.")]
IngressOpt = Annotated[Optional[str], typer.Option(
    help="Interface facing the internet; default: from the NAT that publishes the endpoint.")]


def _firewall_question(configs: list[Path], destination: str, sources: str | None,
                       instance: Instance, ingress: str | None):
    from .diagnose.audit import audit as run_audit
    from .diagnose.facts import parse_destination
    from .evidence.collect import collect
    from .ipspace import PrefixSet
    from .knowledge.endpoints import snapshot

    try:
        target = parse_destination(destination)
        asked = PrefixSet.parse(*sources.split(",")) if sources else \
            snapshot(instance.value).eop_prefixes
    except ValueError as exc:
        raise fail(f"{exc}") from None
    evidence = collect([], {"firewall-config": configs})
    warn(evidence.problems)
    if not evidence.firewalls:
        raise fail("no readable firewall configuration in " + ", ".join(map(str, configs)))
    address = ipaddress.ip_address(target.ip)
    return run_audit(evidence.firewalls, asked, address, target.port, ingress), address, target


@firewall_app.command("audit")
def firewall_audit(configs: ConfigsArg, destination: DestinationOpt, sources: SourcesOpt = None,
                   instance: InstanceOpt = Instance.worldwide, ingress: IngressOpt = None,
                   fmt: FormatOpt = Format.text, output: OutputOpt = None) -> None:
    """Which of the EOP ranges may reach DESTINATION over TCP, and which rule decides each."""
    from .report import firewall as firewall_report

    result, _, _ = _firewall_question(configs, destination, sources, instance, ingress)
    render = firewall_report.audit_json if fmt is Format.json else firewall_report.audit_text
    emit(render(result), output)
    raise typer.Exit(EXIT_FINDINGS if result.missing else EXIT_OK)


@firewall_app.command("fix")
def firewall_fix(configs: ConfigsArg, destination: DestinationOpt, sources: SourcesOpt = None,
                 instance: InstanceOpt = Instance.worldwide, ingress: IngressOpt = None,
                 fmt: FormatOpt = Format.text, output: OutputOpt = None) -> None:
    """The smallest additive change, in the firewall's own syntax, re-checked before printing."""
    from .diagnose.audit import fixes as propose_fixes
    from .report import firewall as firewall_report

    result, address, target = _firewall_question(configs, destination, sources, instance,
                                                 ingress)
    fixes = propose_fixes(result, address, target.port, ingress)
    render = firewall_report.fixes_json if fmt is Format.json else firewall_report.fixes_text
    emit(render(fixes), output)
    raise typer.Exit(EXIT_FINDINGS if fixes else EXIT_OK)


@firewall_app.command("drops")
def firewall_drops(
    logs: Annotated[list[Path], typer.Argument(
        help="Firewall deny logs: kernel LOG lines (iptables/nftables), Cisco ASA syslog.")],
    port: Annotated[int, typer.Option(help="The SMTP port the endpoint listens on.")] = 25,
    instance: InstanceOpt = Instance.worldwide, fmt: FormatOpt = Format.text,
    output: OutputOpt = None,
) -> None:
    """Denied attempts from EOP to the SMTP port, per EOP range and network, first and last."""
    from .diagnose.drops import eop_drops, eop_filter
    from .evidence.collect import collect
    from .evidence.firewall import deny_log
    from .knowledge.endpoints import snapshot
    from .report import firewall as firewall_report

    eop = snapshot(instance.value).eop_prefixes
    evidence = collect([], {"firewall-log": logs},
                       {deny_log.KIND: {"want": eop_filter(eop, port)}})
    warn(evidence.problems)
    result = eop_drops(evidence.denies, eop, port)
    render = firewall_report.drops_json if fmt is Format.json else firewall_report.drops_text
    emit(render(result), output)
    raise typer.Exit(EXIT_FINDINGS if result.by_24 else EXIT_OK)


logs_app = typer.Typer(no_args_is_help=True, help=(
    "Ask Exchange SMTP protocol logs (any volume) through the case store: sessions, summary."))
app.add_typer(logs_app, name="logs")
LogPathsArg = Annotated[Optional[list[Path]], typer.Argument(
    help="SmtpReceive/SmtpSend protocol log files or folders; none: ask the --store as it is.")]
SinceOpt = Annotated[Optional[str], typer.Option(
    help="Sessions from this time on (UTC unless a zone is given), e.g. 2026-11-27T08:00.")]
UntilOpt = Annotated[Optional[str], typer.Option(help="Sessions up to this time.")]


def _window(since: str | None, until: str | None) -> tuple[datetime | None, datetime | None]:
    out = []
    for name, text in (("--since", since), ("--until", until)):
        value = parse_time(text) if text else None
        if text and value is None:
            raise fail(f"{name} {text!r}: not a date and time (use e.g. 2026-11-27T08:00Z)")
        out.append(value)
    return out[0], out[1]


def _logs_query(command: str, store: Path | None, ask, fmt: Format,
                output: Path | None) -> None:
    """Run `ask(run module, store, progress)` and print its result; the store is opened first,
    on a thread (if launch.py has not already started it), so that the imports here overlap
    DuckDB's connect (see store.db.Opening)."""
    from .store.db import opening as store_opening

    with store_opening(store) as opening:
        from .report.logs import RENDERERS as LOG_RENDERERS
        from .store import run

        try:
            with RichProgress() as progress:
                result = ask(run, opening, progress)
        except run.QueryError as exc:
            raise fail(str(exc)) from None
    warn(result.info.problems)
    emit(LOG_RENDERERS[command][fmt.value](result), output)


@logs_app.command("sessions")
def logs_sessions(
    paths: LogPathsArg = None,
    ip: Annotated[Optional[str], typer.Option(help="Sessions from this address.")] = None,
    cidr: Annotated[Optional[str], typer.Option(
        "--range", help="Sessions from this CIDR, or `eop` for the EOP ranges.")] = None,
    since: SinceOpt = None, until: UntilOpt = None, store: StoreOpt = None,
    instance: InstanceOpt = Instance.worldwide, fmt: FormatOpt = Format.text,
    output: OutputOpt = None,
) -> None:
    """Reconstructed SMTP sessions: EHLO, STARTTLS, TLS, certificate, replies, disconnect."""
    start, end = _window(since, until)
    eop = instance.value if (cidr or "").strip().lower() == "eop" else False
    _logs_query("sessions", store, lambda run, opened, progress: run.run_sessions_query(
        paths or [], opened, ip=ip, cidr=None if eop else cidr, eop=eop, since=start,
        until=end, progress=progress), fmt, output)


@logs_app.command("summary")
def logs_summary(
    paths: LogPathsArg = None,
    by: Annotated[str, typer.Option(help="Group by source-prefix, server or hour.")] = (
        "source-prefix"),
    since: SinceOpt = None, until: UntilOpt = None, store: StoreOpt = None,
    instance: InstanceOpt = Instance.worldwide, fmt: FormatOpt = Format.text,
    output: OutputOpt = None,
) -> None:
    """EOP's traffic: which ranges and /24s connected when, TLS outcomes, certificates shown."""
    start, end = _window(since, until)
    _logs_query("summary", store, lambda run, opened, progress: run.run_summary_query(
        paths or [], opened, by=by, instance=instance.value, since=start, until=end,
        progress=progress), fmt, output)


def demo_case() -> Path:
    """The bundled, synthetic reference case (the files can be inspected there)."""
    return Path(__file__).parent / "demo" / "case"


@app.command()
def demo(fmt: FormatOpt = Format.text, output: OutputOpt = None) -> None:
    """Diagnose the bundled synthetic tailspintoys case (firewall missing some EOP ranges)."""
    case = demo_case()
    if fmt is Format.text and output is None:
        typer.echo(f"Demo case (synthetic): {case}\n", err=True)
    _diagnose([case], {}, fmt, output, Instance.worldwide, None, None)
