"""Evaluating candidate agents on a golden dataset: replay each golden, score it with the dataset's rubric."""
