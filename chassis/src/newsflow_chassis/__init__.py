"""Infrastructure every newsflow service runs on: how it talks to Kafka, never what it decides."""
