"""Shared fixtures: an isolated store folder, a passphrase file, stores, and the two CLI runners."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from datetime import datetime
from pathlib import Path

import pytest
from support.cli import Cli, Proc
from support.store import PASSPHRASE

from certtui.core.issuance import init_store
from certtui.core.models import InitRequest, KeySpec
from certtui.core.store import Store
from certtui.paths import db_path


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The store folder, `tmp_path / "home"`, as $CERTTUI_HOME; no passphrase file is set.

    A subfolder rather than `tmp_path` itself, so that store creation makes (and chmods) the
    folder, and test files beside it (passphrase, exports, backups) stay out of the store.
    """
    path = tmp_path / "home"
    monkeypatch.setenv("CERTTUI_HOME", str(path))
    monkeypatch.delenv("CERTTUI_PASSPHRASE_FILE", raising=False)
    return path


@pytest.fixture
def passphrase_file(home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A file holding support.store.PASSPHRASE on its first line, named by $CERTTUI_PASSPHRASE_FILE (0600:
    certtui refuses a passphrase file that others can read)."""
    path = tmp_path / "passphrase"
    path.write_text(PASSPHRASE + "\n", encoding="utf-8")
    path.chmod(0o600)
    monkeypatch.setenv("CERTTUI_PASSPHRASE_FILE", str(path))
    return path


@pytest.fixture
def make_store(home: Path) -> Iterator[Callable[..., Store]]:
    """Create a store through the core (faster than the CLI); every store is closed afterwards."""
    opened: list[Store] = []

    def make(
        *,
        name: str = "Test Root CA",
        key: KeySpec = KeySpec.EC256,
        days: int | None = None,
        permit: Sequence[str] = (),
        intermediate: bool = False,
        passphrase: str | None = None,
        where: Path | None = None,
        now: datetime | None = None,
    ) -> Store:
        req = InitRequest(name=name, key=key, days=days, permit=tuple(permit), intermediate=intermediate)
        store, _ = init_store(db_path(where or home), req, passphrase, now=now)
        opened.append(store)
        return store

    yield make
    for store in opened:
        store.close()


@pytest.fixture
def cli(home: Path) -> Cli:
    """`cli("list", "--json")`, `cli.ok(...)`, `cli.json(...)`, `cli.error(...)` in this process."""
    return Cli()


@pytest.fixture
def proc(home: Path) -> Proc:
    """`proc("list")` runs the real `python -m certtui list` (stdin is not a terminal)."""
    return Proc()
