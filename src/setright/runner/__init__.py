"""The runner: change files, statement splitting, executing applies, fresh plans (DESIGN §5)."""
