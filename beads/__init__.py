"""The plan: bead model, store, dependency graph, import. No git, no processes."""
