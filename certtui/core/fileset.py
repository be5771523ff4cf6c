"""Write several files as one: every new file is written aside first, then all are renamed in;
the previous files are kept until the caller says the new ones work, and can be put back."""

from __future__ import annotations

import os
import secrets
from dataclasses import dataclass, field
from pathlib import Path

from certtui.errors import CerttuiError


@dataclass(frozen=True)
class NewFile:
    """One file to write: where, what, its mode, and its owner (uid, gid; -1 keeps ours)."""

    path: Path
    data: bytes
    mode: int
    uid: int = -1
    gid: int = -1


@dataclass
class FileSet:
    """Staged files (`stage`), then swapped in (`swap`); `restore` puts the old ones back and
    `finish` drops them. Nothing is left half-written when a step fails."""

    files: list[NewFile]
    owner_label: str = ""
    _temps: dict[Path, Path] = field(default_factory=dict)
    _backups: dict[Path, Path | None] = field(default_factory=dict)

    def stage(self) -> None:
        """Write every file beside its target (temp, owner, mode, fsync); all or none."""
        try:
            for new in self.files:
                self._temps[new.path] = self._write_aside(new)
        except BaseException:
            self._drop_temps()
            raise

    def _write_aside(self, new: NewFile) -> Path:
        folder = new.path.parent
        if not folder.is_dir():
            raise CerttuiError(f"cannot write {new.path}: the folder {folder} does not exist; create it")
        if new.path.is_dir():
            raise CerttuiError(f"cannot write {new.path}: it is a folder; give a file path")
        tmp = folder / f".{new.path.name}.certtui-{secrets.token_hex(6)}.tmp"
        try:
            # Created owner-only: a key is never readable by others, even for a moment.
            fd = os.open(tmp, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600)
        except OSError as exc:
            raise CerttuiError(
                f"cannot write {new.path} ({exc.strerror}); check the folder's permissions"
            ) from None
        try:
            try:
                if new.uid != -1 or new.gid != -1:
                    os.fchown(fd, new.uid, new.gid)
            except PermissionError:
                raise CerttuiError(
                    f"cannot give {new.path} to {self.owner_label or 'that owner'}: changing a file's "
                    "owner needs root; run as root or drop --owner"
                ) from None
            os.fchmod(fd, new.mode)
            view = memoryview(new.data)
            while view:
                view = view[os.write(fd, view) :]
            os.fsync(fd)
        except OSError as exc:
            os.close(fd)
            os.unlink(tmp)
            raise CerttuiError(f"cannot write {new.path} ({exc.strerror}); check the disk") from None
        except BaseException:
            os.close(fd)
            os.unlink(tmp)
            raise
        os.close(fd)
        return tmp

    def _drop_temps(self) -> None:
        for tmp in self._temps.values():
            _unlink(tmp)
        self._temps.clear()

    def swap(self) -> None:
        """Rename every staged file into place, keeping the previous ones as hard links."""
        try:
            for new in self.files:
                backup: Path | None = None
                if new.path.exists():
                    backup = new.path.parent / f".{new.path.name}.certtui-old-{secrets.token_hex(6)}"
                    os.link(new.path, backup)
                self._backups[new.path] = backup
                os.replace(self._temps.pop(new.path), new.path)
        except OSError as exc:
            self.restore()
            self._drop_temps()
            raise CerttuiError(
                f"cannot put the new files in place ({exc.strerror}); the previous files are back"
            ) from None
        _sync_folders({n.path.parent for n in self.files})

    def restore(self) -> None:
        """Put the previous files back (and remove files that did not exist before)."""
        for path, backup in self._backups.items():
            if backup is None:
                _unlink(path)
            else:
                os.replace(backup, path)
        self._backups.clear()
        _sync_folders({n.path.parent for n in self.files})

    def finish(self) -> None:
        """The new files stay: drop the previous ones."""
        for backup in self._backups.values():
            if backup is not None:
                _unlink(backup)
        self._backups.clear()


def _unlink(path: Path) -> None:
    try:
        os.unlink(path)
    except FileNotFoundError:
        pass


def _sync_folders(folders: set[Path]) -> None:
    for folder in folders:
        try:
            fd = os.open(folder, os.O_RDONLY)
        except OSError:
            continue
        try:
            os.fsync(fd)
        except OSError:
            pass
        finally:
            os.close(fd)
