"""Screens and panes of the flytui console."""
