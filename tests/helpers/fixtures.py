"""Fixtures that build on the session servers (worker, case factory)."""
