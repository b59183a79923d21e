"""`mailflow-doctor firewall ...`: a firewall's configuration and deny log, asked about EOP."""

from __future__ import annotations

import ipaddress
from pathlib import Path
from typing import Annotated, Optional

import typer

from . import (
    EXIT_FINDINGS,
    EXIT_OK,
    Format,
    FormatOpt,
    Instance,
    InstanceOpt,
    OutputOpt,
    emit,
    fail,
    warn,
)

firewall_app = typer.Typer(no_args_is_help=True,
                           help="Ask a firewall configuration about EOP → your SMTP endpoint.")
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
    from ..diagnose.audit import audit as run_audit
    from ..diagnose.facts import parse_destination
    from ..evidence.collect import collect
    from ..ipspace import PrefixSet
    from ..knowledge.endpoints import snapshot

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
    from ..report import firewall as firewall_report

    result, _, _ = _firewall_question(configs, destination, sources, instance, ingress)
    render = firewall_report.audit_json if fmt is Format.json else firewall_report.audit_text
    emit(render(result), output)
    raise typer.Exit(EXIT_FINDINGS if result.missing else EXIT_OK)


@firewall_app.command("fix")
def firewall_fix(configs: ConfigsArg, destination: DestinationOpt, sources: SourcesOpt = None,
                 instance: InstanceOpt = Instance.worldwide, ingress: IngressOpt = None,
                 fmt: FormatOpt = Format.text, output: OutputOpt = None) -> None:
    """The smallest additive change, in the firewall's own syntax, re-checked before printing."""
    from ..diagnose.audit import fixes as propose_fixes
    from ..report import firewall as firewall_report

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
    from ..diagnose.drops import eop_drops, eop_filter
    from ..evidence.collect import collect
    from ..evidence.firewall import deny_log
    from ..knowledge.endpoints import snapshot
    from ..report import firewall as firewall_report

    eop = snapshot(instance.value).eop_prefixes
    evidence = collect([], {"firewall-log": logs},
                       {deny_log.KIND: {"want": eop_filter(eop, port)}})
    warn(evidence.problems)
    result = eop_drops(evidence.denies, eop, port)
    render = firewall_report.drops_json if fmt is Format.json else firewall_report.drops_text
    emit(render(result), output)
    raise typer.Exit(EXIT_FINDINGS if result.by_24 else EXIT_OK)
