"""`certtui trust`: --root-dir layouts, NSS homes, Firefox policy, idempotence, dry run, root, stale roots."""

from __future__ import annotations

import json
import os
import pwd
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
from support.cli import Cli, assert_user_error
from trust_support import TOOL_TIMEOUT_S, certutil, hash_tree, nss_nicknames, pem, sha256_file

from certtui.core import trustplaces as tp
from certtui.core.store import Store

MakeStore = Callable[..., Store]

needs_certutil = pytest.mark.skipif(
    shutil.which("certutil") is None, reason="certutil (libnss3-tools) is not installed"
)
FIREFOX = shutil.which("firefox-esr") or shutil.which("firefox")


def root_fp(store: Store) -> str:
    return store.get(store.root_id() or "").sha256


@pytest.fixture
def user_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A scratch $HOME: the only NSS databases the tests touch."""
    path = tmp_path / "user"
    path.mkdir()
    monkeypatch.setenv("HOME", str(path))
    return path


# -- system layouts under --root-dir ----------------------------------------------------------------

LAYOUTS = {
    "fedora": (
        "usr/bin/update-ca-trust",
        "etc/pki/ca-trust/source",
        "etc/pki/ca-trust/source/anchors",
        "update-ca-trust extract",
        "Fedora/RHEL",
    ),
    "arch": (
        "usr/bin/trust",
        "etc/ca-certificates/trust-source",
        "etc/ca-certificates/trust-source/anchors",
        "trust extract-compat",
        "Arch",
    ),
    "opensuse": (
        "usr/sbin/update-ca-certificates",
        "usr/share/pki/trust",
        "usr/share/pki/trust/anchors",
        "update-ca-certificates",
        "openSUSE",
    ),
    "debian": (
        "usr/sbin/update-ca-certificates",
        "usr/share/ca-certificates",
        "usr/local/share/ca-certificates",
        "update-ca-certificates",
        "Debian/Ubuntu/Alpine",
    ),
}


def make_tree(root: Path, layout: str) -> tuple[Path, str, str]:
    tool, marker, anchors, refresh, family = LAYOUTS[layout]
    (root / tool).parent.mkdir(parents=True)
    (root / tool).write_text("#!/bin/sh\nexit 99\n")
    (root / marker).mkdir(parents=True)
    if layout == "arch":
        # Arch ships update-ca-trust too: the folder, not the tool, tells it from Fedora.
        (root / "usr/bin/update-ca-trust").write_text("#!/bin/sh\nexit 99\n")
    return root / anchors, refresh, family


@pytest.mark.parametrize("layout", sorted(LAYOUTS))
def test_root_dir_layout_writes_the_anchor_and_prints_the_refresh(
    layout: str, make_store: MakeStore, cli: Cli, tmp_path: Path, user_home: Path
) -> None:
    store = make_store()
    fp = root_fp(store)
    root = tmp_path / "image"
    anchors, refresh, family = make_tree(root, layout)
    anchors.mkdir(parents=True, exist_ok=True)
    other = anchors / "someone-else.crt"
    other.write_bytes(pem(store, store.root_id() or ""))  # the same root, not certtui's file
    anchor = anchors / f"certtui-{fp[:16]}.crt"
    out = cli.ok("trust", "install", "--system", "--root-dir", str(root)).stdout
    assert out.splitlines() == [
        f"system: wrote {anchor}",
        f"system: to run inside {root}: {refresh} (e.g. chroot {root} {refresh})",
    ]
    assert anchor.read_bytes() == pem(store, store.root_id() or "")
    assert oct(anchor.stat().st_mode & 0o777) == "0o644"
    assert cli.ok("trust", "install", "--system", "--root-dir", str(root)).stdout == (
        f"system: already trusted: {anchor} ({family})\n"
    )
    status = cli.json("trust", "status", "--json", "--root-dir", str(root))
    assert [p["label"] for p in status["places"] if p["target"] == "system"] == [family]
    out = cli.ok("trust", "uninstall", "--system", "--root-dir", str(root)).stdout
    removal = "update-ca-certificates --fresh" if layout == "debian" else refresh
    assert out.splitlines() == [
        f"system: removed {anchor}",
        f"system: to run inside {root}: {removal} (e.g. chroot {root} {removal})",
    ]
    assert not anchor.exists()
    # Uninstall takes only what install added: a file of the same root under another name stays.
    assert other.exists()


def test_root_dir_with_no_known_layout_is_one_clear_error(
    make_store: MakeStore, cli: Cli, tmp_path: Path, user_home: Path
) -> None:
    make_store()
    root = tmp_path / "empty"
    (root / "usr/bin").mkdir(parents=True)
    message = cli.error("trust", "install", "--system", "--root-dir", str(root))
    assert message.startswith(f"no system trust store certtui knows was found under {root}")
    assert list(root.rglob("*.crt")) == []


def test_a_file_of_another_root_under_a_certtui_name_is_not_removed(
    make_store: MakeStore, cli: Cli, tmp_path: Path, user_home: Path
) -> None:
    store = make_store()
    other = make_store(name="Other Root", where=tmp_path / "other")
    root = tmp_path / "image"
    anchors, _refresh, _family = make_tree(root, "fedora")
    anchors.mkdir(parents=True)
    # Named as if it were this root's anchor, holding another root: matched by fingerprint, kept.
    forged = anchors / f"certtui-{root_fp(store)[:16]}.crt"
    forged.write_bytes(pem(other, other.root_id() or ""))
    out = cli.ok("trust", "uninstall", "--system", "--root-dir", str(root)).stdout
    assert out.startswith("system: not installed:")
    assert forged.exists()


# -- root, and the one sudo line --------------------------------------------------------------------


def test_a_normal_user_gets_the_sudo_line_and_nothing_changes(
    make_store: MakeStore, home: Path, tmp_path: Path
) -> None:
    """Run as `nobody` for real (setpriv): explicit --system is one error line with the command."""
    if os.geteuid() != 0 or shutil.which("setpriv") is None:
        pytest.skip("needs root and setpriv to run a command as nobody")
    nobody = pwd.getpwnam("nobody")
    base = Path(subprocess.check_output(["mktemp", "-d", "/tmp/certtui-trust-XXXXXX"], text=True).strip())
    try:
        os.chmod(base, 0o755)
        store_home = base / "store"
        make_store(where=store_home).close()
        user = base / "user"
        user.mkdir()
        for path in (store_home, *store_home.rglob("*"), user):
            os.chown(path, nobody.pw_uid, nobody.pw_gid)
        env = {"PATH": os.environ["PATH"], "HOME": str(user), "CERTTUI_HOME": str(store_home)}
        run_as = ["setpriv", f"--reuid={nobody.pw_uid}", f"--regid={nobody.pw_gid}", "--clear-groups"]
        argv = [*run_as, sys.executable, "-m", "certtui", "trust", "install", "--system"]
        probe = subprocess.run(
            [*run_as, sys.executable, "-c", "import certtui.cli"],
            env=env,
            capture_output=True,
            timeout=TOOL_TIMEOUT_S,
        )
        if probe.returncode != 0:
            pytest.skip("nobody cannot read this Python or checkout (a home folder 0700?)")
        before = hash_tree(Path("/usr/local/share/ca-certificates"))
        done = subprocess.run(
            argv, capture_output=True, text=True, env=env, timeout=TOOL_TIMEOUT_S, check=False
        )
        message = assert_user_error(done.returncode, done.stdout, done.stderr)
        expected = (
            f"installing into the system trust store needs root; run: sudo {sys.executable} -m certtui "
            f"--home {store_home} trust install --system"
        )
        assert message == expected
        assert done.stdout == ""
        # The default targets: this user's NSS part runs, and the same line says what is left.
        done = subprocess.run(
            argv[:-1], capture_output=True, text=True, env=env, timeout=TOOL_TIMEOUT_S, check=False
        )
        assert done.returncode == 0, done.stderr
        assert done.stdout.startswith("nss: no database found")
        assert done.stderr == f"warning: {expected}\n"
        assert hash_tree(Path("/usr/local/share/ca-certificates")) == before
    finally:
        shutil.rmtree(base)


def test_dry_run_needs_no_root_and_changes_nothing(
    make_store: MakeStore, cli: Cli, tmp_path: Path, user_home: Path
) -> None:
    store = make_store()
    fp = root_fp(store)
    root = tmp_path / "image"
    anchors, _refresh, _family = make_tree(root, "debian")
    before = hash_tree(root)
    out = cli.ok(
        "trust", "install", "--system", "--firefox-policy", "--dry-run", "--root-dir", str(root)
    ).stdout
    assert f"system: would write {anchors}/certtui-{fp[:16]}.crt\n" in out
    assert f"firefox-policy: would write {root}/etc/firefox/policies/policies.json\n" in out
    assert hash_tree(root) == before


# -- NSS ----------------------------------------------------------------------------------------------


def add_other_ca(db: Path, other: Store) -> None:
    """Another CA the user added before: uninstall must leave it."""
    certutil(
        "-A", "-d", f"sql:{db}", "-n", "Someone Else CA", "-t", "C,,", "-a", "-i", str(write_pem(db, other))
    )


def write_pem(folder: Path, store: Store) -> Path:
    path = folder.parent / f"{folder.name}-other.pem"
    path.write_bytes(pem(store, store.root_id() or ""))
    return path


def profiles_ini(base: Path, *profiles: str) -> None:
    base.mkdir(parents=True, exist_ok=True)
    lines = ["[General]", "StartWithLastProfile=1", "Version=2", ""]
    for i, name in enumerate(profiles):
        lines += [f"[Profile{i}]", f"Name={name}", "IsRelative=1", f"Path={name}", ""]
    (base / "profiles.ini").write_text("\n".join(lines))


@pytest.fixture
def nss_home(user_home: Path, make_store: MakeStore, tmp_path: Path) -> dict[str, Path]:
    """Chromium (and snap) nssdb, a firefox-esr XDG profile, classic and snap profiles, a legacy cert8.db."""
    dbs: dict[str, Path] = {}
    other = make_store(name="Someone Else CA", where=tmp_path / "other")
    # First: with ~/.mozilla present, Firefox 147+ keeps to the classic path.
    xdg = user_home / ".config/mozilla/firefox"
    if FIREFOX:
        done = subprocess.run(
            [FIREFOX, "--headless", "--createprofile", "esr"],
            env={**os.environ, "HOME": str(user_home)},
            capture_output=True,
            timeout=TOOL_TIMEOUT_S,
            check=False,
        )
        assert done.returncode == 0, done.stderr
        found = tp.parse_profiles_ini((xdg / "profiles.ini").read_text(), xdg)
        # Debian's firefox-esr 153 makes its profiles on the XDG path, and no database yet.
        assert len(found) == 1 and not (found[0] / "cert9.db").exists()
        dbs["firefox-esr"] = found[0]
    else:
        profiles_ini(xdg, "xdg.default")
        (xdg / "xdg.default").mkdir()
        certutil("-N", "-d", f"sql:{xdg / 'xdg.default'}", "--empty-password")
        dbs["firefox-esr"] = xdg / "xdg.default"
    chromium = user_home / ".pki/nssdb"
    chromium.mkdir(parents=True)
    certutil("-N", "-d", f"sql:{chromium}", "--empty-password")
    dbs["chromium"] = chromium
    snap_chromium = user_home / "snap/chromium/current/.pki/nssdb"
    snap_chromium.mkdir(parents=True)
    certutil("-N", "-d", f"sql:{snap_chromium}", "--empty-password")
    dbs["snap-chromium"] = snap_chromium
    classic = user_home / ".mozilla/firefox"
    profiles_ini(classic, "abc.default", "legacy.old")
    (classic / "abc.default").mkdir()
    certutil("-N", "-d", f"sql:{classic / 'abc.default'}", "--empty-password")
    dbs["classic"] = classic / "abc.default"
    (classic / "legacy.old").mkdir()
    (classic / "legacy.old/cert8.db").write_bytes(b"\0" * 64)
    flatpak = user_home / ".var/app/org.mozilla.firefox/.mozilla/firefox"
    profiles_ini(flatpak, "flat.default")
    (flatpak / "flat.default").mkdir()
    certutil("-N", "-d", f"sql:{flatpak / 'flat.default'}", "--empty-password")
    dbs["flatpak"] = flatpak / "flat.default"
    snap = user_home / "snap/firefox/common/.mozilla/firefox"
    profiles_ini(snap, "snp.default")
    (snap / "snp.default").mkdir()
    certutil("-N", "-d", f"sql:{snap / 'snp.default'}", "--empty-password")
    dbs["snap"] = snap / "snp.default"
    for name, db in dbs.items():
        if name != "firefox-esr":
            add_other_ca(db, other)
    return dbs


@needs_certutil
def test_nss_install_lists_the_root_in_every_database_and_uninstall_removes_only_it(
    make_store: MakeStore, cli: Cli, nss_home: dict[str, Path], user_home: Path
) -> None:
    store = make_store(name="Home Lab Root")
    nick = f"certtui Home Lab Root {root_fp(store)[:16]}"
    before = {name: nss_nicknames(db) if (db / "cert9.db").exists() else [] for name, db in nss_home.items()}
    out = cli.ok("trust", "install", "--nss").stdout
    lines = out.splitlines()
    for name, db in nss_home.items():
        assert nick in nss_nicknames(db), name
        assert any(line.startswith("nss: ran ") and f"sql:{db} " in line for line in lines), (name, out)
        trust = certutil("-L", "-d", f"sql:{db}", "-n", nick)
        assert "Trusted CA" in trust or "Valid CA" in trust, trust
    assert (
        f"nss: skipped {user_home}/.mozilla/firefox/legacy.old (Firefox profile legacy.old): "
        "a legacy cert8.db" in out
    )
    # Idempotent: the second run changes nothing and says so for each database.
    tree = hash_tree(user_home)
    again = cli.ok("trust", "install", "--nss").stdout
    assert again.count("nss: already trusted: ") == len(nss_home), again
    assert " ran " not in again
    assert hash_tree(user_home) == tree
    status = cli.json("trust", "status", "--json")
    nss = {p["path"]: p["state"] for p in status["places"] if p["target"] == "nss"}
    for db in nss_home.values():
        assert nss[f"sql:{db}"] == "trusted"
    assert nss[f"{user_home}/.mozilla/firefox/legacy.old"] == "skipped"
    # Uninstall: ours goes, the other CA stays.
    cli.ok("trust", "uninstall", "--nss")
    for name, db in nss_home.items():
        assert nss_nicknames(db) == before[name], name
    assert cli.ok("trust", "uninstall", "--nss").stdout.count("nss: not installed: ") == len(nss_home)


@needs_certutil
def test_nss_dry_run_changes_no_file(
    make_store: MakeStore, cli: Cli, nss_home: dict[str, Path], user_home: Path
) -> None:
    make_store()
    tree = hash_tree(user_home)
    out = cli.ok("trust", "install", "--nss", "--dry-run").stdout
    assert out.count("nss: would run ") >= len(nss_home)
    assert hash_tree(user_home) == tree
    cli.ok("trust", "install", "--nss")
    tree = hash_tree(user_home)
    assert "nss: would run " in cli.ok("trust", "uninstall", "--nss", "--dry-run").stdout
    assert hash_tree(user_home) == tree


def test_no_certutil_says_which_package(
    make_store: MakeStore, cli: Cli, user_home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    make_store()
    (user_home / ".pki/nssdb").mkdir(parents=True)
    (user_home / ".pki/nssdb/cert9.db").write_bytes(b"")
    monkeypatch.setenv("PATH", str(user_home / "nowhere"))
    message = cli.error("trust", "install", "--nss")
    assert message.startswith("certutil is not installed; it comes with libnss3-tools (Debian/Ubuntu)")


# -- profiles.ini -----------------------------------------------------------------------------------


def test_profiles_ini_relative_absolute_install_and_no_climbing(tmp_path: Path) -> None:
    text = "\n".join(
        [
            "[Install4F96D1932A9F858E]",
            "Default=inst.default",
            "[Profile0]",
            "Name=a",
            "IsRelative=1",
            "Path=a.default",
            "[Profile1]",
            "Name=b",
            "IsRelative=0",
            "Path=/srv/profiles/b",
            "[Profile2]",
            "Name=c",
            "IsRelative=1",
            "Path=../../etc",
            "[General]",
            "Version=2",
        ]
    )
    assert tp.parse_profiles_ini(text, tmp_path) == [
        tmp_path / "inst.default",
        tmp_path / "a.default",
        Path("/srv/profiles/b"),
    ]


def test_a_broken_profiles_ini_is_one_clear_error(make_store: MakeStore, cli: Cli, user_home: Path) -> None:
    make_store()
    base = user_home / ".mozilla/firefox"
    base.mkdir(parents=True)
    (base / "profiles.ini").write_text("[Profile0\nPath=x\n")
    assert cli.error("trust", "install", "--nss").startswith(
        f"{base}/profiles.ini is not a valid profiles.ini"
    )


# -- Firefox's enterprise policy ----------------------------------------------------------------------


def test_firefox_policy_adds_and_removes_only_its_certificate(
    make_store: MakeStore, cli: Cli, tmp_path: Path, user_home: Path
) -> None:
    store = make_store()
    fp = root_fp(store)
    root = tmp_path / "image"
    folder = root / "etc/firefox-esr/policies"
    folder.mkdir(parents=True)
    original = {"policies": {"DisableAppUpdate": True, "Certificates": {"Install": ["/opt/corp.pem"]}}}
    (folder / "policies.json").write_text(json.dumps(original))
    out = cli.ok("trust", "install", "--firefox-policy", "--root-dir", str(root)).stdout
    cert = folder / f"certtui-{fp[:16]}.pem"
    assert out.splitlines() == [
        f"firefox-policy: wrote {cert}",
        f"firefox-policy: wrote {folder}/policies.json",
    ]
    policy = json.loads((folder / "policies.json").read_text())
    assert policy["policies"]["Certificates"]["Install"] == [
        "/opt/corp.pem",
        f"/etc/firefox-esr/policies/certtui-{fp[:16]}.pem",
    ]
    # Linux Firefox reads no OS store, so ImportEnterpriseRoots is not set there.
    assert "ImportEnterpriseRoots" not in policy["policies"]["Certificates"]
    assert policy["policies"]["DisableAppUpdate"] is True
    assert tp.pem_fingerprints(cert.read_bytes()) == [fp]
    assert "already trusted" in cli.ok("trust", "install", "--firefox-policy", "--root-dir", str(root)).stdout
    cli.ok("trust", "uninstall", "--firefox-policy", "--root-dir", str(root))
    assert json.loads((folder / "policies.json").read_text()) == original
    assert not cert.exists()


def test_firefox_policy_that_certtui_created_is_removed_whole(
    make_store: MakeStore, cli: Cli, tmp_path: Path, user_home: Path
) -> None:
    make_store()
    root = tmp_path / "image"
    root.mkdir()
    cli.ok("trust", "install", "--firefox-policy", "--root-dir", str(root))
    assert (root / "etc/firefox/policies/policies.json").exists()
    cli.ok("trust", "uninstall", "--firefox-policy", "--root-dir", str(root))
    assert list((root / "etc/firefox/policies").iterdir()) == []


def test_a_broken_policies_json_is_refused_and_left_alone(
    make_store: MakeStore, cli: Cli, tmp_path: Path, user_home: Path
) -> None:
    make_store()
    root = tmp_path / "image"
    folder = root / "etc/firefox/policies"
    folder.mkdir(parents=True)
    (folder / "policies.json").write_text('{"policies": ')
    message = cli.error("trust", "install", "--firefox-policy", "--root-dir", str(root))
    assert message.startswith(f"{folder}/policies.json is not valid JSON")
    assert [p.name for p in folder.iterdir()] == ["policies.json"]


# -- the CA, status, stale roots --------------------------------------------------------------------


def test_a_leaf_is_not_a_ca_to_trust(make_store: MakeStore, cli: Cli, user_home: Path) -> None:
    from support.pki import issue_one

    from certtui.core.models import IssueRequest

    store = make_store()
    leaf = issue_one(store, IssueRequest(names=("nas.home.arpa",)))
    message = cli.error("trust", "install", "--nss", "--ca", leaf.id)
    assert message == f"{leaf.id} is a server certificate, not a CA; give a root or intermediate to --ca"


def test_status_says_who_honours_the_name_constraints(
    make_store: MakeStore, cli: Cli, user_home: Path
) -> None:
    make_store(permit=["home.arpa"])
    status = cli.json("trust", "status", "--json")
    assert status["name_constraints"]["constrained"] is True
    assert "Java" in status["name_constraints"]["ignored_by"]
    assert "OpenSSL (curl, Python, wget)" in status["name_constraints"]["honoured_by"]
    text = cli.ok("trust", "status").stdout
    assert "note: the root is name-constrained: honoured by OpenSSL (curl, Python, wget)" in text
    assert "ignored by Java" in text
    assert "note: Firefox on Linux does not read the system store" in text


def test_status_without_constraints_lists_no_clients(
    make_store: MakeStore, cli: Cli, user_home: Path
) -> None:
    make_store()
    status = cli.json("trust", "status", "--json")
    assert status["name_constraints"] == {"constrained": False, "honoured_by": [], "ignored_by": []}


@needs_certutil
def test_status_flags_the_root_of_a_store_replaced_by_restore(
    make_store: MakeStore, cli: Cli, home: Path, tmp_path: Path, user_home: Path
) -> None:
    """Store A's root is installed; A is moved aside and B's backup restored: A's root is stale."""
    first = make_store(name="First Root")
    first_fp = root_fp(first)
    second = make_store(name="Second Root", where=tmp_path / "second")
    backup = tmp_path / "second.backup"
    second.backup(backup)
    nssdb = user_home / ".pki/nssdb"
    nssdb.mkdir(parents=True)
    certutil("-N", "-d", f"sql:{nssdb}", "--empty-password")
    image = tmp_path / "image"
    make_tree(image, "debian")
    cli.ok("trust", "install", "--nss")
    cli.ok("trust", "install", "--system", "--root-dir", str(image))
    first.close()
    shutil.move(home, tmp_path / "first-aside")
    cli.ok("restore", str(backup))
    status = cli.json("trust", "status", "--json", "--root-dir", str(image))
    assert status["ca"]["sha256"] == root_fp(second)
    stale = {(s["target"], s["sha256"], s["store_id"], s["what"]) for s in status["stale"]}
    assert stale == {
        ("system", first_fp, None, "another certtui store's root"),
        ("nss", first_fp, None, "another certtui store's root"),
    }
    text = cli.ok("trust", "status", "--root-dir", str(image)).stdout
    assert (
        f"stale: {image}/usr/local/share/ca-certificates/certtui-{first_fp[:16]}.crt: "
        "another certtui store's root" in text
    )
    # Installing B's root leaves A's in place (uninstall takes only B's), and the status still says so.
    cli.ok("trust", "install", "--nss")
    cli.ok("trust", "uninstall", "--nss")
    assert any(n.startswith("certtui First Root") for n in nss_nicknames(nssdb))
    # --stale takes A's out by its fingerprint; a dry run first changes nothing.
    tree = hash_tree(tmp_path)
    cli.ok("trust", "uninstall", "--stale", "--nss", "--system", "--root-dir", str(image), "--dry-run")
    assert hash_tree(tmp_path) == tree
    out = cli.ok("trust", "uninstall", "--stale", "--nss", "--system", "--root-dir", str(image)).stdout
    assert f"system: removed {image}/usr/local/share/ca-certificates/certtui-{first_fp[:16]}.crt" in out
    assert nss_nicknames(nssdb) == []
    assert cli.json("trust", "status", "--json", "--root-dir", str(image))["stale"] == []
    assert cli.ok("trust", "uninstall", "--stale", "--nss").stdout == "nss: no stale root found\n"


