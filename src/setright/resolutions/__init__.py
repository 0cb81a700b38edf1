"""Resolution files: loading with file:line:column errors, checks, git provenance.

* `files`  - the file model, loading, canonical digests and entry keys;
* `checks` - checks across files and against the ledger (what `validate` runs);
* `git`    - whether a file is committed and clean, and which commit last touched it.

Nothing here prints or writes the store; callers render the returned data.
"""
