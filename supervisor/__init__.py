"""mayor's supervisor: the CLI, config, git, agents, scheduler and merge queue."""

__version__ = "0.1.0"
