"""The real-client matrix: TLS clients nobody here wrote, against certtui's certificates on 127.0.0.1.

Every client must accept every good case (a DNS name, IPv4 only, IPv6 only, a wildcard, an
IDN, and a client certificate where the client can present one) and reject a wrong host,
another root, a server that sends only its leaf, a leaf outside the constraints signed with
the intermediate's key, a client certificate served as a server's, and (in each client that
takes a CRL) a revoked leaf. One PKI and one set of servers serve the whole module; the Go
and Java clients are compiled once, and one Java and one Firefox process judge every case.
"""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest

from tests.interop_clients_support import MARKER, Case, Pki, build, have, run, scratch_env

GOOD = ("dns", "ipv4", "ipv6", "wildcard", "idn")
BAD = ("wrong-host", "other-root", "leaf-only", "outside", "client-as-server")
Client = Callable[[Case, bool], bool]
"""(case, with CRLs) -> whether the client accepted the server."""


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Pki]:
    made = build(tmp_path_factory.mktemp("interop"))
    yield made
    made.close()


def cases(pki: Pki, names: tuple[str, ...]) -> list[Case]:
    return [pki.cases[n] for n in names if n in pki.cases]


def assert_matrix(
    pki: Pki,
    client: Client | None = None,
    *,
    crl: bool,
    mtls: bool = True,
    workers: int = 1,
    batch: Callable[[list[tuple[Case, bool]]], list[bool]] | None = None,
) -> None:
    """Every good case accepted, every bad one rejected; with `crl`, the revoked leaf too.

    `client` judges one case at a time (`workers` at once); `batch` judges the whole list in
    one go (one JVM for every case).
    """
    plan: list[tuple[Case, bool, bool]] = [(c, False, True) for c in cases(pki, GOOD)]
    plan += [(c, False, False) for c in cases(pki, BAD)]
    # Without its CRL the revoked leaf is a good certificate: the CRL is what rejects it.
    plan += [(pki.cases["revoked"], False, True)]
    if crl:
        plan += [(pki.cases["dns"], True, True), (pki.cases["revoked"], True, False)]
    if mtls:
        plan += [(pki.cases["mtls"], False, True)]
    if batch is not None:
        got = batch([(case, with_crl) for case, with_crl, _ in plan])
    else:
        assert client is not None
        with ThreadPoolExecutor(workers) as pool:
            got = list(pool.map(lambda p: client(p[0], p[1]), plan))
    wrong = [
        f"{case.name}{' with CRLs' if with_crl else ''}: {'accepted' if ok else 'rejected'}"
        for (case, with_crl, want), ok in zip(plan, got, strict=True)
        if ok != want
    ]
    assert wrong == []


# -- OpenSSL ----------------------------------------------------------------------------------

needs = pytest.mark.skipif


def _openssl_names(case: Case) -> list[str]:
    return ["-verify_ip", case.host] if case.is_ip else ["-verify_hostname", case.host]


def _crl_args(pki: Pki, crl: bool) -> list[str]:
    return ["-crl_check_all", "-CRLfile", str(pki.crls)] if crl else []


@needs(not have("openssl"), reason="openssl is installed by the README's test command")
def test_openssl_s_client(pki: Pki) -> None:
    def client(case: Case, crl: bool) -> bool:
        # s_client's -CRL takes one CRL; a -CAfile may hold CRLs too, so every CA's goes there.
        crls = ["-crl_check_all"] if crl else []
        cafile = pki.root_and_crls if crl else pki.root
        sni = [] if case.is_ip else ["-servername", case.host]
        mtls = ["-cert", str(pki.client_chain), "-key", str(pki.client_key)] if case.mtls else []
        done = run(
            ["openssl", "s_client", "-connect", case.hostport, *sni, "-CAfile", str(cafile),
             "-verify_return_error", "-ign_eof", *_openssl_names(case), *crls, *mtls],
            stdin=b"GET / HTTP/1.0\r\n\r\n",
        )  # fmt: skip
        return done.returncode == 0 and MARKER in done.stdout

    assert_matrix(pki, client, crl=True)
    assert client(pki.cases["wildcard-top"], False)