def test_status_flags_an_earlier_root_of_this_store(
    make_store: MakeStore, cli: Cli, tmp_path: Path, user_home: Path
) -> None:
    """An intermediate installed as the CA, the root checked: the intermediate is flagged as this store's."""
    store = make_store(intermediate=True)
    inter = store.default_issuer_id() or ""
    image = tmp_path / "image"
    make_tree(image, "fedora")
    cli.ok("trust", "install", "--system", "--root-dir", str(image), "--ca", inter)
    status = cli.json("trust", "status", "--json", "--root-dir", str(image))
    assert [(s["store_id"], s["what"]) for s in status["stale"]] == [
        (inter, f"another CA of this store (id {inter})")
    ]
    text = cli.ok("trust", "status", "--root-dir", str(image)).stdout
    assert "note: remove the stale certtui roots with: certtui trust uninstall --stale" in text
    out = cli.ok("trust", "uninstall", "--stale", "--system", "--root-dir", str(image)).stdout
    assert out.splitlines()[0].startswith(f"system: removed {image}/etc/pki/ca-trust/source/anchors/certtui-")
    assert cli.json("trust", "status", "--json", "--root-dir", str(image))["stale"] == []


@pytest.mark.skipif(
    shutil.which("update-ca-certificates") is None, reason="needs a Debian-family system store"
)
def test_dry_run_on_the_real_system_store_changes_nothing(
    make_store: MakeStore, cli: Cli, user_home: Path
) -> None:
    """No root needed for a dry run, and the real anchors folder and bundle stay byte for byte."""
    store = make_store()
    fp = root_fp(store)
    anchors = Path("/usr/local/share/ca-certificates")
    bundle = Path("/etc/ssl/certs/ca-certificates.crt")
    before = (hash_tree(anchors), sha256_file(bundle))
    out = cli.ok("trust", "install", "--system", "--dry-run").stdout
    assert out.splitlines()[:2] == [
        f"system: would write {anchors}/certtui-{fp[:16]}.crt",
        "system: would run update-ca-certificates (Debian/Ubuntu/Alpine)",
    ]
    assert cli.ok("trust", "uninstall", "--system", "--dry-run").stdout.startswith("system: not installed:")
    assert (hash_tree(anchors), sha256_file(bundle)) == before


