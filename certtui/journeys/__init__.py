"""Journeys: each one implemented once, called by the CLI, the TUI and the servers."""
