"""Settings of the audits service: environment variables prefixed QAF_AUDITS_."""

from typing import Literal

from pydantic import Field
from pydantic_settings import SettingsConfigDict

from qaf_shared.settings import ServiceSettings


class AuditsSettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="QAF_AUDITS_", extra="ignore", env_nested_delimiter="__")

    service_name: str = "audits"
    http_port: int = 8002
    moderation_share: float = Field(
        default=0.10, ge=0.0, le=1.0, description="Share of completed audits sampled for a second grading."
    )
    moderation_seed: str = Field(
        default="qaf-moderation", description="Seed of the deterministic moderation sample."
    )
    clock: Literal["event", "wall"] = Field(
        default="event",
        description=(
            "What 'today' is for the background overdue sweep: `event` = the latest event time this service "
            "has consumed (a replay or a simulated year gives the same flags), `wall` = the calendar."
        ),
    )
    overdue_sweep_interval_s: float = Field(default=10.0, gt=0, description="Pause between background sweeps.")
