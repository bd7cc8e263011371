"""The cluster test: Kakunin on Airflow with the CeleryExecutor and several workers (`make cluster-test`)."""
