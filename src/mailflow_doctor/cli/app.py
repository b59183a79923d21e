"""The whole `mailflow-doctor` app: `diagnose`, `decode`, `demo` and every command group."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Optional

import typer

from ..progress import RichProgress
from . import (
    EXIT_FINDINGS,
    EXIT_OK,
    Format,
    FormatOpt,
    Instance,
    InstanceOpt,
    OutputOpt,
    StoreOpt,
    emit,
    fail,
    root,
    warn,
)
from .firewall import firewall_app
from .logs import logs_app
from .trace import trace_app

if TYPE_CHECKING:
    from ..model.report import Report

app = root()
app.add_typer(trace_app, name="trace")
app.add_typer(firewall_app, name="firewall")
app.add_typer(logs_app, name="logs")


def _diagnose(paths: list[Path], forced: dict[str, list[Path]], fmt: Format,
              output: Path | None, instance: Instance, destination: str | None,
              ingress: str | None, store: Path | None = None) -> Report:
    from ..diagnose.checks.sources import EOP_HELO_SUFFIX
    from ..diagnose.engine import diagnose as run_diagnosis
    from ..diagnose.facts import parse_destination
    from ..evidence.collect import SessionQuestion, collect
    from ..knowledge.endpoints import snapshot
    from ..report import json_report
    from ..report import text as text_report

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
    from ..evidence.trace.reason import decode_reason
    from ..knowledge.codes import explain
    from ..report import decode as decode_report

    decoded = decode_reason(reason)
    if decoded is None:
        raise fail("no SMTP reply or LED=... found in the reason text")
    render = decode_report.render_json if fmt is Format.json else decode_report.render_text
    typer.echo(render(decoded, explain(decoded)), nl=False)


def demo_case() -> Path:
    """The bundled, synthetic reference case (the files can be inspected there)."""
    return Path(__file__).parent.parent / "demo" / "case"


@app.command()
def demo(fmt: FormatOpt = Format.text, output: OutputOpt = None) -> None:
    """Diagnose the bundled synthetic tailspintoys case (firewall missing some EOP ranges)."""
    case = demo_case()
    if fmt is Format.text and output is None:
        typer.echo(f"Demo case (synthetic): {case}\n", err=True)
    _diagnose([case], {}, fmt, output, Instance.worldwide, None, None)
