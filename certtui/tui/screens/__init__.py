"""One module per screen; screens collect input and dismiss with typed requests."""
