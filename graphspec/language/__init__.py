"""The spec language: YAML with positions, the pydantic models, unions, overrides, and
locating pydantic's errors in the file."""
