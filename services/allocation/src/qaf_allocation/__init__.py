"""QAF allocation service: Keeps the open-case population and the auditor roster; draws the monthly audit sample."""
