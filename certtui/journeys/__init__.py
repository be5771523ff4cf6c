"""Each journey once, called by every front end (CLI, TUI, servers); never click or textual here."""
