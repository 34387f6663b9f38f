"""YAML -> validated, typed IR: the only place that reads the semantic model's YAML."""
