"""Sandbox controls: the clock, faults, reset, the magic-values table, and deposits."""
