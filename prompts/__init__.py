"""The prompt pack: Markdown templates shipped inside the package."""
