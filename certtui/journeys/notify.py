"""Notifications: what needs the user (expiry nobody renews, failures, CRLs, CAs), sent once per change."""

from __future__ import annotations

import asyncio
import ssl
import urllib.parse
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from certtui.core import policy, upkeep
from certtui.core.models import Kind
from certtui.core.printable import printable
from certtui.core.store import Store
from certtui.core.timefmt import iso, utcnow
from certtui.core.upkeep import Channel
from certtui.errors import CerttuiError

KINDS = ("ntfy", "webhook", "email")
WEBHOOK_FORMATS = ("json", "slack", "discord")
# SMTP submission with STARTTLS listens on 587; a plain relay on the LAN on 25.
SMTP_STARTTLS_PORT = 587
SMTP_PLAIN_PORT = 25


@dataclass(frozen=True)
class Event:
    """One thing that needs the user: `key` names it, `state` changes when it is news again."""

    key: str
    state: str
    kind: str
    title: str
    message: str
    cert_id: str | None = None


@dataclass
class Sent:
    """What one evaluation sent (one line each) and what could not be delivered."""

    sent: list[str] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)


# -- adding channels --------------------------------------------------------------------------


@dataclass(frozen=True)
class ChannelRequest:
    """`notify add ntfy URL | webhook URL [--format] | email ADDRESS --smtp HOST[:PORT] ...`."""

    kind: str
    target: str
    format: str | None = None
    smtp: str | None = None
    starttls: bool = False
    user: str | None = None
    password_file: str | None = None
    sender: str | None = None
    expiry_days: int = policy.EXPIRY_WARN_DAYS


def _check_url(url: str) -> str:
    parts = urllib.parse.urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise CerttuiError(f"{url!r} is not an http(s) URL; give one like https://ntfy.home.arpa/certs")
    return url


def _check_address(address: str, what: str) -> str:
    local, at, domain = address.rpartition("@")
    if not at or not local or not domain or any(c.isspace() or c in "<>," for c in address):
        raise CerttuiError(f"{what} {address!r} is not an e-mail address; give one like admin@home.arpa")
    return address


def add_channel(store: Store, req: ChannelRequest) -> Channel:
    """Check a channel through and store it; no secret is stored, only the password file's path."""
    from certtui.core.tlsprobe import parse_target
    from certtui.journeys.secret_files import check_private

    if req.kind not in KINDS:
        raise CerttuiError(f"notify add takes ntfy, webhook or email, not {req.kind!r}")
    if not 0 < req.expiry_days <= policy.NOTIFY_MAX_EXPIRY_DAYS:
        raise CerttuiError(
            f"--expiry-days {req.expiry_days} is out of range; give 1 to {policy.NOTIFY_MAX_EXPIRY_DAYS}"
        )
    email_only = {
        "--smtp": req.smtp,
        "--user": req.user,
        "--password-file": req.password_file,
        "--from": req.sender,
    }
    settings: dict[str, Any] = {"kind": req.kind, "expiry_days": req.expiry_days}
    if req.kind != "email":
        given = [flag for flag, value in email_only.items() if value] + (
            ["--starttls"] if req.starttls else []
        )
        if given:
            raise CerttuiError(f"{', '.join(given)} go with email channels only; drop them for {req.kind}")
        if req.format and req.kind != "webhook":
            raise CerttuiError("--format goes with webhook channels only")
        if req.format and req.format not in WEBHOOK_FORMATS:
            raise CerttuiError(f"--format {req.format} is not known; use json, slack or discord")
        settings.update(
            target=_check_url(req.target), format=req.format or ("json" if req.kind == "webhook" else None)
        )
        return upkeep.add_channel(store, **settings)
    if req.format:
        raise CerttuiError("--format goes with webhook channels only")
    if not req.smtp:
        raise CerttuiError("an email channel needs --smtp HOST[:PORT], the mail server that relays it")
    host, port = parse_target(req.smtp)
    if bool(req.user) != bool(req.password_file):
        raise CerttuiError(
            "--user and --password-file go together; give both, or neither for a relay without login"
        )
    password_file = str(check_private(req.password_file, "--password-file")) if req.password_file else None
    settings.update(
        target=_check_address(req.target, "the address"),
        smtp_host=host,
        smtp_port=port or (SMTP_STARTTLS_PORT if req.starttls else SMTP_PLAIN_PORT),
        starttls=int(req.starttls),
        smtp_user=req.user,
        password_file=password_file,
        sender=_check_address(req.sender, "--from") if req.sender else None,
    )
    return upkeep.add_channel(store, **settings)


