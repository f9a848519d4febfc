"""SME-authored rubrics: the YAML format, its validation and version, its methods and judge prompt."""

from rubrics.model import Criterion, Rubric, load_rubric

__all__ = ["Criterion", "Rubric", "load_rubric"]
