"""Domains (worlds, tools, cases), the episode loop and the batch runner."""
