"""The palette's tools: every CLI capability a dialog away, through the CLI's own core calls."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from textual.app import SystemCommand

from certtui.tui import tools
from certtui.tui.screens.ask import AskScreen, Field, ResultScreen
from certtui.tui.wording import humane

if TYPE_CHECKING:
    from certtui.tui.app import CerttuiApp

T = TypeVar("T")


def _runner(
    app: CerttuiApp,
    title: str,
    work: Callable[[dict[str, str]], T],
    *,
    unlock: bool = False,
    write: bool = False,
    show: Callable[[T], ResultScreen] | None = None,
) -> Callable[[dict[str, str], AskScreen], None]:
    """Run `work(values)` in a worker; success closes the form and shows the result."""

    def run(values: dict[str, str], form: AskScreen) -> None:
        def done(result: T) -> None:
            form.dismiss(None)
            app.push_screen(show(result) if show else ResultScreen(title, str(result)))

        def job() -> None:
            app.jobs.run_job(
                lambda: work(values),
                done,
                description=title,
                write=write,
                failed=lambda exc: form.failed(f"Not done: {humane(str(exc))}"),
            )

        if unlock:
            app.jobs.require_unlock(job, cancelled=lambda: form.failed("Not done: the store stayed locked."))
        else:
            job()

    return run


def _path(values: dict[str, str], key: str) -> Path:
    from certtui.errors import CerttuiError

    text = values.get(key, "")
    if not text:
        raise CerttuiError("type a path")
    return Path(text).expanduser()


def open_backup(app: CerttuiApp) -> None:
    store = app.store
    assert store is not None
    default = str(app.start_dir / "certtui-backup.db")
    app.push_screen(
        AskScreen(
            "Back up the store",
            "A copy of the whole store (SQLite online backup, mode 0600); it opens with the same passphrase.",
            [Field("path", "Backup file", default)],
            _runner(app, "Backup", lambda v: tools.backup(store, _path(v, "path"))),
            dialog_id="backup-dialog",
        )
    )


def open_passwd(app: CerttuiApp) -> None:
    from certtui.errors import CerttuiError

    store = app.store
    assert store is not None

    def work(values: dict[str, str]) -> str:
        new, again = values["new"], values["again"]
        if not new:
            raise CerttuiError("type the new passphrase")
        if new != again:
            raise CerttuiError("the two passphrases differ; type them again")
        return tools.change_passphrase(store, new)

    app.push_screen(
        AskScreen(
            "Change the passphrase",
            "Every key is re-sealed under the new passphrase in one transaction.",
            [Field("new", "New passphrase", password=True), Field("again", "The same again", password=True)],
            _runner(app, "Passphrase", work, unlock=store.encrypted, write=True),
            dialog_id="passwd-dialog",
        )
    )


def open_import(app: CerttuiApp) -> None:
    store = app.store
    assert store is not None

    def work(values: dict[str, str]) -> str:
        paths = [Path(p).expanduser() for p in values["paths"].split()]
        return tools.import_files(store, paths)

    def done(result: str) -> ResultScreen:
        app.action_reload()
        return ResultScreen("Import", str(result))

    app.push_screen(
        AskScreen(
            "Import certificates to watch",
            "PEM, DER or a PEM bundle; no key is imported, and the list marks them *.",
            [Field("paths", "Files (space-separated)", placeholder="/etc/ssl/router.pem")],
            _runner(app, "Import", work, write=True, show=done),
            dialog_id="import-dialog",
        )
    )


def open_crl(app: CerttuiApp) -> None:
    store = app.store
    assert store is not None
    cas = [(r.subject or r.id, r.id) for r in store.records() if r.kind.is_ca and r.has_key]
    if not cas:
        app.notify("No CA with its key in this store can sign a CRL.", severity="warning")
        return
    default = store.default_issuer_id() or cas[0][1]
    app.push_screen(
        AskScreen(
            "Sign a CRL now",
            tools.crl_status(store, app.clock()),
            [Field("ca", "CA", default, options=tuple(cas))],
            _runner(
                app, "CRL", lambda v: tools.sign_crl(store, v["ca"], app.clock()), unlock=True, write=True
            ),
            dialog_id="crl-dialog",
        )
    )


def show_crl_status(app: CerttuiApp) -> None:
    store = app.store
    assert store is not None

    def show(text: str) -> None:
        app.push_screen(ResultScreen("CRL status", text))

    app.jobs.run_job(lambda: tools.crl_status(store, app.clock()), show, description="Reading the CRLs")


def open_check_server(app: CerttuiApp) -> None:
    store = app.store

    def show(result: tools.LiveCheck) -> ResultScreen:
        return ResultScreen(f"Served by {result.target}", result.subject, result.findings)

    app.push_screen(
        AskScreen(
            "Check a live server",
            "Connects, reads the chain the server sends and judges it as an iPhone would.",
            [
                Field("target", "Host and port", placeholder="nas.home.arpa:443"),
                Field(
                    "starttls",
                    "STARTTLS",
                    "none",
                    options=(
                        ("none (TLS from the start)", "none"),
                        ("SMTP", "smtp"),
                        ("IMAP", "imap"),
                        ("POP3", "pop3"),
                    ),
                ),
            ],
            _runner(
                app,
                "Live check",
                lambda v: tools.check_server(
                    store, v["target"], None if v["starttls"] == "none" else v["starttls"], app.clock()
                ),
                show=show,
            ),
            dialog_id="connect-dialog",
        )
    )


def open_import_ca(app: CerttuiApp) -> None:
    store = app.store
    assert store is not None

    def work(values: dict[str, str]) -> str:
        return tools.import_ca(store, _path(values, "cert"), _path(values, "key"), values["key_password"])

    def done(result: str) -> ResultScreen:
        app.action_reload()
        return ResultScreen("Import a CA", str(result))

    app.push_screen(
        AskScreen(
            "Import an existing CA",
            "An intermediate of this store's root, with its key (mkcert: rootCA.pem and rootCA-key.pem; "
            "easy-rsa: pki/ca.crt and pki/private/ca.key).",
            [
                Field("cert", "CA certificate file"),
                Field("key", "Its private key file"),
                Field("key_password", "Key file passphrase (if it has one)", password=True),
            ],
            _runner(app, "Import a CA", work, unlock=True, write=True, show=done),
            dialog_id="import-ca-dialog",
        )
    )


def open_sign_csr(app: CerttuiApp) -> None:
    store = app.store
    assert store is not None

    def work(values: dict[str, str]) -> str:
        return tools.sign_csr(
            store,
            _path(values, "csr"),
            values["kind"] == "client",
            _path(values, "out"),
            values["force"] == "yes",
        )

    def done(result: str) -> ResultScreen:
        app.action_reload()
        return ResultScreen("Sign a request", str(result))

    app.push_screen(
        AskScreen(
            "Sign a certificate request (CSR)",
            "The names come from the CSR; its key stays on the device. "
            "The iOS checklist guards it as for issue.",
            [
                Field("csr", "CSR file", placeholder="router.csr"),
                Field("kind", "Kind", "server", options=(("server", "server"), ("client", "client"))),
                Field("out", "Write the certificate into", str(app.start_dir)),
                Field(
                    "force",
                    "If the checklist fails",
                    "no",
                    options=(("refuse", "no"), ("sign anyway", "yes")),
                ),
            ],
            _runner(app, "Sign", work, unlock=True, write=True, show=done),
            dialog_id="sign-dialog",
        )
    )


def open_import_root(app: CerttuiApp, created: Callable[[Any], None]) -> None:
    """The setup wizard's "I already have a CA": the store is made around that root."""
    from certtui.errors import CerttuiError

    def work(values: dict[str, str]) -> Any:
        new, again = values["passphrase"], values["again"]
        if new != again:
            raise CerttuiError("the two store passphrases differ; type them again")
        return tools.import_root(
            app.db_path, _path(values, "cert"), _path(values, "key"), values["key_password"], new or None
        )

    def run(values: dict[str, str], form: AskScreen) -> None:
        def done(result: Any) -> None:
            form.dismiss(None)
            created(result)

        app.jobs.run_job(
            lambda: work(values),
            done,
            description="Importing the root CA",
            write=True,
            failed=lambda exc: form.failed(f"Not imported: {humane(str(exc))}"),
        )

    app.push_screen(
        AskScreen(
            "Use an existing root CA",
            "mkcert: $(mkcert -CAROOT)/rootCA.pem and rootCA-key.pem. "
            "easy-rsa: pki/ca.crt and pki/private/ca.key.",
            [
                Field("cert", "Root certificate file"),
                Field("key", "Its private key file"),
                Field("key_password", "Key file passphrase (if it has one)", password=True),
                Field("passphrase", "New store passphrase (empty: none)", password=True),
                Field("again", "The same again", password=True),
            ],
            run,
            dialog_id="import-root-dialog",
        )
    )


