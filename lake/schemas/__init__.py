"""Event schema registry: versioned JSON Schemas of the domain events (see README.md here).

registry = SchemaRegistry.load()          # this package's schemas, compiled once
verdict = registry.check("Workout Completed", {"workout_id": "wo_1", "duration_minutes": 31.5})
verdict.known, verdict.valid, verdict.error, verdict.schema_version
"""

from lake.schemas.registry import (
    SchemaRegistry,
    SchemaRegistryError,
    SchemaVerdict,
    snake_name,
)

__all__ = ["SchemaRegistry", "SchemaRegistryError", "SchemaVerdict", "snake_name"]
