"""PostgreSQL/TimescaleDB: SQL migrations, batched writers, Kafka→database consumers."""