# -- what is going on -------------------------------------------------------------------------


def _name(store: Store, cert_id: str) -> str:
    rec = store.get(cert_id)
    return printable(", ".join(rec.names) or rec.subject or rec.id)


def events(
    store: Store, now: datetime, expiry_days: int, renew_failures: Mapping[str, str] | None = None
) -> list[Event]:
    """Every problem right now, one event each; nothing in them but names, ids, dates and fixes."""
    from certtui.journeys.renew_due import renewable_by_store

    out: list[Event] = []
    targets = upkeep.targets(store)
    covered = {upkeep.lineage_head(store, t.cert_id) for t in targets}
    soon = iso(now + timedelta(days=expiry_days))
    ca_soon = iso(now + timedelta(days=policy.CA_WARN_DAYS))
    for rec in store.records(now=now):
        if rec.revoked_at or rec.renewed_by is not None:
            continue
        name = printable(", ".join(rec.names) or rec.subject or rec.id)
        expired = rec.not_after <= iso(now)
        when = f"expired on {rec.not_after}" if expired else f"expires on {rec.not_after}"
        if rec.kind in (Kind.SERVER, Kind.CLIENT):
            if rec.not_after >= soon or (rec.id in covered and renewable_by_store(rec)):
                continue
            fix = (
                f"renew it with `certtui renew {rec.id}` and add a deploy target "
                f"(`certtui deploy add {rec.id} ...`) so the timer renews it"
                if renewable_by_store(rec)
                else "replace it: it was not issued here with its key, so certtui cannot renew it"
            )
            out.append(
                Event(
                    f"expiry:{rec.id}",
                    "expired" if expired else "expiring",
                    "expiry",
                    f"{name} {'has expired' if expired else 'expires soon'}",
                    f"The certificate {name} ({rec.id}) {when} and nothing will renew it. Fix: {fix}.",
                    rec.id,
                )
            )
        elif rec.kind.is_ca and not rec.external and rec.not_after < ca_soon:
            what = "root" if rec.kind is Kind.ROOT else "intermediate"
            out.append(
                Event(
                    f"ca:{rec.id}",
                    "expired" if expired else "expiring",
                    "ca-expiry",
                    f"the {what} CA {name} {'has expired' if expired else 'expires soon'}",
                    f"The {what} CA {name} ({rec.id}) {when}. Fix: make a new "
                    f"{what} and re-issue what it signed"
                    + (", then enroll the phones again." if rec.kind is Kind.ROOT else "."),
                    rec.id,
                )
            )
    out += _crl_events(store, now)
    failing: dict[str, str] = dict(renew_failures or {})
    for t in targets:
        if t.last_ok is not False:
            continue
        message = t.last_message or ""
        if t.last_stage == "renew" and t.last_cert_id:
            failing.setdefault(t.last_cert_id, f"renewal of {t.last_cert_id} failed: {message}")
            continue
        name = _name(store, t.last_cert_id) if t.last_cert_id else f"target {t.id}"
        kind = "verify-failed" if t.last_stage == "verify" else "deploy-failed"
        out.append(
            Event(
                f"deploy:{t.id}",
                f"failing:{t.last_stage}",
                kind,
                f"{'verify' if kind == 'verify-failed' else 'deploy'} of {name} failed",
                f"Deploy target {t.id} of {name} failed at {t.last_stage}: {message}. "
                f"Fix it, then run `certtui deploy run {t.id}`.",
                t.last_cert_id,
            )
        )
    for cert_id, line in failing.items():
        name = _name(store, cert_id)
        out.append(
            Event(
                f"renew:{cert_id}",
                "failing",
                "renew-failed",
                f"renewal of {name} failed",
                f"{printable(line)}. Fix: run `certtui renew {cert_id}` to see the error.",
                cert_id,
            )
        )
    return out


