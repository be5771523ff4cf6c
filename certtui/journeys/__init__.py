"""One implementation per journey, called by every front end (never click or textual here)."""
