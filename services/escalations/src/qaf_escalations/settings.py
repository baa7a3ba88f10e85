"""Settings of the escalations service: environment variables prefixed QAF_ESCALATIONS_."""

from datetime import date
from typing import Literal

from pydantic import Field
from pydantic_settings import SettingsConfigDict

from qaf_shared.settings import ServiceSettings
from qaf_shared.vocabulary import ComplaintStage, EscalationStage

from qaf_escalations.domain.complaints import ComplaintTimescales, StageTimescale
from qaf_escalations.domain.escalations import STAGES, EscalationTimescales


class EscalationsSettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="QAF_ESCALATIONS_", extra="ignore", env_nested_delimiter="__")

    service_name: str = "escalations"
    http_port: int = 8003

    escalation_stage_working_days: int = Field(default=5, ge=1, description="Response timescale of each stage.")
    escalation_stage_working_days_by_stage: dict[EscalationStage, int] = Field(
        default_factory=dict, description="Per-stage overrides, e.g. {\"director\": 10}."
    )
    escalation_formal_total_working_days: int = Field(
        default=20, ge=1, description="The whole formal process, from the first formal stage."
    )
    complaint_stage_1_working_days: int = Field(default=10, ge=1, description="Stage 1 (local resolution) response.")
    complaint_stage_1_max_working_days: int = Field(default=20, ge=1, description="Stage 1 with an extension.")
    complaint_stage_2_working_days: int = Field(default=25, ge=1, description="Stage 2 (investigation) response.")
    complaint_stage_2_max_working_days: int = Field(default=65, ge=1, description="Stage 2 with an extension.")
    complaint_stage_3_working_days: int = Field(
        default=30, ge=1, description="Review panel: from the request to the panel's findings; not extendable."
    )

    today: date | None = Field(
        default=None, description="Pin the service's clock to this date (replays, simulations); unset: today in England."
    )
    overdue_sweep_interval_s: float = Field(default=5.0, gt=0, description="Pause between background overdue sweeps.")
    overdue_sweep_basis: Literal["latest-event", "clock"] = Field(
        default="latest-event",
        description="As of which date the background sweep looks for overdue stages: the latest event date the "
        "service was given (never beyond its clock), or the clock's today.",
    )

    def escalation_timescales(self) -> EscalationTimescales:
        days = {stage: self.escalation_stage_working_days for stage in STAGES}
        days.update(self.escalation_stage_working_days_by_stage)
        return EscalationTimescales(stage_days=days, formal_total_days=self.escalation_formal_total_working_days)

    def complaint_timescales(self) -> ComplaintTimescales:
        return ComplaintTimescales(
            stages={
                ComplaintStage.STAGE_1: StageTimescale(
                    self.complaint_stage_1_working_days,
                    max(self.complaint_stage_1_working_days, self.complaint_stage_1_max_working_days),
                ),
                ComplaintStage.STAGE_2: StageTimescale(
                    self.complaint_stage_2_working_days,
                    max(self.complaint_stage_2_working_days, self.complaint_stage_2_max_working_days),
                ),
                ComplaintStage.STAGE_3: StageTimescale(
                    self.complaint_stage_3_working_days, self.complaint_stage_3_working_days
                ),
            }
        )
