"""Bring your own task agent, built with strands.

    python main.py generate --task-agent examples.strands_agent:build_agent --count 10

Goldsmith calls `build_agent(context)` for every attempt and drives the agent it returns: it asks for the
domain's finding (`structured_output_model=context.finding_model`), records the tools it calls with a strands
hook, and sends the critic's feedback back as the prompt of the next attempt. This example uses the run's task
model (`--task-model`; simulated offline) and the domain's tools; the agent you ship would use its own.
"""

from strands import Agent

SYSTEM_PROMPT = """You are the financial-crimes investigation assistant of a retail bank.
Investigate the analyst's request with your tools, using only what they return. Open with the verdict,
cite the ids of the records behind it, explain each one, and recommend the next step."""


def build_agent(context) -> Agent:
    return Agent(
        model=context.strands_model(),  # e.g. strands.models.BedrockModel(model_id=...) in production
        tools=context.tools,  # the domain's tools (or the --mcp-server's) and the action tools; add your own
        system_prompt=SYSTEM_PROMPT,
        callback_handler=None,
    )
