"""Who is calling: registration, logins and sessions, refresh-token rotation, and step-up
codes for money-moving requests."""
