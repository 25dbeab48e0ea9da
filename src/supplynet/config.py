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
            raise ValueError("must be development, production or test")
        return v

    def resolved_store_url(self) -> str:
        return self.store_url or f"sqlite:///{self.home / 'supplynet.db'}"

    def check_production(self) -> None:
        """Refuse default secrets outside development."""
        if self.environment == "production" and self.secret_key == "dev-insecure-secret":
            raise ConfigError("SUPPLYNET_SECRET_KEY must be set in production (the default is public)")
