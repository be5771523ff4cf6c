"""Library and OS text turned into sentences a home-lab user can act on, and fixes for the TUI."""

from __future__ import annotations

import re

# (pattern in the library's text, the sentence shown instead). First match wins.
_LIBRARY = (
    (
        re.compile(r"candidates exhausted[^;]*signature does not match", re.I),
        "the certificate was not signed by the CA it names: its signature does not match that "
        "CA's key (a certificate from another CA with the same name?)",
    ),
    (
        re.compile(r"candidates exhausted[^;]*", re.I),
        "no chain leads from this certificate to a root the store trusts",
    ),
    (
        re.compile(r"\[Errno 104\] Connection reset by peer", re.I),
        "the server closed the connection during the handshake (is that port TLS, or does it need STARTTLS?)",
    ),
    (
        re.compile(r"\[Errno 111\] Connection refused", re.I),
        "nothing is listening on that port: check the host and the port number",
    ),
    (
        re.compile(r"\[Errno -[23]\] (Name or service not known|Temporary failure in name resolution)", re.I),
        "that host name does not resolve: check its spelling, or use its IP address",
    ),
    (
        re.compile(r"timed out", re.I),
        "the server did not answer in time: is it running, and is the port open?",
    ),
    (
        re.compile(r"\[Errno 13\] Permission denied", re.I),
        "permission denied: pick a folder you may write to",
    ),
    (re.compile(r"\[Errno 30\] Read-only file system", re.I), "that folder is read-only: pick another one"),
    (
        re.compile(r"\[Errno 28\] No space left on device", re.I),
        "the disk is full: free some space and try again",
    ),
    (re.compile(r"\[Errno 2\] No such file or directory", re.I), "that file or folder does not exist"),
)


def humane(text: str) -> str:
    """`text` with library phrases replaced by plain sentences; other text unchanged."""
    for pattern, sentence in _LIBRARY:
        if pattern.search(text):
            return pattern.sub(sentence, text, count=1)
    return text


# Fixes written for the issue form: the user is looking at the fields, not at a shell.
FORM_FIXES = {
    "leaf.lifetime-825": "set Days to 397 (ctrl+f does it)",
    "leaf.lifetime-398": "nothing to do for a private root; set Days to 397 to be safe",
    "leaf.key-strength": "set Key type to EC P-256",
}
# Fixes written for a stored certificate: one action, one key.
CERT_FIXES = {
    "leaf.lifetime-825": "press R to renew it for 397 days",
    "leaf.validity": "press R to renew it",
    "chain.aki-link": "press R to issue it again from its real issuer",
    "leaf.key-strength": "issue it again with an EC P-256 key: press n",
}


def tui_fix(rule: str, fix: str, where: str) -> str:
    """The fix for rule `rule` as the TUI says it in `where` ("form" or "cert")."""
    table = FORM_FIXES if where == "form" else CERT_FIXES if where == "cert" else {}
    if rule in table:
        return table[rule]
    # Whatever else names a command keeps its meaning; only the wording of library text changes.
    return humane(fix)
