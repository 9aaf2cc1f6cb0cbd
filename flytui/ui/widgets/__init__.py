"""Reusable widgets: resource tables with keyed rows and filters, status area, field helpers."""