@needs_certutil
def test_all_is_every_place(
    make_store: MakeStore, cli: Cli, tmp_path: Path, user_home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("JAVA_HOME", raising=False)
    store = make_store()
    fp = root_fp(store)
    root = tmp_path / "image"
    make_tree(root, "arch")
    nssdb = user_home / ".pki/nssdb"
    nssdb.mkdir(parents=True)
    certutil("-N", "-d", f"sql:{nssdb}", "--empty-password")
    out = cli.ok("trust", "install", "--all", "--root-dir", str(root)).stdout
    targets = [line.split(":", 1)[0] for line in out.splitlines() if not line.startswith("note:")]
    assert targets == ["system", "system", "firefox-policy", "firefox-policy", "nss"]
    assert (root / f"etc/ca-certificates/trust-source/anchors/certtui-{fp[:16]}.crt").exists()
    assert (root / "etc/firefox/policies/policies.json").exists()
    cli.ok("trust", "uninstall", "--all", "--root-dir", str(root))
    assert [p for p in root.rglob("*") if p.is_file() and "certtui" in p.name] == []
    assert nss_nicknames(nssdb) == []


@needs_certutil
def test_root_leaves_a_database_another_user_owns(make_store: MakeStore, cli: Cli, user_home: Path) -> None:
    """sudo with the user's $HOME: root must not write into (and take over) the user's database."""
    if os.geteuid() != 0:
        pytest.skip("needs root to hand the database to another user")
    store = make_store()
    nobody = pwd.getpwnam("nobody")
    nssdb = user_home / ".pki/nssdb"
    nssdb.mkdir(parents=True)
    certutil("-N", "-d", f"sql:{nssdb}", "--empty-password")
    for path in (nssdb, *nssdb.iterdir()):
        os.chown(path, nobody.pw_uid, nobody.pw_gid)
    tree = hash_tree(nssdb)
    out = cli.ok("trust", "install", "--nss").stdout
    assert out.startswith(f"nss: skipped {nssdb} (Chromium/Chrome): owned by uid {nobody.pw_uid}; ")
    assert hash_tree(nssdb) == tree
    assert f"certtui Test Root CA {root_fp(store)[:16]}" not in nss_nicknames(nssdb)


def test_the_journey_loads_no_front_end() -> None:
    """certtui.journeys.trust is shared by the CLI and the TUI: it never pulls in click or Textual."""
    probe = "import sys, certtui.journeys.trust; print(sorted({m.split('.')[0] for m in sys.modules}))"
    done = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, timeout=TOOL_TIMEOUT_S, check=True
    )
    loaded = json.loads(done.stdout.replace("'", '"'))
    assert "certtui" in loaded
    assert not {"click", "textual", "rich", "aiohttp"} & set(loaded)


