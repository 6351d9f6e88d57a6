"""The built-in Claude agent: a small tool-use loop on the ``anthropic`` SDK, run as its own
process (``python -m supervisor.agents.builtin``) in a bead's worktree."""
