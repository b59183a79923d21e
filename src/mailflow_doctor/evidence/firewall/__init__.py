"""Firewall evidence: readers that turn a firewall configuration into an exact evaluator.

Each reader module (`asa`, `iptables`) has `KIND`, `sniff(head)` and `parse(path)`; `parse`
returns one ruleset object satisfying `model.FirewallRuleset`, whose `evaluate()` says which of
the asked source prefixes may open TCP to the destination and which rule decided each part.
The first-match walk they share lives in `_walk`.
"""
