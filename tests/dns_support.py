"""pebble-challtestsrv as the test's DNS server: TXT records set over its HTTP management API."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import urllib.request
from pathlib import Path

from acme_support import free_port, wait_for

# challtestsrv starts in milliseconds; a loaded machine gets a margin.
START_TIMEOUT_S = 30.0

EXEC_SCRIPT = """#!{python}
import json, sys, urllib.request
# lego's exec provider: `present|cleanup FQDN VALUE` (FQDN ends with a dot).
action, fqdn, value = sys.argv[1], sys.argv[2], sys.argv[3]
path = "/set-txt" if action == "present" else "/clear-txt"
body = {{"host": fqdn}} | ({{"value": value}} if action == "present" else {{}})
req = urllib.request.Request("{api}" + path, data=json.dumps(body).encode(), method="POST")
urllib.request.urlopen(req, timeout=10).read()
"""


class DnsServer:
    """pebble-challtestsrv with only its DNS (UDP+TCP) and management listeners, on 127.0.0.1."""

    def __init__(self, folder: Path) -> None:
        if shutil.which("pebble-challtestsrv") is None:
            import pytest

            pytest.skip("not installed: pebble-challtestsrv (Debian pebble; the README's apt-get line)")
        self.dns_port, self.api_port = free_port(), free_port()
        self.api = f"http://127.0.0.1:{self.api_port}"
        self.log = open(folder / "challtestsrv.txt", "wb")
        self.proc = subprocess.Popen(
            [
                "pebble-challtestsrv",
                "-dns01",
                f"127.0.0.1:{self.dns_port}",
                "-management",
                f"127.0.0.1:{self.api_port}",
                "-http01",
                "",
                "-https01",
                "",
                "-tlsalpn01",
                "",
            ],
            stdin=subprocess.DEVNULL,
            stdout=self.log,
            stderr=subprocess.STDOUT,
        )
        wait_for(self._up, START_TIMEOUT_S, "pebble-challtestsrv to listen")
        self.script = folder / "lego-exec.py"
        self.script.write_text(EXEC_SCRIPT.format(python=sys.executable, api=self.api))
        self.script.chmod(0o700)

    def _up(self) -> bool:
        if self.proc.poll() is not None:
            raise AssertionError(f"pebble-challtestsrv exited {self.proc.returncode}")
        try:
            self.clear("_acme-challenge.probe.invalid.")
        except OSError:
            return False
        return True

    def _post(self, path: str, body: dict[str, str]) -> None:
        req = urllib.request.Request(self.api + path, data=json.dumps(body).encode(), method="POST")
        with urllib.request.urlopen(req, timeout=10) as r:
            r.read()

    def set_txt(self, fqdn: str, value: str) -> None:
        self._post("/set-txt", {"host": fqdn, "value": value})

    def clear(self, fqdn: str) -> None:
        self._post("/clear-txt", {"host": fqdn})

    @property
    def resolver(self) -> str:
        return f"127.0.0.1:{self.dns_port}"

    def close(self) -> None:
        self.proc.terminate()
        self.proc.wait(timeout=30)
        self.log.close()