def _crl_events(store: Store, now: datetime) -> list[Event]:
    from certtui.core.revocation import latest_crl

    out = []
    soon = iso(now + timedelta(days=policy.NOTIFY_CRL_WARN_DAYS))
    for rec in store.records(now=now):
        if not rec.kind.is_ca or rec.external or rec.revoked_at or rec.not_after <= iso(now):
            continue
        crl = latest_crl(store, rec.id)
        if crl is None or crl.next_update >= soon:
            continue
        name = printable(rec.subject or rec.id)
        passed = crl.next_update <= iso(now)
        out.append(
            Event(
                f"crl:{rec.id}",
                f"{'passed' if passed else 'due'}:{crl.number}",
                "crl",
                f"the CRL of {name} {'is out of date' if passed else 'is due'}",
                f"The CRL of CA {name} ({rec.id}) "
                + (
                    f"passed its next update on {crl.next_update}"
                    if passed
                    else f"is due by {crl.next_update}"
                )
                + f". Fix: sign a fresh one with `certtui crl --issuer {rec.id}` and publish it.",
                rec.id,
            )
        )
    return out


# -- sending ----------------------------------------------------------------------------------


def _tls_context(store: Store) -> ssl.SSLContext:
    """The system's trust plus this store's root: a LAN ntfy or mail relay may carry our certificate."""
    from cryptography.hazmat.primitives import serialization

    ctx = ssl.create_default_context()
    root_id = store.root_id()
    if root_id:
        pem = store.certificate(root_id).public_bytes(serialization.Encoding.PEM).decode()
        ctx.load_verify_locations(cadata=pem)
    return ctx


def _cut(text: str) -> str:
    return text if len(text) <= policy.MESSAGE_MAX_CHARS else text[: policy.MESSAGE_MAX_CHARS - 1] + "…"


def _ascii_header(text: str) -> str:
    """HTTP header values are Latin-1; ntfy reads RFC 2047 encoded words for anything else."""
    if text.isascii():
        return text
    import base64

    return "=?UTF-8?B?" + base64.b64encode(text.encode()).decode() + "?="


def http_request(channel: Channel, event: Event) -> tuple[bytes, dict[str, str]]:
    """The body and headers one ntfy or webhook message is posted with."""
    import json

    title, message = f"certtui: {event.title}", _cut(event.message)
    if channel.kind == "ntfy":
        tags = "white_check_mark" if event.kind == "test" else "warning"
        priority = "default" if event.kind == "test" else "high"
        return message.encode(), {"Title": _ascii_header(title), "Tags": tags, "Priority": priority}
    if channel.format == "slack":
        body: dict[str, Any] = {"text": f"*{title}*\n{message}"}
    elif channel.format == "discord":
        body = {"content": _cut(f"**{title}**\n{message}")}
    else:
        body = {"event": event.kind, "title": title, "message": message, "certificate": event.cert_id}
    return json.dumps(body).encode(), {"Content-Type": "application/json"}


async def _post_all(store: Store, jobs: Sequence[tuple[Channel, Event]]) -> list[str | None]:
    import aiohttp

    timeout = aiohttp.ClientTimeout(total=policy.NOTIFY_TIMEOUT_S)
    ctx = _tls_context(store)
    results: list[str | None] = []
    async with aiohttp.ClientSession(timeout=timeout) as session:
        for channel, event in jobs:
            data, headers = http_request(channel, event)
            try:
                async with session.post(channel.target, data=data, headers=headers, ssl=ctx) as resp:
                    if resp.status >= 300:
                        results.append(f"{channel.target} answered {resp.status} {resp.reason}")
                    else:
                        results.append(None)
            except (aiohttp.ClientError, TimeoutError, OSError) as exc:
                results.append(f"cannot reach {channel.target} ({type(exc).__name__}: {exc})")
    return results


