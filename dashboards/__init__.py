"""Dashboards as code → Grafana JSON, provisioning files, Grafana HTTP API client."""
