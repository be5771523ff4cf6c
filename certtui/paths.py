"""Where the store lives: the only caller of platformdirs; $CERTTUI_HOME or --home override it."""

import os
from pathlib import Path

DB_NAME = "certtui.db"


def store_dir(home: str | os.PathLike[str] | None = None) -> Path:
    """The store folder: --home, else $CERTTUI_HOME, else the platform's user data folder."""
    if home:
        return Path(home).expanduser()
    env = os.environ.get("CERTTUI_HOME")
    if env:
        return Path(env).expanduser()
    import platformdirs

    return platformdirs.user_data_path("certtui")


def config_path(home: str | os.PathLike[str] | None = None) -> Path:
    """The user's config file (key remaps): in --home or $CERTTUI_HOME if set, else the platform's."""
    chosen = home or os.environ.get("CERTTUI_HOME")
    if chosen:
        return Path(chosen).expanduser() / "config.toml"
    import platformdirs

    return platformdirs.user_config_path("certtui") / "config.toml"


def db_path(home: str | os.PathLike[str] | None = None) -> Path:
    """The SQLite database inside the store folder."""
    return store_dir(home) / DB_NAME
