"""Real clients after `trust install`: headless Chromium and Firefox ESR load the page, Java connects."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest
from support.cli import Cli
from trust_support import TOOL_TIMEOUT_S, Served, certutil, https_server

from certtui.core.store import Store

MakeStore = Callable[..., Store]

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser") or shutil.which("google-chrome")
FIREFOX = shutil.which("firefox-esr") or shutil.which("firefox")
JAVA = shutil.which("java")
KEYTOOL = shutil.which("keytool")
DEBIAN_CACERTS = Path("/etc/ssl/certs/java/cacerts")
# Chromium as root in a sandbox-less CI machine, with every feature that would reach the network off.
CHROMIUM_FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
)
# A browser starting cold on a loaded 2-core machine: seconds, rarely tens of them.
BROWSER_TIMEOUT_S = 120

JAVA_CLIENT = """
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;

public class TrustClient {
    public static void main(String[] args) throws Exception {
        HttpClient client = HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1).build();
        HttpRequest request = HttpRequest.newBuilder(URI.create(args[0])).build();
        HttpResponse<String> reply = client.send(request, HttpResponse.BodyHandlers.ofString());
        System.out.println(reply.statusCode() + " " + reply.body().contains("certtui-trusted-page"));
    }
}
"""


@pytest.fixture
def user_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    path = tmp_path / "user"
    path.mkdir()
    monkeypatch.setenv("HOME", str(path))
    return path


def chromium_dom(url: str, home: Path, profile: Path) -> str:
    assert CHROMIUM is not None
    done = subprocess.run(
        [CHROMIUM, *CHROMIUM_FLAGS, f"--user-data-dir={profile}", "--dump-dom", url],
        env={**os.environ, "HOME": str(home)},
        capture_output=True,
        text=True,
        timeout=BROWSER_TIMEOUT_S,
        check=False,
    )
    return done.stdout


@pytest.mark.skipif(CHROMIUM is None, reason="Chromium is not installed")
@pytest.mark.skipif(shutil.which("certutil") is None, reason="certutil (libnss3-tools) is not installed")
def test_headless_chromium_loads_the_page_after_install_and_not_after_uninstall(
    make_store: MakeStore, cli: Cli, tmp_path: Path, user_home: Path
) -> None:
    store = make_store(intermediate=True)
    nssdb = user_home / ".pki/nssdb"
    nssdb.mkdir(parents=True)
    certutil("-N", "-d", f"sql:{nssdb}", "--empty-password")
    with https_server(store, tmp_path) as served:
        cli.ok("trust", "install", "--nss")
        dom = chromium_dom(served.url, user_home, tmp_path / "chromium-1")
        assert "certtui-trusted-page" in dom, dom[-2000:]
        assert served.wait_for("/", 0)
        cli.ok("trust", "uninstall", "--nss")
        before = len(served.paths)
        dom = chromium_dom(served.url, user_home, tmp_path / "chromium-2")
        assert "certtui-trusted-page" not in dom
        # The interstitial: no request ever reached the server.
        assert len(served.paths) == before


def firefox_loads(served: Served, home: Path, profile: Path, shot: Path) -> bool:
    """Open the page; True once its image is fetched, False once Firefox broke off the handshake."""
    assert FIREFOX is not None
    failed_before = len(served.failures)
    firefox = subprocess.Popen(
        [
            FIREFOX,
            "--headless",
            "--no-remote",
            "--profile",
            str(profile),
            "--screenshot",
            str(shot),
            served.url,
        ],
        env={**os.environ, "HOME": str(home)},
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    try:
        with served.seen:
            # The page's image is its second request: Firefox rendered the page, not an error page.
            served.seen.wait_for(
                lambda: "/beacon.png" in served.paths or len(served.failures) > failed_before,
                BROWSER_TIMEOUT_S,
            )
            return "/beacon.png" in served.paths
    finally:
        # Its error page never finishes a screenshot: stop this Firefox and its content processes.
        try:
            os.killpg(firefox.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        firefox.wait(TOOL_TIMEOUT_S)


def new_firefox_profile(home: Path, name: str) -> Path:
    assert FIREFOX is not None
    subprocess.run(
        [FIREFOX, "--headless", "--createprofile", name],
        env={**os.environ, "HOME": str(home)},
        capture_output=True,
        timeout=TOOL_TIMEOUT_S,
        check=True,
    )
    base = home / ".config/mozilla/firefox"
    found = [p for p in base.iterdir() if p.name.endswith(f".{name}")]
    assert len(found) == 1, list(base.iterdir())
    return found[0]


@pytest.mark.skipif(FIREFOX is None, reason="Firefox ESR is not installed")
@pytest.mark.skipif(shutil.which("certutil") is None, reason="certutil (libnss3-tools) is not installed")
def test_headless_firefox_esr_loads_the_page_only_with_the_root_in_its_profile(
    make_store: MakeStore, cli: Cli, tmp_path: Path, user_home: Path
) -> None:
    store = make_store(intermediate=True)
    untrusted = new_firefox_profile(user_home, "untrusted")
    with https_server(store, tmp_path) as served:
        assert not firefox_loads(served, user_home, untrusted, tmp_path / "untrusted.png")
        assert served.paths == []
        assert served.failures
        trusted = new_firefox_profile(user_home, "trusted")
        out = cli.ok("trust", "install", "--nss").stdout
        assert f"sql:{trusted} --empty-password (new database)" in out
        assert firefox_loads(served, user_home, trusted, tmp_path / "trusted.png")


def java_client(url: str, keystore: Path, folder: Path) -> subprocess.CompletedProcess[str]:
    assert JAVA is not None
    source = folder / "TrustClient.java"
    source.write_text(JAVA_CLIENT)
    return subprocess.run(
        [
            JAVA,
            f"-Djavax.net.ssl.trustStore={keystore}",
            "-Djavax.net.ssl.trustStorePassword=changeit",
            str(source),
            url,
        ],
        capture_output=True,
        text=True,
        timeout=BROWSER_TIMEOUT_S,
        check=False,
    )


def keytool_list(keystore: Path) -> str:
    assert KEYTOOL is not None
    return subprocess.run(
        [KEYTOOL, "-list", "-keystore", str(keystore), "-storepass", "changeit"],
        capture_output=True,
        text=True,
        timeout=TOOL_TIMEOUT_S,
        check=True,
    ).stdout


@pytest.mark.skipif(JAVA is None or KEYTOOL is None, reason="no JDK (java, keytool) is installed")
@pytest.mark.skipif(not DEBIAN_CACERTS.is_file(), reason="needs a JDK cacerts to copy")
def test_standalone_jdk_keystore_trusts_the_root_then_not(
    make_store: MakeStore, cli: Cli, tmp_path: Path, user_home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A JDK of its own (JAVA_HOME, a real cacerts file): keytool lists the root, a Java client connects."""
    store = make_store(intermediate=True)
    fp = store.get(store.root_id() or "").sha256
    jdk = tmp_path / "jdk"
    (jdk / "lib/security").mkdir(parents=True)
    (jdk / "bin").mkdir()
    assert KEYTOOL is not None
    os.symlink(os.path.realpath(KEYTOOL), jdk / "bin/keytool")
    keystore = jdk / "lib/security/cacerts"
    shutil.copyfile(DEBIAN_CACERTS, keystore)
    entries = keytool_list(keystore).count("trustedCertEntry")
    monkeypatch.setenv("JAVA_HOME", str(jdk))
    with https_server(store, tmp_path) as served:
        done = java_client(served.url, keystore, tmp_path)
        assert done.returncode != 0
        # "SSLHandshakeException: PKIX path building failed", with "(certificate_unknown) "
        # between them in some JDK 17 builds.
        assert "SSLHandshakeException" in done.stderr and "PKIX path building failed" in done.stderr
        out = cli.ok("trust", "install", "--java").stdout
        assert out == (
            f"java: ran {jdk}/bin/keytool -importcert -noprompt -keystore {keystore} -storepass changeit "
            f"-alias certtui-{fp[:16]} (keystore {keystore} changed)\n"
        )
        listed = keytool_list(keystore)
        assert f"certtui-{fp[:16]}, " in listed
        assert ":".join(fp[i : i + 2] for i in range(0, 64, 2)).upper() in listed
        done = java_client(served.url, keystore, tmp_path)
        assert done.stdout == "200 true\n", done.stderr
        assert cli.ok("trust", "install", "--java").stdout == f"java: already trusted: {keystore}\n"
        status = cli.json("trust", "status", "--json")
        java = {p["path"]: p["state"] for p in status["places"] if p["target"] == "java"}
        assert java[str(keystore)] == "trusted"
        cli.ok("trust", "uninstall", "--java")
        assert keytool_list(keystore).count("trustedCertEntry") == entries
        assert java_client(served.url, keystore, tmp_path).returncode != 0


@pytest.mark.skipif(not DEBIAN_CACERTS.is_file(), reason="needs Debian's ca-certificates-java keystore")
def test_the_debian_managed_keystore_is_left_to_the_system_store(
    make_store: MakeStore, cli: Cli, user_home: Path
) -> None:
    make_store()
    out = cli.ok("trust", "install", "--java", "--keystore", str(DEBIAN_CACERTS)).stdout
    assert out == (
        f"java: skipped {DEBIAN_CACERTS}: ca-certificates-java rebuilds it from the system store, "
        "which --system covers\n"
    )
    status = cli.json("trust", "status", "--json")
    managed = [p for p in status["places"] if p["path"] == str(DEBIAN_CACERTS)]
    assert managed[0]["detail"] == "rebuilt from the system store: the system install covers it"


def test_java_without_a_jdk_named_is_one_clear_error(
    make_store: MakeStore, cli: Cli, user_home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    make_store()
    monkeypatch.delenv("JAVA_HOME", raising=False)
    assert cli.error("trust", "install", "--java").startswith("--java needs $JAVA_HOME or --keystore PATH")
