"""`make stress`: setright's promises measured on generated inputs and real processes.

One module per category; each exposes `run(ctx) -> None` and records every
input or trial in `ctx.result` (tried, failed, a shrunk reproduction per
failure). `python -m stress` runs them and writes `stress-report.json`.
"""
