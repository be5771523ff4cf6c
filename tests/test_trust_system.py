"""`certtui trust` on this machine's real system store: curl, Python and openssl trust the leaf, then not."""

from __future__ import annotations

import os
import shutil
import socket
import ssl
import subprocess
import urllib.request
from collections.abc import Callable
from pathlib import Path

import pytest
from support.cli import Cli
from trust_support import HOST, TOOL_TIMEOUT_S, https_server, sha256_file

from certtui.core import trustplaces as tp
from certtui.core.store import Store
from certtui.journeys.trust import system_lock

BUNDLE = Path("/etc/ssl/certs/ca-certificates.crt")
ETC_CERTS = Path("/etc/ssl/certs")
# Debian's ca-certificates-java keystore, rebuilt from the system store by update-ca-certificates.
JAVA_CACERTS = ETC_CERTS / "java/cacerts"
ANCHORS = Path("/usr/local/share/ca-certificates")

pytestmark = [
    pytest.mark.skipif(
        os.geteuid() != 0, reason="writes the system trust store: needs root (CI runs as root)"
    ),
    pytest.mark.skipif(
        shutil.which("update-ca-certificates") is None or not BUNDLE.is_file(),
        reason="needs a Debian-family system store (update-ca-certificates and its bundle)",
    ),
]


def curl_ok(url: str) -> bool:
    done = subprocess.run(
        ["curl", "-sS", "-o", "/dev/null", "-w", "%{http_code}", url],
        capture_output=True,
        text=True,
        timeout=TOOL_TIMEOUT_S,
        check=False,
    )
    return done.returncode == 0 and done.stdout == "200"


def python_ok(port: int) -> bool:
    # A fresh default context reads the system store each time it is made.
    ctx = ssl.create_default_context()
    try:
        with socket.create_connection((HOST, port), timeout=TOOL_TIMEOUT_S) as sock:
            with ctx.wrap_socket(sock, server_hostname=HOST):
                return True
    except ssl.SSLCertVerificationError:
        return False


def openssl_ok(port: int) -> bool:
    done = subprocess.run(
        [
            "openssl",
            "s_client",
            "-connect",
            f"{HOST}:{port}",
            "-verify_return_error",
            "-CAfile",
            str(BUNDLE),
            "-verify_ip",
            HOST,
        ],
        input="",
        capture_output=True,
        text=True,
        timeout=TOOL_TIMEOUT_S,
        check=False,
    )
    return done.returncode == 0 and "Verify return code: 0 (ok)" in done.stdout


def java_fingerprints() -> set[str]:
    """The SHA-256 of every entry of Debian's Java keystore (empty when there is none)."""
    keytool = shutil.which("keytool")
    if keytool is None or not JAVA_CACERTS.is_file():
        return set()
    done = subprocess.run(
        [keytool, "-list", "-keystore", str(JAVA_CACERTS), "-storepass", "changeit"],
        capture_output=True,
        text=True,
        timeout=TOOL_TIMEOUT_S,
        check=True,
    )
    return {fp for _alias, fp in tp.parse_keytool_list(done.stdout)}


def links_to(target: Path) -> list[Path]:
    return [p for p in ETC_CERTS.iterdir() if p.is_symlink() and str(target) in os.readlink(p)]


def restore_machine(anchor: Path, fp: str) -> None:
    """Whatever a failed run left: the anchor, its links, the Java keystore entry (a safety net)."""
    if anchor.exists():
        anchor.unlink()
        subprocess.run(["update-ca-certificates", "--fresh"], capture_output=True, timeout=300, check=False)
    if fp in java_fingerprints():
        alias = f"debian:certtui-{fp[:16]}.pem"
        subprocess.run(
            ["keytool", "-delete", "-keystore", str(JAVA_CACERTS), "-storepass", "changeit", "-alias", alias],
            capture_output=True,
            timeout=TOOL_TIMEOUT_S,
            check=False,
        )


def urllib_ok(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=TOOL_TIMEOUT_S) as reply:
            return bool(reply.status == 200)
    except urllib.error.URLError:
        return False


def test_system_install_is_trusted_by_curl_python_openssl_and_uninstall_restores_the_bundle(
    make_store: Callable[..., Store], cli: Cli, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    store: Store = make_store(intermediate=True)
    monkeypatch.setenv("HOME", str(tmp_path / "user"))
    fp = store.get(store.root_id() or "").sha256
    anchor = ANCHORS / tp.anchor_name(fp)
    with https_server(store, tmp_path) as served:
        # Before: no client trusts the leaf.
        assert not curl_ok(served.url)
        assert not python_ok(served.port)
        assert not openssl_ok(served.port)
        before = sha256_file(BUNDLE)
        others = sorted(p.name for p in ANCHORS.iterdir())
        # The install window is one try/finally: other tests on this machine share the store.
        try:
            out = cli.ok("trust", "install", "--system").stdout
            assert f"system: wrote {anchor}\n" in out
            assert "system: ran update-ca-certificates (Debian/Ubuntu/Alpine)\n" in out
            assert anchor.read_bytes().startswith(b"-----BEGIN CERTIFICATE-----")
            assert oct(anchor.stat().st_mode & 0o777) == "0o644"
            assert curl_ok(served.url)
            assert python_ok(served.port)
            assert urllib_ok(served.url)
            assert openssl_ok(served.port)
            java = java_fingerprints()
            assert not JAVA_CACERTS.is_file() or fp in java
            again = cli.ok("trust", "install", "--system").stdout
            assert again.startswith(f"system: already trusted: {anchor} (Debian/Ubuntu/Alpine)\n"), again
            assert "ran" not in again
            status = cli.json("trust", "status", "--json")
            system = [p for p in status["places"] if p["target"] == "system"]
            assert system == [
                {
                    "target": "system",
                    "label": "Debian/Ubuntu/Alpine",
                    "path": str(anchor),
                    "state": "trusted",
                    "detail": "",
                }
            ]
            out = cli.ok("trust", "uninstall", "--system").stdout
            lines = out.splitlines()
            assert lines[:2] == [
                f"system: removed {anchor}",
                "system: ran update-ca-certificates --fresh (Debian/Ubuntu/Alpine)",
            ]
            # Debian's ca-certificates-java keeps a removed local anchor; certtui takes its entry out.
            assert all(f"-alias debian:certtui-{fp[:16]}.pem" in line for line in lines[2:]), out
            # Nothing of it is left: no link in /etc/ssl/certs, and Java (rebuilt from it) dropped it.
            left = (links_to(anchor), fp in java_fingerprints())
        finally:
            with system_lock():
                restore_machine(anchor, fp)
        assert left == ([], False)
        assert sha256_file(BUNDLE) == before
        assert sorted(p.name for p in ANCHORS.iterdir()) == others
        # After: each client fails again.
        assert not curl_ok(served.url)
        assert not python_ok(served.port)
        assert not openssl_ok(served.port)
        assert cli.ok("trust", "uninstall", "--system").stdout.startswith("system: not installed:")
