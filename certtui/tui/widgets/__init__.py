"""Reusable widgets: the certificate table, details, checklist and QR code."""
