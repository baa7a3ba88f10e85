"""QAF actions service: The 2013-14 action plan, drift against expected outcomes and the Board's alert digest."""
