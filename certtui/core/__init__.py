"""The pure PKI domain: cryptography, idna and the stdlib only; never Textual, rich, click or aiohttp."""
