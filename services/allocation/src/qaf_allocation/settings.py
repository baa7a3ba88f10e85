"""Settings of the allocation service: environment variables prefixed QAF_ALLOCATION_."""

from pydantic_settings import SettingsConfigDict

from qaf_shared.settings import ServiceSettings


class AllocationSettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="QAF_ALLOCATION_", extra="ignore", env_nested_delimiter="__")

    service_name: str = "allocation"
    http_port: int = 8001
