"""The ACME server (RFC 8555) on the home root: routes, JWS checks, validation, policy."""