@needs(not have("openssl"), reason="openssl is installed by the README's test command")
def test_openssl_verify(pki: Pki) -> None:
    def client(case: Case, crl: bool) -> bool:
        if case.mtls:
            args = ["-purpose", "sslclient", "-untrusted", str(pki.client_chain), str(pki.client_chain)]
        else:
            served = case.served.read_text()
            untrusted = ["-untrusted", str(case.served)] if served.count("BEGIN") > 1 else []
            args = ["-purpose", "sslserver", *untrusted, *_openssl_names(case), str(case.leaf)]
        done = run(["openssl", "verify", "-CAfile", str(pki.root), *_crl_args(pki, crl), *args])
        return done.returncode == 0

    assert_matrix(pki, client, crl=True)


@needs(not have("curl"), reason="curl is installed by the README's test command")
def test_curl(pki: Pki) -> None:
    """curl --crlfile checks the whole chain, so it needs the root's CRL too (issue 14, part 4)."""

    def client(case: Case, crl: bool) -> bool:
        resolve = [] if case.is_ip else ["--resolve", f"{case.host}:{case.port}:{case.addr}"]
        mtls = ["--cert", str(pki.client_chain), "--key", str(pki.client_key)] if case.mtls else []
        crls = ["--crlfile", str(pki.crls)] if crl else []
        done = run(
            ["curl", "--silent", "--show-error", "--noproxy", "*", "--cacert", str(pki.root),
             *resolve, *crls, *mtls, case.url],
        )  # fmt: skip
        return done.returncode == 0 and MARKER in done.stdout

    assert_matrix(pki, client, crl=True)


# -- GnuTLS -----------------------------------------------------------------------------------


@needs(not have("gnutls-cli"), reason="gnutls-bin is installed by the README's test command")
def test_gnutls_cli(pki: Pki) -> None:
    """gnutls-cli loads a CRL only for a CA in --x509cafile: with CRLs the intermediate goes
    there too (the README's quirk). The leaf-only case is judged with the root alone."""

    def client(case: Case, crl: bool) -> bool:
        ca = pki.root_and_intermediate if crl else pki.root
        crls = [f"--x509crlfile={pki.crls}"] if crl else []
        sni = [] if case.is_ip else [f"--sni-hostname={case.host}"]
        mtls = [f"--x509certfile={pki.client_chain}", f"--x509keyfile={pki.client_key}"] if case.mtls else []
        done = run(
            ["gnutls-cli", f"--x509cafile={ca}", *crls, f"--port={case.port}", *sni,
             f"--verify-hostname={case.host}", *mtls, case.addr],
            stdin=b"GET / HTTP/1.0\r\n\r\n",
        )  # fmt: skip
        return done.returncode == 0 and MARKER in done.stdout

    assert_matrix(pki, client, crl=True)


@needs(not have("certtool"), reason="gnutls-bin is installed by the README's test command")
def test_gnutls_certtool_verify(pki: Pki) -> None:
    def client(case: Case, crl: bool) -> bool:
        # Without --verify-purpose certtool does not look at the extended key usage.
        if case.mtls:
            chain, host = pki.client_chain, ["--verify-purpose=1.3.6.1.5.5.7.3.2"]
        else:
            chain, host = (
                case.served,
                [f"--verify-hostname={case.host}", "--verify-purpose=1.3.6.1.5.5.7.3.1"],
            )
        crls = ["--load-crl", str(pki.crls)] if crl else []
        done = run(
            ["certtool", "--verify", "--load-ca-certificate", str(pki.root), *crls, *host,
             "--infile", str(chain)],
        )  # fmt: skip
        return done.returncode == 0 and "Chain verification output: Verified" in done.stdout

    assert_matrix(pki, client, crl=True)


