"""Developer tooling that runs outside the Sandbank processes: the local supervisor, the
embedded broker launcher and the AsyncAPI generator."""
