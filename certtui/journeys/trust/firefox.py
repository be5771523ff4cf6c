"""Firefox's enterprise policy: a policies.json Certificates.Install entry and the PEM beside it."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

from certtui.core import trustplaces as tp
from certtui.errors import CerttuiError
from certtui.journeys.trust.model import Target, TrustCA, TrustRequest
from certtui.journeys.trust.tools import Doer, our_files, read_or_empty, root_of


def policy_dirs(root: Path) -> list[tuple[str, Path]]:
    """(application, /etc/<app>/policies) for each Firefox installed; firefox when none is."""
    apps = [a for a in tp.FIREFOX_POLICY_APPS if tp.tool_in_tree(root, a) or (root / "etc" / a).is_dir()]
    return [(a, root / "etc" / a / "policies") for a in apps or ["firefox"]]


def machine_path(root: Path, path: Path) -> str:
    """The path as Firefox reads it on the machine, not under --root-dir."""
    return "/" + str(path.relative_to(root)).lstrip("/")


def load_policy(path: Path) -> dict[str, Any]:
    if not path.exists():
        return {}
    try:
        value = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise CerttuiError(f"{path} is not valid JSON ({exc}); fix it or move it aside first") from None
    if not isinstance(value, dict):
        raise CerttuiError(f"{path} is not a JSON object; fix it or move it aside first")
    return value


def _dump_policy(policy: dict[str, Any]) -> bytes:
    return (json.dumps(policy, indent=2, ensure_ascii=False) + "\n").encode()


def step(req: TrustRequest, ca: TrustCA, doer: Doer) -> None:
    root = root_of(req)
    for app, folder in policy_dirs(root):
        policy_file = folder / "policies.json"
        policy = load_policy(policy_file)

        if req.install:
            cert_file = folder / f"{tp.NAME_PREFIX}-{tp.fp_prefix(ca.sha256)}.pem"
            # ImportEnterpriseRoots reads the Windows and macOS stores only; on Linux, Install does it.
            new = tp.policy_with(
                policy, machine_path(root, cert_file), enterprise_roots=sys.platform in ("win32", "darwin")
            )
            have_cert = ca.sha256 in tp.pem_fingerprints(read_or_empty(cert_file))
            if new == policy and have_cert:
                doer.say(Target.FIREFOX_POLICY, "already trusted:", f"{policy_file} ({app})")
                continue
            if not have_cert:
                doer.write(Target.FIREFOX_POLICY, cert_file, ca.pem)
            if new != policy:
                doer.write(Target.FIREFOX_POLICY, policy_file, _dump_policy(new))
        else:
            ours = [p for p, fp in our_files(folder) if fp == ca.sha256]
            installs = set(tp.policy_installs(policy))
            paths = {machine_path(root, p) for p in ours} & installs
            if not ours:
                doer.say(Target.FIREFOX_POLICY, "not installed:", f"{policy_file} ({app})")
                continue
            if paths:
                new = tp.policy_without(policy, paths)
                if new == {"policies": {}}:
                    doer.remove(Target.FIREFOX_POLICY, policy_file)
                else:
                    doer.write(Target.FIREFOX_POLICY, policy_file, _dump_policy(new))
            for path in ours:
                doer.remove(Target.FIREFOX_POLICY, path)
