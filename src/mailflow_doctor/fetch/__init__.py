"""Fetching evidence from Microsoft cloud services (Graph message trace)."""
