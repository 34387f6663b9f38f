"""Orchestration: the model's build as scheduled tasks (`graph`), written out for Airflow (`airflow`)."""
