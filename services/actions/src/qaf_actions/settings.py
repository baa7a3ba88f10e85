"""Settings of the actions service: environment variables prefixed QAF_ACTIONS_."""

from datetime import date
from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr
from pydantic_settings import SettingsConfigDict

from qaf_shared.settings import ServiceSettings


class ActionsSettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="QAF_ACTIONS_", extra="ignore", env_nested_delimiter="__")

    service_name: str = "actions"
    http_port: int = 8005

    plan_file: Path | None = Field(
        default=None, description="Action plan YAML loaded as version 1 on first start (default: the packaged Appendix 1)."
    )
    clock: Literal["wall", "event"] = Field(
        default="wall",
        description="What 'today' is for drift and the digest schedule: the wall clock, or event time (the "
        "latest occurred_at consumed, for a simulated year that runs months in minutes).",
    )

    # The monthly QA Board and its digest
    board_weekday: int = Field(default=3, ge=0, le=6, description="Board meets on this weekday (0=Monday).")
    board_week: int = Field(default=3, description="...of this week of the month (1-4, or -1 for the last).")
    board_dates: list[date] = Field(default_factory=list, description="Explicit Board dates (win for their month).")
    digest_working_days_before: int = Field(default=5, ge=0, le=20)
    digest_since: date | None = Field(
        default=None, description="Issue scheduled digests due from this date (default: the first event time seen)."
    )
    schedule_enabled: bool = True
    schedule_poll_s: float = Field(default=30.0, gt=0)
    digest_output_dir: Path | None = Field(default=None, description="Also write each digest's PDF and HTML here.")

    # SMTP delivery to the Board
    smtp_host: str = "127.0.0.1"
    smtp_port: int = 25
    smtp_username: str | None = None
    smtp_password: SecretStr | None = None
    smtp_starttls: bool = False
    smtp_use_tls: bool = False
    smtp_timeout_s: float = 30.0
    smtp_sender: str = "qa-board-digest@localhost"
    board_recipients: list[str] = Field(default_factory=list)

    # The audit programme's yearly target (report §3.1.3: 450 to 500 cases a year)
    yearly_target_low: int = 450
    yearly_target_high: int = 500
    year_start_month: int = Field(default=4, ge=1, le=12, description="The council's year starts in April.")
