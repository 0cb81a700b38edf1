"""The runner: change files, statement splitting, executing applies, fresh plans."""
