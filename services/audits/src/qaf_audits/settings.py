"""Settings of the audits service: environment variables prefixed QAF_AUDITS_."""

from pydantic_settings import SettingsConfigDict

from qaf_shared.settings import ServiceSettings


class AuditsSettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="QAF_AUDITS_", extra="ignore", env_nested_delimiter="__")

    service_name: str = "audits"
    http_port: int = 8002
