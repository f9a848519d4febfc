"""Loading user-editable files (rubrics, domain personas) into pydantic models with file:line errors."""

from config.errors import InputError, RunFailed
from config.yamlfile import load_yaml_model

__all__ = ["InputError", "RunFailed", "load_yaml_model"]
