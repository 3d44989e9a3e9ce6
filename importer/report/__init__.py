"""The report stage: every input row exactly once, with its status and reason."""
