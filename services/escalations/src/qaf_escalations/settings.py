"""Settings of the escalations service: environment variables prefixed QAF_ESCALATIONS_."""

from pydantic_settings import SettingsConfigDict

from qaf_shared.settings import ServiceSettings


class EscalationsSettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="QAF_ESCALATIONS_", extra="ignore", env_nested_delimiter="__")

    service_name: str = "escalations"
    http_port: int = 8003
