"""Check-ins: the per-patient schedule, quiet hours, prompts, and the transitions sweeps drive."""
