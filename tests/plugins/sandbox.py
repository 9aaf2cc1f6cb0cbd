"""Sandbox flyctl fixtures (owned by the sandbox work)."""
