"""QAF reporting service: Rolling theme counts, theme-updated, monthly and quarterly reports and the dashboard."""
