"""Publishing to Kafka: idempotent producer, disk spool, seq numbering."""