def _mail(store: Store, channel: Channel, event: Event) -> str | None:
    import smtplib
    import socket
    from email.message import EmailMessage

    from certtui.journeys.secret_files import read_secret

    msg = EmailMessage()
    msg["Subject"] = f"certtui: {event.title}"
    msg["From"] = channel.sender or channel.target
    msg["To"] = channel.target
    msg.set_content(f"{event.message}\n\n-- certtui on {socket.gethostname()}\n")
    where = f"{channel.smtp_host}:{channel.smtp_port}"
    try:
        password = (
            read_secret(channel.password_file, "the channel's --password-file")
            if channel.password_file
            else None
        )
        with smtplib.SMTP(
            channel.smtp_host or "", channel.smtp_port or 0, timeout=policy.NOTIFY_TIMEOUT_S
        ) as smtp:
            if channel.starttls:
                smtp.starttls(context=_tls_context(store))
            if channel.smtp_user and password is not None:
                smtp.login(channel.smtp_user, password)
            smtp.send_message(msg)
    except CerttuiError as exc:
        return str(exc)
    except smtplib.SMTPAuthenticationError:
        return f"{where} refused the login of {channel.smtp_user}; check --user and the password file"
    except (smtplib.SMTPException, OSError, ssl.SSLError) as exc:
        return f"cannot send mail through {where} ({type(exc).__name__}: {exc})"
    return None


def deliver(store: Store, jobs: Sequence[tuple[Channel, Event]]) -> list[str | None]:
    """Send each (channel, event); None for delivered, else one line saying why not."""
    http = [(i, job) for i, job in enumerate(jobs) if job[0].kind != "email"]
    results: list[str | None] = [None] * len(jobs)
    if http:
        for (i, _), result in zip(http, asyncio.run(_post_all(store, [job for _, job in http])), strict=True):
            results[i] = result
    for i, (channel, event) in enumerate(jobs):
        if channel.kind == "email":
            results[i] = _mail(store, channel, event)
    return results


def evaluate(
    store: Store, now: datetime | None = None, renew_failures: Mapping[str, str] | None = None
) -> Sent:
    """Send each channel what changed since it was last told; remember what was delivered."""
    now = now or utcnow()
    out = Sent()
    jobs: list[tuple[Channel, Event]] = []
    over: dict[int, list[str]] = {}
    for channel in upkeep.channels(store):
        told = upkeep.sent_states(store, channel.id)
        current = {e.key: e for e in events(store, now, channel.expiry_days, renew_failures)}
        jobs += [(channel, e) for key, e in current.items() if told.get(key) != e.state]
        over[channel.id] = [key for key in told if key not in current]
    for channel_id, keys in over.items():
        upkeep.forget_sent(store, channel_id, keys)
    for (channel, event), problem in zip(jobs, deliver(store, jobs), strict=True):
        if problem is None:
            upkeep.remember_sent(
                store, channel.id, event.key, event.state, f"{event.kind} {event.cert_id or ''}"
            )
            out.sent.append(f"notified {channel.label()}: {event.title}")
        else:
            out.failures.append(f"notification to {channel.label()} failed: {problem}")
    return out


def sample_event() -> Event:
    return Event(
        "test",
        iso(utcnow()),
        "test",
        "test message",
        "This is a test from certtui: notifications reach you here. Nothing needs doing.",
    )


def send_test(store: Store, channel_ids: Sequence[int] | None = None) -> list[tuple[Channel, str | None]]:
    every = upkeep.channels(store)
    chosen = [c for c in every if channel_ids is None or c.id in channel_ids]
    if channel_ids is not None:
        for cid in channel_ids:
            upkeep.get_channel(store, cid)
    event = sample_event()
    return list(zip(chosen, deliver(store, [(c, event) for c in chosen]), strict=True))
