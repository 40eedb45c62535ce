"""`make bench`: Practika's speed and memory as ratios against baselines measured in the same run.

Run `python -m bench` (all) or `python -m bench B7 B6` (some); docs/PERFORMANCE.md has the table.
"""
