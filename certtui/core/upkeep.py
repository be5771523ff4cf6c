"""Keeping certificates valid: deploy targets, notification channels and scans, over the store's tables."""

from __future__ import annotations

from typing import Any

from certtui.core.store import Store
from certtui.core.store.upkeep import Channel, DeployTarget, Scan
from certtui.errors import NotFound

# -- deploy targets ---------------------------------------------------------------------------


def add_target(store: Store, **settings: Any) -> DeployTarget:
    """Store a new target (keys of `settings`: DeployTarget's fields up to created_at)."""
    with store.write():
        target_id = store.upkeep.add_target(settings)
        store.event("deploy-add", settings["cert_id"], f"target {target_id}")
    return get_target(store, target_id)


def targets(store: Store) -> list[DeployTarget]:
    return store.upkeep.targets()


def get_target(store: Store, target_id: int) -> DeployTarget:
    found = store.upkeep.target(target_id)
    if found is None:
        raise NotFound(f"no deploy target {target_id}; run `certtui deploy list` to see them")
    return found


def remove_target(store: Store, target_id: int) -> DeployTarget:
    target = get_target(store, target_id)
    with store.write():
        store.upkeep.remove_target(target_id)
        store.event("deploy-remove", target.cert_id, f"target {target_id}")
    return target


def record_result(
    store: Store,
    target: DeployTarget,
    *,
    cert_id: str,
    serial: str,
    ok: bool,
    stage: str,
    message: str,
    output: str = "",
) -> None:
    """The outcome of one deploy: on the target (for `deploy list`) and in the audit log, which
    also keeps the reload command's output."""
    with store.write():
        store.upkeep.record_deploy(
            target.id, cert_id=cert_id, serial=serial, ok=ok, stage=stage, message=message
        )
        detail = f"target {target.id}: {message}" + (f" | output: {output.strip()}" if output.strip() else "")
        store.event("deploy" if ok else "deploy-failed", cert_id, detail)


def lineage_head(store: Store, cert_id: str) -> str:
    """The newest certificate of `cert_id`'s line: follow renewed_by to its end."""
    seen = {cert_id}
    current = cert_id
    while True:
        after = store.renewed_by(current)
        if after is None or after in seen:
            return current
        current = after
        seen.add(current)


def targets_of_head(store: Store, head_id: str) -> list[DeployTarget]:
    """The targets whose certificate line ends at `head_id` (what deploying `head_id` writes to)."""
    return [t for t in targets(store) if lineage_head(store, t.cert_id) == head_id]


# -- notifications ----------------------------------------------------------------------------


def add_channel(store: Store, **settings: Any) -> Channel:
    with store.write():
        channel_id = store.upkeep.add_channel(settings)
        store.event("notify-add", None, f"channel {channel_id}: {settings['kind']}")
    return get_channel(store, channel_id)


def channels(store: Store) -> list[Channel]:
    return store.upkeep.channels()


def get_channel(store: Store, channel_id: int) -> Channel:
    found = store.upkeep.channel(channel_id)
    if found is None:
        raise NotFound(f"no notification channel {channel_id}; run `certtui notify list` to see them")
    return found


def remove_channel(store: Store, channel_id: int) -> Channel:
    channel = get_channel(store, channel_id)
    with store.write():
        store.upkeep.remove_channel(channel_id)
        store.event("notify-remove", None, f"channel {channel_id}")
    return channel


def sent_states(store: Store, channel_id: int) -> dict[str, str]:
    """What this channel was last told about each event that is still going on."""
    return store.upkeep.sent(channel_id)


def remember_sent(store: Store, channel_id: int, event: str, state: str, detail: str) -> None:
    with store.write():
        store.upkeep.remember_sent(channel_id, event, state)
        store.event("notify", None, f"channel {channel_id}: {detail}")


def forget_sent(store: Store, channel_id: int, events: list[str]) -> None:
    """Events that are over: the next time one starts, it is sent again."""
    if not events:
        return
    with store.write():
        store.upkeep.forget_sent(channel_id, events)


# -- scans ------------------------------------------------------------------------------------


def record_scan(store: Store, scan: Scan) -> None:
    with store.write():
        store.upkeep.record_scan(scan)
        store.event("scan", scan.cert_id, f"{scan.endpoint}: {scan.verdict}")


def scans(store: Store) -> list[Scan]:
    return store.upkeep.scans()


def deployed_at(store: Store) -> dict[str, list[str]]:
    """Certificate id -> the endpoints that served it at their last scan (the "deployed" marker)."""
    out: dict[str, list[str]] = {}
    for endpoint, cert_id in store.upkeep.scanned_certificates():
        out.setdefault(cert_id, []).append(endpoint)
    return out
