"""Checks over the evidence and the engine that ranks their findings — never parse, never print."""
