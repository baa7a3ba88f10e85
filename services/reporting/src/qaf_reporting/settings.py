"""Settings of the reporting service: environment variables prefixed QAF_REPORTING_."""

from pydantic_settings import SettingsConfigDict

from qaf_shared.settings import ServiceSettings


class ReportingSettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="QAF_REPORTING_", extra="ignore", env_nested_delimiter="__")

    service_name: str = "reporting"
    http_port: int = 8004
