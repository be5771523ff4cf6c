"""One way to read an extension of a certificate or a CSR: its value, or whether it is critical."""

from __future__ import annotations

from typing import TypeVar

from cryptography import x509

E = TypeVar("E", bound=x509.ExtensionType)

Signed = x509.Certificate | x509.CertificateSigningRequest
"""What carries extensions: a certificate or a certificate request."""


def extension(obj: Signed, cls: type[E], *, strict: bool = False) -> E | None:
    """The value of `obj`'s extension of type `cls`, or None when it has none.

    An extension list that does not decode (an extension twice, or one that does not parse)
    reads as None too, so the checklist can judge a certificate from elsewhere rule by rule
    (`cert.ext-wellformed` says what is wrong). With `strict` that error is raised instead
    (`x509.DuplicateExtension`, `ValueError`): for a certificate that must be whole to be used.
    """
    try:
        return obj.extensions.get_extension_for_class(cls).value
    except x509.ExtensionNotFound:
        return None
    except (x509.DuplicateExtension, ValueError):
        if strict:
            raise
        return None


def critical(obj: Signed, cls: type[x509.ExtensionType]) -> bool:
    """Whether `obj` has the extension `cls` marked critical (False when absent or unreadable)."""
    try:
        return obj.extensions.get_extension_for_class(cls).critical
    except (x509.ExtensionNotFound, x509.DuplicateExtension, ValueError):
        return False
