"""The ledger: the durable record of every row's fate, shared by every run of an account."""
