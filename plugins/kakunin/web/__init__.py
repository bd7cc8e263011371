"""Kakunin's web app: the pages acquisition staff and auditors use, and the JSON API behind them.

The app is plain FastAPI and never imports Airflow: `plugins/kakunin_plugin.py` builds it with
`create_app`, handing in how to tell who is asking (Airflow's auth manager) and how to start a
DAG run. Tests build it the same way, through Airflow's own API server.
"""

from kakunin.web.app import create_app

__all__ = ["create_app"]
