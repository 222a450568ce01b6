"""Gateway benchmark: hello-world FastAPI vs POST /v1/scans, batched msgpack intake, raw producer."""
