"""The checks, one per step of the chain; each takes the shared facts and returns findings.

Adding a check means writing a module with `check(facts) -> list[Finding]` and listing it here.
"""

from . import connectivity, firewall, sessions, sources, trace_reasons

CHECKS = (firewall.check, connectivity.check, trace_reasons.check, sessions.check, sources.check)