# -- NSS ----------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def nssdb(pki: Pki) -> Path:
    if not have("certutil", "pk12util"):
        pytest.skip("libnss3-tools is installed by the README's test command")
    db = pki.folder / "nssdb"
    db.mkdir()
    run(["certutil", "-N", "-d", f"sql:{db}", "--empty-password"]).check_returncode()
    run(
        ["certutil", "-A", "-d", f"sql:{db}", "-n", "Interop Root", "-t", "C,,", "-i", str(pki.root)]
    ).check_returncode()
    return db


@pytest.fixture(scope="module")
def nssdb_client(pki: Pki, nssdb: Path) -> Path:
    """A second database that also holds the client identity. NSS keeps every certificate it
    imports, the intermediate of the PKCS#12 too, and would then complete a leaf-only chain."""
    db = pki.folder / "nssdb-client"
    shutil.copytree(nssdb, db)
    p12 = pki.folder / "client.p12"
    run(
        ["openssl", "pkcs12", "-export", "-in", str(pki.client_chain), "-inkey", str(pki.client_key),
         "-out", str(p12), "-passout", "pass:", "-name", "alice"],
    ).check_returncode()  # fmt: skip
    run(["pk12util", "-i", str(p12), "-d", f"sql:{db}", "-W", ""]).check_returncode()
    return db


@needs(not have("tstclnt"), reason="libnss3-tools is installed by the README's test command")
def test_nss_tstclnt(pki: Pki, nssdb: Path, nssdb_client: Path) -> None:
    def client(case: Case, crl: bool) -> bool:
        family = ["-6"] if ":" in case.addr else ["-4"]
        # -h is the address; -a sends the name as SNI, and NSS verifies the certificate against it.
        mtls = ["-n", "alice"] if case.mtls else []
        db = nssdb_client if case.mtls else nssdb
        done = run(
            ["tstclnt", "-h", case.addr, "-p", str(case.port), "-d", f"sql:{db}", *family,
             *([] if case.is_ip else ["-a", case.host]), *mtls, "-Q"],
            stdin=b"",
        )  # fmt: skip
        return done.returncode == 0

    assert_matrix(pki, client, crl=False)


# -- Go -----------------------------------------------------------------------------------------

GO_CLIENT = """
package main

import (
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"io"
	"os"
	"strings"
)

// usage: client ADDR SERVERNAME ROOT.pem [CERT.pem KEY.pem]
func main() {
	roots := x509.NewCertPool()
	data, err := os.ReadFile(os.Args[3])
	if err != nil || !roots.AppendCertsFromPEM(data) {
		fmt.Println("cannot read the root")
		os.Exit(2)
	}
	conf := &tls.Config{RootCAs: roots, ServerName: os.Args[2]}
	if len(os.Args) > 5 {
		pair, err := tls.LoadX509KeyPair(os.Args[4], os.Args[5])
		if err != nil {
			fmt.Println(err)
			os.Exit(2)
		}
		conf.Certificates = []tls.Certificate{pair}
	}
	conn, err := tls.Dial("tcp", os.Args[1], conf)
	if err != nil {
		fmt.Println(err)
		os.Exit(1)
	}
	defer conn.Close()
	io.WriteString(conn, "GET / HTTP/1.0\\r\\n\\r\\n")
	body, _ := io.ReadAll(conn)
	if !strings.Contains(string(body), "certtui-interop-ok") {
		fmt.Println("no page")
		os.Exit(1)
	}
}
"""


