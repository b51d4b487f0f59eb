"""Sweeps: a grid of settings x seeds, each a run folder, summarised as mean ± std.

grid.py (what `--set NAME=V1,V2` changes), plan.py (the sweep as data, sweep.json),
jobs.py (one grid point's run), runner.py (local worker processes, resume),
ray_backend.py (Ray tasks), summary.py (mean ± std per setting),
report.py (index.html and the plot), commands.py (`cnnlab sweep`).
"""
