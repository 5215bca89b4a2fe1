"""Operator views across the stack."""
