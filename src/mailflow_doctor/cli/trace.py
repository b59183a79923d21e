"""`mailflow-doctor trace ...`: message trace exports on their own, and fetching them."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Annotated, Optional

import typer
from typer.core import TyperGroup

from ..evidence.timefmt import parse_time
from ..progress import RichProgress
from . import Format, FormatOpt, OutputOpt, emit, fail, warn


class _TraceGroup(TyperGroup):
    """`trace PATH...` lists the events; `trace summary ...` and `trace fetch ...` are named."""

    def parse_args(self, ctx, args):  # type: ignore[no-untyped-def]
        if args and args[0] not in self.commands and args[0] not in ("--help", "-h"):
            args = ["show", *args]
        return super().parse_args(ctx, args)


trace_app = typer.Typer(cls=_TraceGroup, no_args_is_help=True,
                        help="Read message trace exports on their own (events, summary, fetch).")
PathsArg = Annotated[list[Path], typer.Argument(
    help="Message trace exports or folders; each file's kind is detected from its content.")]


def _trace_events(paths: list[Path]) -> list:
    from ..evidence.collect import collect

    evidence = collect(paths)
    warn(evidence.problems)
    if not evidence.trace:
        raise fail("no message trace events found in " + ", ".join(map(str, paths)))
    return evidence.trace


@trace_app.command("show")
def trace_show(paths: PathsArg, fmt: FormatOpt = Format.text, output: OutputOpt = None) -> None:
    """Print the normalised events (the default of `trace PATH...`)."""
    from ..report import trace as trace_report

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

    from ..fetch.auth import AuthError, Credentials, token_provider
    from ..fetch.graph_trace import GRAPH, FetchError, GraphClient, fetch_traces, write_fetch

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
    from ..diagnose.trace_summary import summarise
    from ..report import trace as trace_report

    targets = summarise(_trace_events(paths))
    render = trace_report.summary_json if fmt is Format.json else trace_report.summary_text
    emit(render(targets), output)

