"""QAF platform library: event contracts, topic catalogue and plumbing. No business rules live here."""