def test_an_encrypted_store_needs_no_passphrase_to_trust_its_root(
    make_store: MakeStore, cli: Cli, tmp_path: Path, user_home: Path
) -> None:
    """Only the root's public certificate is used: no passphrase is asked (stdin is no terminal)."""
    store = make_store(passphrase="a long store passphrase")
    root = tmp_path / "image"
    make_tree(root, "opensuse")
    out = cli.ok("trust", "install", "--system", "--root-dir", str(root)).stdout
    assert f"certtui-{root_fp(store)[:16]}.crt" in out


@needs_certutil
def test_the_root_trusted_by_the_user_under_their_own_name_is_left_to_them(
    make_store: MakeStore, cli: Cli, tmp_path: Path, user_home: Path
) -> None:
    """Already trusted (by fingerprint) is not installed again; uninstall takes only certtui's entry."""
    store = make_store()
    nssdb = user_home / ".pki/nssdb"
    nssdb.mkdir(parents=True)
    certutil("-N", "-d", f"sql:{nssdb}", "--empty-password")
    own = tmp_path / "root.pem"
    own.write_bytes(pem(store, store.root_id() or ""))
    certutil("-A", "-d", f"sql:{nssdb}", "-n", "my home root", "-t", "C,,", "-a", "-i", str(own))
    assert cli.ok("trust", "install", "--nss").stdout.startswith(f"nss: already trusted: sql:{nssdb} ")
    assert cli.ok("trust", "uninstall", "--nss").stdout.startswith(f"nss: not installed: sql:{nssdb} ")
    assert nss_nicknames(nssdb) == ["my home root"]


def test_the_system_lock_is_held_while_the_store_changes(tmp_path: Path) -> None:
    """A second certtui (another process) cannot take the system-store lock while one holds it."""
    from certtui.journeys.trust import system_lock

    lock = tmp_path / "trust.lock"
    probe = (
        "import fcntl, os, sys\n"
        "fd = os.open(sys.argv[1], os.O_RDWR)\n"
        "try:\n    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)\n"
        "except BlockingIOError:\n    print('held')\n"
        "else:\n    print('free')\n"
    )

    def other() -> str:
        done = subprocess.run(
            [sys.executable, "-c", probe, str(lock)], capture_output=True, text=True, timeout=TOOL_TIMEOUT_S
        )
        return done.stdout.strip()

    with system_lock(lock):
        assert other() == "held"
    assert other() == "free"
    assert oct(lock.stat().st_mode & 0o777) == "0o600"
