"""The collector's OpenAPI 3.1 document (served at ``/openapi.json``), written by hand.

It describes the Segment HTTP Tracking API subset Pulse implements: the long and short paths,
the three ways to send the write key, the limits, and every response the service gives.
"""

from __future__ import annotations

from typing import Any

from lake.collector.limits import MAX_BATCH_BYTES, MAX_BATCH_EVENTS, MAX_EVENT_BYTES

SHORT = {"batch": "b", "track": "t", "identify": "i", "page": "p", "screen": "s", "group": "g",
         "alias": "a"}  # fmt: skip

_ID = {"type": ["string", "number", "null"], "description": "Coerced to a string."}
_TS = {"type": ["string", "null"], "description": "ISO-8601 timestamp."}
_OBJ = {"type": ["object", "null"], "additionalProperties": True}

MESSAGE: dict[str, Any] = {
    "type": "object",
    "description": (
        "One Segment message. userId or anonymousId is required; track needs event; group needs "
        "groupId; alias needs previousId and userId. Invalid messages inside a batch are "
        f"quarantined (the request still succeeds); so is a message over {MAX_EVENT_BYTES} bytes."
    ),
    "additionalProperties": True,
    "properties": {
        "type": {"enum": ["track", "identify", "page", "screen", "group", "alias"]},
        "messageId": {"type": "string", "maxLength": 99},
        "userId": _ID,
        "anonymousId": _ID,
        "event": {"type": "string"},
        "name": {"type": "string"},
        "groupId": _ID,
        "previousId": _ID,
        "timestamp": _TS,
        "originalTimestamp": _TS,
        "sentAt": _TS,
        "context": _OBJ,
        "properties": _OBJ,
        "traits": _OBJ,
        "integrations": _OBJ,
    },
}

BATCH_BODY: dict[str, Any] = {
    "type": "object",
    "required": ["batch"],
    "additionalProperties": True,
    "properties": {
        "batch": {"type": "array", "maxItems": MAX_BATCH_EVENTS, "items": MESSAGE},
        "context": {**_OBJ, "description": "Merged into every message's context."},
        "integrations": {**_OBJ, "description": "Merged into every message's integrations."},
        "sentAt": _TS,
        "writeKey": {"type": "string", "description": "Alternative to Basic auth."},
    },
}

SINGLE_BODY: dict[str, Any] = {
    **MESSAGE,
    "properties": {**MESSAGE["properties"], "writeKey": {"type": "string"}},
}

RESULT: dict[str, Any] = {
    "type": "object",
    "required": ["success", "accepted", "quarantined"],
    "properties": {
        "success": {"type": "boolean", "const": True},
        "accepted": {"type": "integer", "minimum": 0},
        "quarantined": {"type": "integer", "minimum": 0},
        "duplicates": {"type": "integer", "minimum": 0},
        "errors": {
            "type": "array",
            "items": {
                "type": "object",
                "required": ["index", "code", "message"],
                "properties": {
                    "index": {"type": "integer"},
                    "messageId": {"type": ["string", "null"]},
                    "code": {"type": "string"},
                    "message": {"type": "string"},
                },
            },
        },
    },
}

ERROR: dict[str, Any] = {
    "type": "object",
    "required": ["code", "message"],
    "properties": {"code": {"type": "string"}, "message": {"type": "string"}},
}

_RETRY = {
    "Retry-After": {
        "description": "Seconds to wait before retrying.",
        "schema": {"type": "string", "pattern": "^[0-9]+$"},
        "required": True,
    }
}


def _error(description: str, retry: bool = False) -> dict[str, Any]:
    out: dict[str, Any] = {
        "description": description,
        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}},
    }
    if retry:
        out["headers"] = _RETRY
    return out


def _ingest_operation(kind: str, short: bool) -> dict[str, Any]:
    body_ref = "#/components/schemas/Batch" if kind == "batch" else "#/components/schemas/Single"
    limit = MAX_BATCH_BYTES if kind == "batch" else MAX_EVENT_BYTES
    return {
        "operationId": f"{kind}{'_short' if short else ''}",
        "summary": f"Segment {kind}" + (" (browser SDK short path)" if short else ""),
        "tags": ["tracking"],
        "security": [{"basicAuth": []}, {"writeKeyHeader": []}, {}],
        "parameters": [
            {
                "name": "Content-Encoding",
                "in": "header",
                "required": False,
                "schema": {"enum": ["gzip", "identity"]},
            }
        ],
        "requestBody": {
            "required": True,
            "description": f"JSON (also sent as text/plain), at most {limit} bytes decompressed.",
            "content": {
                "application/json": {"schema": {"$ref": body_ref}},
                "text/plain": {"schema": {"type": "string"}},
            },
        },
        "responses": {
            "200": {
                "description": "Every message is durable (WAL fsynced): accepted or quarantined.",
                "content": {
                    "application/json": {"schema": {"$ref": "#/components/schemas/Result"}}
                },
            },
            "400": _error("Unparsable body, bad encoding, or over a limit; nothing stored."),
            "401": _error("Missing or unknown write key."),
            "429": _error("Rate limited for this write key.", retry=True),
            "503": _error("Overloaded (WAL or flush lag over its bound) or WAL unavailable.", True),
        },
    }


def build(include_noop: bool = False) -> dict[str, Any]:
    paths: dict[str, Any] = {}
    for kind, short in SHORT.items():
        paths[f"/v1/{kind}"] = {"post": _ingest_operation(kind, False)}
        paths[f"/v1/{short}"] = {"post": _ingest_operation(kind, True)}
    status = {
        "content": {"application/json": {"schema": {"type": "object"}}},
    }
    paths["/health"] = {
        "get": {
            "operationId": "health",
            "summary": "Liveness",
            "responses": {"200": {"description": "The process is alive.", **status}},
        }
    }
    paths["/ready"] = {
        "get": {
            "operationId": "ready",
            "summary": "Readiness: WAL writable, flusher alive, WAL and flush lag within bounds",
            "responses": {
                "200": {"description": "Ready.", **status},
                "503": {"description": "Not ready; the body says why.", **status},
            },
        }
    }
    paths["/metrics"] = {
        "get": {
            "operationId": "metrics",
            "summary": "Prometheus metrics",
            "responses": {
                "200": {
                    "description": "Prometheus text exposition format.",
                    "content": {"text/plain": {"schema": {"type": "string"}}},
                }
            },
        }
    }
    if include_noop:
        op = _ingest_operation("batch", False)
        paths["/v1/noop"] = {"post": {**op, "operationId": "noop", "summary": "Benchmark no-op"}}
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "Pulse collector",
            "version": "1.0.0",
            "description": (
                "Segment-compatible HTTP Tracking API. Send the write key as the HTTP Basic user "
                "name (password empty), in X-Write-Key, or as writeKey in the body. Limits: "
                f"{MAX_EVENT_BYTES} bytes per event, {MAX_BATCH_BYTES} bytes and "
                f"{MAX_BATCH_EVENTS} events per batch."
            ),
        },
        "paths": paths,
        "components": {
            "securitySchemes": {
                "basicAuth": {"type": "http", "scheme": "basic"},
                "writeKeyHeader": {"type": "apiKey", "in": "header", "name": "X-Write-Key"},
            },
            "schemas": {
                "Batch": BATCH_BODY,
                "Single": SINGLE_BODY,
                "Message": MESSAGE,
                "Result": RESULT,
                "Error": ERROR,
            },
        },
    }
