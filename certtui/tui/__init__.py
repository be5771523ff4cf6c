"""Everything Textual, and only here."""
