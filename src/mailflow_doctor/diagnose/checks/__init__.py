"""The checks, one per step of the chain; each takes the shared facts and returns findings.

Adding a check means writing a module with `check(facts) -> list[Finding]` and listing it here.
"""

from . import connectivity, firewall, sources

CHECKS = (firewall.check, connectivity.check, sources.check)
