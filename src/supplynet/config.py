"""Settings (pydantic-settings, ``SUPPLYNET_`` prefix). Nothing is built at import time:
call :func:`Settings` (or ``Settings(**overrides)``) where the settings are needed."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from .errors import ConfigError

__all__ = ["Settings", "DEFAULT_HOME"]

DEFAULT_HOME = Path(".supplynet")


class Settings(BaseSettings):
    """Where the store lives, which network is loaded, and service options."""

    model_config = SettingsConfigDict(env_prefix="SUPPLYNET_", extra="ignore")

    environment: str = Field("development", description="development | production")
    home: Path = Field(DEFAULT_HOME, description="folder for the embedded store and reports")
    store_url: str | None = Field(None, description="sqlite:///path or postgresql://...; default: SQLite in home")
    network: Path | None = Field(None, description="network YAML file")
    data_dir: Path = Field(Path("../shared/data"), description="folder of public datasets (optional)")
    mqtt_host: str = "127.0.0.1"
    mqtt_port: int = 1883
    api_host: str = "127.0.0.1"
    api_port: int = 8000
    secret_key: str = Field("dev-insecure-secret", description="signs operator tokens; change in production")

    @field_validator("environment")
    @classmethod
    def _env(cls, v: str) -> str:
        if v not in {"development", "production", "test"}:
            raise ConfigError("must be development, production or test")
        return v

    def resolved_store_url(self) -> str:
        return self.store_url or f"sqlite:///{self.home / 'supplynet.db'}"

    def check_production(self) -> None:
        """Refuse default secrets outside development."""
        if self.environment == "production" and self.secret_key == "dev-insecure-secret":
            raise ConfigError("SUPPLYNET_SECRET_KEY must be set in production (the default is public)")


def vault_key_text(*, create: bool = False, home: str | Path | None = None) -> tuple[str, str]:
    """The vault key's text and where it came from (see :mod:`supplynet.security.vault`):
    ``SUPPLYNET_VAULT_KEY``, else the file ``SUPPLYNET_VAULT_KEY_FILE``, else ``vault.key`` in ``home``
    (default: the settings' home folder). ``create``: make the home folder's key file (mode 600) when
    there is none yet. Raises :class:`~supplynet.errors.SecurityError` when there is no key."""
    import base64
    import os

    from .errors import SecurityError

    env = os.environ.get("SUPPLYNET_VAULT_KEY")
    if env:
        return env, "SUPPLYNET_VAULT_KEY"
    path_s = os.environ.get("SUPPLYNET_VAULT_KEY_FILE")
    if path_s:
        path = Path(path_s)
        source = f"SUPPLYNET_VAULT_KEY_FILE={path}"
    else:
        path = Path(home if home is not None else Settings().home) / "vault.key"
        source = str(path)
    if not path.exists():
        if not create or path_s:
            raise SecurityError(f"no vault key: {source} does not exist (set SUPPLYNET_VAULT_KEY or "
                                f"SUPPLYNET_VAULT_KEY_FILE to the key that sealed the symmetric devices' secrets "
                                f"and keys the audit chain)")
        path.parent.mkdir(parents=True, exist_ok=True)
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:  # another process made it meanwhile: use theirs
            pass
        else:
            with os.fdopen(fd, "w") as f:
                f.write(base64.urlsafe_b64encode(os.urandom(32)).rstrip(b"=").decode("ascii") + "\n")
    try:
        return path.read_text(), source
    except OSError as exc:
        raise SecurityError(f"cannot read the vault key {source}: {exc.strerror}") from exc
