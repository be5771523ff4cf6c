"""A JDK keystore (`trust install --java`): keytool, by alias and fingerprint."""

from __future__ import annotations

import shutil
from pathlib import Path

from certtui.core import trustplaces as tp
from certtui.errors import CerttuiError
from certtui.journeys.trust.model import Target, TrustCA, TrustRequest
from certtui.journeys.trust.tools import Doer, root_of, run_tool

# The password every JDK ships its cacerts with; keytool needs one to read or change it.
JAVA_STOREPASS = "changeit"


# Debian's ca-certificates-java rebuilds this keystore from the system store on every
# update-ca-certificates; each JDK's lib/security/cacerts links to it.
DEBIAN_JAVA_CACERTS = "etc/ssl/certs/java/cacerts"


def find_keytool(java_home: Path | None) -> str:
    if java_home is not None and (java_home / "bin" / "keytool").is_file():
        return str(java_home / "bin" / "keytool")
    found = shutil.which("keytool")
    if found is None:
        raise CerttuiError("keytool is not installed; set JAVA_HOME to a JDK or install one")
    return found


def java_keystore(req: TrustRequest) -> Path:
    if req.keystore is not None:
        return req.keystore
    if req.java_home is not None:
        for rel in ("lib/security/cacerts", "jre/lib/security/cacerts"):
            if (req.java_home / rel).exists():
                return req.java_home / rel
        raise CerttuiError(
            f"no lib/security/cacerts under JAVA_HOME={req.java_home}; give the keystore with --keystore PATH"
        )
    raise CerttuiError(
        "--java needs $JAVA_HOME or --keystore PATH; a distribution's JDK is covered by --system where "
        "its cacerts links to the system store (Debian's ca-certificates-java)"
    )


def java_entries(keytool: str, keystore: Path) -> list[tuple[str, str]]:
    return tp.parse_keytool_list(
        run_tool([keytool, "-list", "-keystore", str(keystore), "-storepass", JAVA_STOREPASS])
    )


def rebuilt_from_system(req: TrustRequest, keystore: Path) -> bool:
    """Whether `keystore` is the one ca-certificates-java rebuilds from the system store."""
    managed = root_of(req) / DEBIAN_JAVA_CACERTS
    return managed.exists() and keystore.resolve() == managed.resolve()


def step(req: TrustRequest, ca: TrustCA, doer: Doer) -> None:
    keystore = java_keystore(req)
    if not keystore.is_file():
        raise CerttuiError(
            f"the keystore {keystore} does not exist; give an existing cacerts with --keystore"
        )
    if rebuilt_from_system(req, keystore):
        doer.say(
            Target.JAVA,
            "skipped",
            f"{keystore}: ca-certificates-java rebuilds it from the system store, which --system covers",
        )
        return
    keytool = find_keytool(req.java_home)
    entries = java_entries(keytool, keystore)
    base = [keytool, "-keystore", str(keystore), "-storepass", JAVA_STOREPASS]
    if req.install:
        if any(fp == ca.sha256 for _a, fp in entries):
            doer.say(Target.JAVA, "already trusted:", str(keystore))
            return
        argv = [keytool, "-importcert", "-noprompt", *base[1:], "-alias", tp.java_alias(ca.sha256)]
        doer.run(Target.JAVA, argv, stdin=ca.pem, what=f"keystore {keystore} changed")
    else:
        mine = [a for a, fp in entries if fp == ca.sha256 and a.startswith(f"{tp.NAME_PREFIX}-")]
        if not mine:
            doer.say(Target.JAVA, "not installed:", str(keystore))
        for alias in mine:
            doer.run(
                Target.JAVA,
                [keytool, "-delete", *base[1:], "-alias", alias],
                what=f"keystore {keystore} changed",
            )
