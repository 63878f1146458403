"""Request limits of the collector (the Segment HTTP Tracking API's)."""

MAX_EVENT_BYTES = 32 * 1024  # one message's JSON
MAX_BATCH_BYTES = 500 * 1024  # one request body, after decompression
MAX_BATCH_EVENTS = 2_500  # messages in one batch
