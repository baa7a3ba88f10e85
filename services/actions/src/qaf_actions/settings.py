"""Settings of the actions service: environment variables prefixed QAF_ACTIONS_."""

from pydantic_settings import SettingsConfigDict

from qaf_shared.settings import ServiceSettings


class ActionsSettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="QAF_ACTIONS_", extra="ignore", env_nested_delimiter="__")

    service_name: str = "actions"
    http_port: int = 8005
