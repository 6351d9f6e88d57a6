"""One module per subcommand (or small family of them). Each ``run`` returns an exit code."""
