"""The bench's minimal Django project: the baselines Practika's views are measured against.

No apps, no middleware, no database: only what any Django view must cost under the same gunicorn
configuration as Practika's `web` process.
"""
