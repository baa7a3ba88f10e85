"""Settings of the reporting service: environment variables prefixed QAF_REPORTING_."""

from pydantic import Field
from pydantic_settings import SettingsConfigDict

from qaf_shared.settings import ServiceSettings


class ReportingSettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="QAF_REPORTING_", extra="ignore", env_nested_delimiter="__")

    service_name: str = "reporting"
    http_port: int = 8004
    flush_interval_ms: int = Field(
        default=100, gt=0, description="How often changed figures are published as theme-updated (coalescing), "
        "at the latest: this instance's consumer wakes the publisher as soon as it has applied a batch."
    )
    flush_min_gap_ms: int = Field(
        default=50, ge=0, description="Least time between two publications of changed figures when woken by the "
        "consumer: the events of that time are coalesced into one theme-updated per figure."
    )
    replay_batch_size: int = Field(default=20000, gt=0, description="Records per transaction in `replay`.")
