"""Queue mode: RabbitMQ between the loginput (HTTP in, publisher) and the workers
(consumer, store). `run_loginput` and `run_worker` are the two roles' entry points."""
