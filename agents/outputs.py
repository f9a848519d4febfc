"""The base of every model a role's answer must validate against (a request, a finding, a judge's verdict).

Schemas sent to a model mark every field that has a default as nullable (strands builds them that way), and
real models do send `null` for an optional field they leave empty. So an output model takes `null` for such a
field as its empty value (its default), instead of rejecting an answer the schema allowed.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, model_validator


class ModelOutput(BaseModel):
    @model_validator(mode="before")
    @classmethod
    def _null_is_the_default(cls, data: Any) -> Any:
        if not isinstance(data, dict):
            return data
        fields = cls.model_fields
        return {
            key: fields[key].get_default(call_default_factory=True)
            if value is None and key in fields and not fields[key].is_required()
            else value
            for key, value in data.items()
        }
