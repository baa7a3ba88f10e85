"""A council's year, simulated through the platform's public interfaces only.

`generator.build_plan(seed)` is a pure function: the same seed gives the same plan (cases, roster,
escalations, complaints, milestones) and `generator.audit_outcome` decides, again purely, how each
allocated audit is completed. `driver.run_plan` plays the plan against running services over HTTP.
"""
