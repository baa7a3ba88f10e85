"""QAF escalations service: CPA/IRO escalations and the complaints desk, on working-day timescales."""