def tool_commands(app: CerttuiApp) -> Iterable[SystemCommand]:
    """The palette rows for what the CLI can do beyond the list's keys."""
    if app.store is None:
        return
    yield SystemCommand(
        "store: backup", "Copy the store to a file (certtui backup)", lambda: open_backup(app)
    )
    yield SystemCommand(
        "store: change passphrase",
        "Re-seal every key under a new passphrase (certtui passwd)",
        lambda: open_passwd(app),
    )
    yield SystemCommand(
        "import: certificate files",
        "Watch certificates from elsewhere (certtui import)",
        lambda: open_import(app),
    )
    yield SystemCommand(
        "import: existing CA",
        "An intermediate with its key, from mkcert or easy-rsa (certtui import-ca)",
        lambda: open_import_ca(app),
    )
    yield SystemCommand(
        "cert: sign a CSR",
        "A device's request, its key stays there (certtui sign)",
        lambda: open_sign_csr(app),
    )
    yield SystemCommand("crl: sign now", "Sign a fresh CRL for a CA (certtui crl)", lambda: open_crl(app))
    yield SystemCommand(
        "crl: status", "Each CA's latest CRL and its next update", lambda: show_crl_status(app)
    )
    yield SystemCommand(
        "check: live server",
        "host:port, STARTTLS too (certtui check --connect)",
        lambda: open_check_server(app),
    )


def app_commands(app: CerttuiApp) -> Iterable[SystemCommand]:
    """The app's own palette rows: help, and with a store, reload, unlock, trust and ACME."""
    from certtui.tui.keymap import key_label

    yield SystemCommand("view: help", "Every key, and a short guide", app.action_help)
    if app.store is None:
        return
    yield SystemCommand("view: reload", "Read the store again", app.action_reload)
    yield SystemCommand("store: unlock", "Enter the passphrase now", app.action_unlock)
    yield SystemCommand("store: trust on this machine", "Where the root is trusted here", app.action_trust)
    yield SystemCommand(
        "acme: accounts and orders" + key_label(app, app.remapped_key, app.BINDINGS, "acme.open"),
        "Accounts, live orders, approvals",
        app.action_acme,
    )