@pytest.fixture(scope="session")
def go_client(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The Go client, built once per session in a temporary folder."""
    if not have("go"):
        pytest.skip("golang-go is installed by the README's test command")
    folder = tmp_path_factory.mktemp("goclient")
    (folder / "main.go").write_text(GO_CLIENT)
    binary = folder / "client"
    env = scratch_env(folder, GOPATH=str(folder / "gopath"), GO111MODULE="off", GOPROXY="off", GOFLAGS="")
    cache = Path.home() / ".cache" / "go-build"
    # The shared build cache keeps the second session fast; a fresh one works too.
    env["GOCACHE"] = str(cache if cache.parent.is_dir() else folder / "cache")
    done = subprocess.run(
        ["go", "build", "-o", str(binary), "main.go"],
        cwd=folder,
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    return binary


def test_go_crypto_tls(pki: Pki, go_client: Path) -> None:
    def client(case: Case, crl: bool) -> bool:
        mtls = [str(pki.client_chain), str(pki.client_key)] if case.mtls else []
        done = run([str(go_client), case.hostport, case.host, str(pki.root), *mtls])
        return done.returncode == 0

    # Go's crypto/tls takes no CRL.
    assert_matrix(pki, client, crl=False)


# -- Python ---------------------------------------------------------------------------------------


def test_python_ssl(pki: Pki) -> None:
    import socket
    import ssl

    def client(case: Case, crl: bool) -> bool:
        ctx = ssl.create_default_context(cafile=str(pki.root))
        if crl:
            ctx.load_verify_locations(str(pki.crls))
            ctx.verify_flags |= ssl.VERIFY_CRL_CHECK_CHAIN
        if case.mtls:
            ctx.load_cert_chain(pki.client_chain, pki.client_key)
        try:
            with socket.create_connection((case.addr, case.port), timeout=30) as raw:
                with ctx.wrap_socket(raw, server_hostname=case.host) as tls:
                    tls.sendall(b"GET / HTTP/1.0\r\n\r\n")
                    body = b""
                    while chunk := tls.recv(4096):
                        body += chunk
        except (ssl.SSLError, OSError):
            return False
        return MARKER.encode() in body

    assert_matrix(pki, client, crl=True)


# -- Chromium -----------------------------------------------------------------------------------

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
CHROMIUM_FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    # DNS names reach the loopback without a resolver; nothing leaves the machine.
    "--host-resolver-rules=MAP *.home.arpa 127.0.0.1, MAP *.example.com 127.0.0.1, EXCLUDE localhost",
)


@needs(CHROMIUM is None, reason="chromium is installed by the README's test command")
def test_chromium(pki: Pki) -> None:
    """Headless Chromium with the root in a scratch $HOME/.pki/nssdb: the real page has the
    marker in its DOM, an interstitial never does."""
    home = pki.folder / "chromium-home"
    db = home / ".pki" / "nssdb"
    db.mkdir(parents=True)
    run(["certutil", "-N", "-d", f"sql:{db}", "--empty-password"]).check_returncode()
    run(
        ["certutil", "-A", "-d", f"sql:{db}", "-n", "Interop Root", "-t", "C,,", "-i", str(pki.root)]
    ).check_returncode()
    profiles = iter(range(1000))

    def client(case: Case, crl: bool) -> bool:
        profile = home / f"profile-{next(profiles)}"
        done = run(
            [str(CHROMIUM), *CHROMIUM_FLAGS, f"--user-data-dir={profile}", "--dump-dom", case.url],
            env=scratch_env(home),
        )
        return MARKER in done.stdout

    # Chromium checks no CRL for a private root (CRLSets only), and is not given a client identity.
    assert_matrix(pki, client, crl=False, mtls=False, workers=2)
    # What leaf.wildcard warns about: Chromium refuses *.home.arpa (OpenSSL takes it, below).
    assert not client(pki.cases["wildcard-top"], False)


# -- Java ----------------------------------------------------------------------------------------

JAVA_CLIENT = """
import java.io.*;
import java.nio.file.*;
import java.security.*;
import java.security.cert.*;
import java.util.*;
import javax.net.ssl.*;

public class Client {
    // usage: java Client TRUSTSTORE.p12 CRLS.pem CASES; each line of CASES: HOST PORT CRL(0|1).
    // Prints one line per case: "ok", or "fail" and why.
    public static void main(String[] a) throws Exception {
        KeyStore ts = KeyStore.getInstance("PKCS12");
        try (InputStream in = new FileInputStream(a[0])) { ts.load(in, "changeit".toCharArray()); }
        Collection<? extends CRL> crls;
        try (InputStream in = new FileInputStream(a[1])) {
            crls = CertificateFactory.getInstance("X.509").generateCRLs(in);
        }
        for (String line : Files.readAllLines(Paths.get(a[2]))) {
            String[] f = line.trim().split(" ");
            try {
                System.out.println(fetch(ts, crls, f[0], Integer.parseInt(f[1]), f[2].equals("1")));
            } catch (Exception e) {
                System.out.println("fail " + e);
            }
        }
    }

    static String fetch(KeyStore ts, Collection<? extends CRL> crls, String host, int port, boolean crl)
            throws Exception {
        PKIXBuilderParameters params = new PKIXBuilderParameters(ts, new X509CertSelector());
        if (crl) {
            params.addCertStore(CertStore.getInstance("Collection", new CollectionCertStoreParameters(crls)));
        }
        params.setRevocationEnabled(crl);
        TrustManagerFactory tmf = TrustManagerFactory.getInstance("PKIX");
        tmf.init(new CertPathTrustManagerParameters(params));
        SSLContext ctx = SSLContext.getInstance("TLS");
        ctx.init(null, tmf.getTrustManagers(), null);
        // The endpoint check uses the name connected to; jdk.net.hosts.file maps it to 127.0.0.1.
        try (SSLSocket s = (SSLSocket) ctx.getSocketFactory().createSocket(host, port)) {
            SSLParameters p = s.getSSLParameters();
            p.setEndpointIdentificationAlgorithm("HTTPS");
            if (!host.contains(":") && !host.matches("[0-9.]+")) {
                p.setServerNames(List.of(new SNIHostName(host)));
            }
            s.setSSLParameters(p);
            s.startHandshake();
            s.getOutputStream().write("GET / HTTP/1.0\\r\\n\\r\\n".getBytes());
            String body = new String(s.getInputStream().readAllBytes());
            return body.contains("certtui-interop-ok") ? "ok" : "fail no page";
        }
    }
}
"""


@pytest.fixture(scope="module")
def java_client(pki: Pki) -> tuple[Path, Path]:
    """The Java client compiled once, and a PKCS#12 truststore holding the root (keytool)."""
    if not have("java", "javac", "keytool"):
        pytest.skip("openjdk-17-jdk-headless is installed by the README's test command")
    folder = pki.folder / "java"
    folder.mkdir()
    (folder / "Client.java").write_text(JAVA_CLIENT)
    run(["javac", "-d", str(folder), str(folder / "Client.java")]).check_returncode()
    store = folder / "trust.p12"
    run(
        ["keytool", "-importcert", "-noprompt", "-alias", "root", "-file", str(pki.root),
         "-keystore", str(store), "-storetype", "PKCS12", "-storepass", "changeit"],
    ).check_returncode()  # fmt: skip
    return folder, store


def test_java(pki: Pki, java_client: tuple[Path, Path]) -> None:
    """Java checks name constraints only on intermediates: `outside` is rejected because the
    intermediate carries the root's subtrees (issue 14, part 3)."""
    folder, store = java_client
    hosts = pki.folder / "java-hosts"
    hosts.write_text("".join(f"{c.addr} {c.host}\n" for c in pki.cases.values() if not c.is_ip))

    def batch(plan: list[tuple[Case, bool]]) -> list[bool]:
        listed = pki.folder / "java-cases"
        listed.write_text("".join(f"{c.host} {c.port} {int(crl)}\n" for c, crl in plan))
        done = run(
            ["java", f"-Djdk.net.hosts.file={hosts}", "-cp", str(folder), "Client", str(store),
             str(pki.crls), str(listed)],
        )  # fmt: skip
        lines = done.stdout.splitlines()
        assert len(lines) == len(plan), done.stdout + done.stderr
        reasons = dict(zip((c.name for c, _ in plan), lines, strict=True))
        # Rejected for its names, not by accident: the intermediate's constraints hold in Java.
        assert "name constraints" in reasons["outside"].lower() or "NameConstraints" in reasons["outside"], (
            reasons
        )
        return [line == "ok" for line in lines]

    assert_matrix(pki, crl=True, mtls=False, batch=batch)


# -- Firefox ESR ----------------------------------------------------------------------------------

FIREFOX = shutil.which("firefox-esr") or shutil.which("firefox")
# Quiet: nothing but the pages asked for leaves the browser (and nothing leaves 127.0.0.1).
FIREFOX_PREFS = {
    "app.update.enabled": False,
    "browser.shell.checkDefaultBrowser": False,
    "browser.safebrowsing.malware.enabled": False,
    "browser.safebrowsing.phishing.enabled": False,
    "datareporting.policy.dataSubmissionEnabled": False,
    "extensions.update.enabled": False,
    "network.captive-portal-service.enabled": False,
    "network.connectivity-service.enabled": False,
    "network.proxy.type": 0,
    "security.OCSP.enabled": 0,
    "toolkit.telemetry.enabled": False,
}


# What the page is: its address (about:certerror for an interstitial) and its text.
PAGE_TEXT = "document.documentURI + ' ' + (document.body ? document.body.textContent : '')"


def _firefox_pages(pki: Pki, urls: list[str]) -> list[str]:
    """Each URL's page text in one headless Firefox, driven over WebDriver BiDi; an
    interstitial (about:certerror) never holds the marker."""
    import asyncio
    import json
    import re

    import aiohttp

    profile = pki.folder / "firefox-profile"
    profile.mkdir()
    names = ",".join(c.host for c in pki.cases.values() if not c.is_ip)
    prefs = {**FIREFOX_PREFS, "network.dns.localDomains": names}
    (profile / "user.js").write_text(
        "".join(f"user_pref({json.dumps(k)}, {json.dumps(v)});\n" for k, v in prefs.items())
    )
    run(["certutil", "-N", "-d", f"sql:{profile}", "--empty-password"]).check_returncode()
    run(
        ["certutil", "-A", "-d", f"sql:{profile}", "-n", "Interop Root", "-t", "C,,", "-i", str(pki.root)]
    ).check_returncode()
    browser = subprocess.Popen(
        [str(FIREFOX), "--headless", "--no-remote", "--profile", str(profile), "--remote-debugging-port=0"],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        env=scratch_env(pki.folder / "firefox-home"),
    )
    try:
        assert browser.stderr is not None
        address = None
        for line in browser.stderr:
            if m := re.search(r"WebDriver BiDi listening on (ws://\S+)", line):
                address = m.group(1)
                break
        assert address is not None, "Firefox did not start its WebDriver BiDi server"

        async def drive() -> list[str]:
            async with aiohttp.ClientSession() as http, http.ws_connect(f"{address}/session") as ws:
                counter = iter(range(1, 10_000))

                async def call(method: str, **params: Any) -> dict[str, Any]:
                    n = next(counter)
                    await ws.send_json({"id": n, "method": method, "params": params})
                    while True:
                        msg = await ws.receive_json(timeout=60)
                        if msg.get("id") == n:
                            return msg  # type: ignore[no-any-return]

                await call("session.new", capabilities={})
                tree = await call("browsingContext.getTree")
                context = tree["result"]["contexts"][0]["context"]
                pages = []
                for url in urls:
                    await call("browsingContext.navigate", context=context, url=url, wait="complete")
                    got = await call(
                        "script.evaluate",
                        expression=PAGE_TEXT,
                        target={"context": context},
                        awaitPromise=False,
                    )
                    pages.append(str(got.get("result", {}).get("result", {}).get("value", "")))
                await call("session.end")
                return pages

        return asyncio.run(drive())
    finally:
        browser.terminate()
        browser.wait(timeout=30)
        if browser.stderr is not None:
            browser.stderr.close()


@needs(
    FIREFOX is None or not have("certutil"),
    reason="firefox-esr and libnss3-tools are installed by the README's test command",
)
def test_firefox(pki: Pki) -> None:
    """Headless Firefox ESR with the root in its profile's NSS database: the real page holds the
    marker, Firefox's certificate error page never does."""

    def batch(plan: list[tuple[Case, bool]]) -> list[bool]:
        pages = _firefox_pages(pki, [c.url for c, _ in plan])
        return [MARKER in page and not page.startswith("about:") for page in pages]

    # Firefox checks no CRL for a private root (CRLite covers public CAs only).
    assert_matrix(pki, crl=False, mtls=False, batch=batch)
