"""The spec language: load YAML with positions, validate against the schema, expand blocks."""
