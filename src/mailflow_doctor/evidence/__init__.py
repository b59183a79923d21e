"""Evidence readers: sniff a file's kind from its content, parse it, normalise it — never judge.

Every reader module exposes `KIND` (a short name), `sniff(head: str) -> bool` (head = the first
few KB as text, from `textio.read_head`) and `parse(path) -> Parsed[...]` which reads the file
through `textio.read_text`, keeps every good record and reports every bad one with its line.
"""
