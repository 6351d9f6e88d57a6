"""Running the plan: ``mayor sling`` and what it is made of (see ``docs/architecture.md``)."""
