"""The CerttuiError family: every user-facing failure, with one sentence a user can act on."""


class CerttuiError(Exception):
    """A failure the user can fix; the message says what went wrong and what to do."""

    exit_code = 2


class BadName(CerttuiError):
    """A host name, IP, email, URI or name constraint that cannot go into a certificate."""


class NotFound(CerttuiError):
    """An ID argument that matches no certificate, or more than one."""


class WrongPassphrase(CerttuiError):
    """The passphrase does not open the store."""


class NoStore(CerttuiError):
    """There is no store (no root) yet."""


class StoreError(CerttuiError):
    """The store is corrupt, newer than this certtui, or busy for too long."""


class PolicyError(CerttuiError):
    """A request that the PKI's rules refuse (name constraints, kinds, lifetimes)."""


class NamesRefused(PolicyError):
    """Names the request asks for that the PKI's rules refuse (outside the CA's constraints)."""


class AlreadyRenewed(CerttuiError):
    """Another process renewed this certificate first; `new_id` is what it renewed it as."""

    def __init__(self, message: str, new_id: str) -> None:
        super().__init__(message)
        self.new_id = new_id


class PassphraseChanged(StoreError):
    """Another certtui process changed the store's passphrase since this one unlocked it."""
