"""Kakunin's Airflow adapter: the step operator, its OpenLineage facets, the run report's notifier.

Imported by the DAG files only (the DAG processor does not parse this folder: dags/.airflowignore).
The core (`kakunin`) never imports Airflow; everything Airflow-specific lives here.
"""
