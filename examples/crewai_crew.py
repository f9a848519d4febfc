"""Bring your own task agent, built with CrewAI (install goldsmith[crewai]).

    python main.py generate --task-agent examples.crewai_crew:build_crew --count 10

Goldsmith calls `build_crew(context)` for every attempt and kicks the crew off with inputs
`{"request": <the user's request, or the revision prompt with the critic's feedback>}`. The last task's
`output_pydantic` must be `context.finding_model`. Tool calls are recorded with a CrewAI after-tool-call hook.
This example uses the run's task model (`--task-model`; simulated offline) and the domain's tools; the crew you
ship would use its own LLM (e.g. `crewai.LLM(model="bedrock/<model-id>")`) and tools.
"""

from crewai import Agent, Crew, Task


def build_crew(context) -> Crew:
    investigator = Agent(
        role="Financial-crimes investigator",
        goal="Answer each analyst request with a verdict grounded in the bank's records.",
        backstory="A careful senior investigator who calls only the tools a question needs and never invents ids.",
        llm=context.crewai_llm(),
        tools=context.crewai_tools(),
        cache=False,
        allow_delegation=False,
    )
    investigate = Task(
        description="{request}",
        expected_output="The finding: verdict, typology, the ids of the supporting records and the written answer.",
        agent=investigator,
        output_pydantic=context.finding_model,
    )
    return Crew(agents=[investigator], tasks=[investigate])
