"""Publishing to Kafka: idempotent producer, disk spool, device adapters, record and replay."""
