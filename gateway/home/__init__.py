"""The home screen in one call, gathered from every service with a deadline each."""
