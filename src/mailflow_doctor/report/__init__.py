"""Renderers: results in, text out — they never compute.

One module per command's output (`text` and `json_report` for the diagnosis, `logs`, `trace`,
`firewall`, `decode`); each is imported by the command that uses it, so that a command does not
pay for the others' imports.
"""
