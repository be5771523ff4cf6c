"""Figure 1's contenders: certtui, mkcert, easy-rsa, openssl and the bare-cryptography floor."""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from pathlib import Path

# Debian's easy-rsa package installs the script here, outside $PATH.
EASYRSA = "/usr/share/easy-rsa/easyrsa"
# Every peer issues a server certificate valid this long: certtui's default.
DAYS = "397"
INSTALL = {
    "mkcert": "sudo apt-get install -y mkcert",
    "easy-rsa": "sudo apt-get install -y easy-rsa",
    "openssl": "sudo apt-get install -y openssl",
}


@dataclass
class Contender:
    """One way to issue a server certificate as a whole process; `argv(n)` names the nth."""

    label: str
    argv: Callable[[int], list[str]]
    env: dict[str, str]
    cwd: Path


def _run(argv: list[str], env: dict[str, str], cwd: Path) -> None:
    done = subprocess.run(argv, env=env, cwd=cwd, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"set-up failed: {' '.join(argv)}\n{done.stdout}{done.stderr}")


def available(peer: str) -> bool:
    if peer == "easy-rsa":
        return Path(EASYRSA).exists() and shutil.which("openssl") is not None
    return shutil.which(peer) is not None


def certtui(python: Path, work: Path, env: dict[str, str]) -> list[Contender]:
    """`certtui issue` in two `--no-passphrase` stores: an EC P-256 root and an RSA 2048 root."""
    certtui = str(python.with_name("certtui"))
    out = []
    for label, key in (("EC P-256", "ec256"), ("RSA 2048", "rsa2048")):
        home = work / f"certtui-{key}"
        _run(
            [
                certtui,
                "--home",
                str(home),
                "init",
                "--name",
                f"Bench {label} Root",
                "--key",
                key,
                "--no-passphrase",
            ],
            env,
            work,
        )
        out.append(
            Contender(
                f"certtui issue, {label}",
                partial(_certtui_issue, [certtui, "--home", str(home)], key),
                env,
                work,
            )
        )
    return out


def _certtui_issue(base: list[str], key: str, n: int) -> list[str]:
    return [*base, "issue", "--key", key, f"c{n}.{key}.home.arpa"]


def floor(python: Path, work: Path, env: dict[str, str], bench: Path) -> Contender:
    """A bare Python script: cryptography signs one P-256 certificate with an EC CA from files."""
    ca = work / "floor"
    ca.mkdir()
    _run(
        [
            "openssl",
            "req",
            "-x509",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:P-256",
            "-nodes",
            "-keyout",
            str(ca / "ca.key"),
            "-out",
            str(ca / "ca.pem"),
            "-subj",
            "/CN=Floor CA",
            "-days",
            "3650",
        ],
        env,
        work,
    )
    script = str(bench / "floor.py")
    return Contender(
        "floor: Python + cryptography, one P-256 certificate",
        lambda n: [str(python), script, str(ca / "ca.pem"), str(ca / "ca.key"), str(ca), f"f{n}.home.arpa"],
        env,
        work,
    )


def mkcert(work: Path, env: dict[str, str]) -> list[Contender]:
    """mkcert with its own CA (RSA 3072, made once here, never installed anywhere)."""
    caroot = work / "mkcert"
    caroot.mkdir()
    menv = {**env, "CAROOT": str(caroot)}
    _run(
        [
            "mkcert",
            "-cert-file",
            str(caroot / "warm.pem"),
            "-key-file",
            str(caroot / "warm-key.pem"),
            "warm.home.arpa",
        ],
        menv,
        caroot,
    )

    def argv(flags: list[str], tag: str) -> Callable[[int], list[str]]:
        return lambda n: [
            "mkcert",
            *flags,
            "-cert-file",
            str(caroot / f"{tag}{n}.pem"),
            "-key-file",
            str(caroot / f"{tag}{n}-key.pem"),
            f"{tag}{n}.home.arpa",
        ]

    return [
        Contender("mkcert -ecdsa", argv(["-ecdsa"], "e"), menv, caroot),
        Contender("mkcert (RSA 2048, its default)", argv([], "r"), menv, caroot),
    ]


def easyrsa(work: Path, env: dict[str, str]) -> list[Contender]:
    """easy-rsa `build-server-full NAME nopass` in two PKIs: an EC P-256 CA and an RSA 2048 CA."""
    out = []
    for label, tag, algo in (
        ("EC P-256", "ec", ["--use-algo=ec", "--curve=prime256v1"]),
        ("RSA 2048", "rsa", ["--use-algo=rsa", "--keysize=2048"]),
    ):
        pki = work / f"easyrsa-{tag}"
        base = [EASYRSA, "--batch", f"--pki-dir={pki}", *algo, f"--days={DAYS}"]
        _run([*base, "init-pki"], env, work)
        _run([*base, f"--req-cn=Bench easy-rsa {label} CA", "build-ca", "nopass"], env, work)
        out.append(Contender(f"easy-rsa build-server-full, {label}", partial(_server_full, base), env, work))
    return out


def _server_full(base: list[str], n: int) -> list[str]:
    return [*base, "build-server-full", f"s{n}.home.arpa", "nopass"]


def openssl(work: Path, env: dict[str, str]) -> list[Contender]:
    """`openssl req -x509 -CA ...`: a new key and a CA-signed certificate in one command."""
    out = []
    for label, tag, newkey in (
        ("EC P-256", "ec", ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256"]),
        ("RSA 2048", "rsa", ["-newkey", "rsa:2048"]),
    ):
        folder = work / f"openssl-{tag}"
        folder.mkdir()
        _run(
            [
                "openssl",
                "req",
                "-x509",
                *newkey,
                "-nodes",
                "-keyout",
                str(folder / "ca.key"),
                "-out",
                str(folder / "ca.pem"),
                "-subj",
                f"/CN=Bench openssl {label} CA",
                "-days",
                "3650",
            ],
            env,
            folder,
        )

        def argv(n: int, folder: Path = folder, newkey: list[str] = newkey) -> list[str]:
            name = f"o{n}.home.arpa"
            return [
                "openssl",
                "req",
                "-x509",
                "-CA",
                str(folder / "ca.pem"),
                "-CAkey",
                str(folder / "ca.key"),
                *newkey,
                "-nodes",
                "-keyout",
                str(folder / f"{n}.key"),
                "-out",
                str(folder / f"{n}.pem"),
                "-subj",
                f"/CN={name}",
                "-addext",
                f"subjectAltName=DNS:{name}",
                "-days",
                DAYS,
            ]

        out.append(Contender(f"openssl req -x509 -CA, {label}", argv, env, folder))
    return out
