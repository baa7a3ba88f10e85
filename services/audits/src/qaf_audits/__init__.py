"""QAF audits service: Audit templates, completed audits, practice concerns, overdue audits and moderation."""
