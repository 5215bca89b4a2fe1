"""The live operator console at /console."""
