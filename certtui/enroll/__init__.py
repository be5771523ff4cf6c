"""Phone enrollment: serve the root behind a QR code and prove the phone trusts it (no Textual)."""
