"""Admission: rate budgets and run slots, kept in the process or in Redis for every worker."""
