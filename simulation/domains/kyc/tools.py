"""The task agent's tools over one KYC world: real `@tool` functions the agent framework executes.

Each docstring is what the model sees. Tools return JSON-serialisable data and raise ValueError for
an unknown id, which the framework reports to the model as a failed tool call.
"""

from __future__ import annotations

from typing import Any

from strands import tool

from simulation.domains.kyc.world import (
    Account,
    Counterparty,
    Customer,
    KycWorld,
    name_similarity,
    normalise_name,
)

SCREENING_MIN_SCORE = 0.85


def build_tools(world: KycWorld) -> list[Any]:
    """The seven investigation tools, bound to `world`."""

    def lookup(object_id: str, kind: type, what: str) -> Any:
        obj = world.by_id.get(object_id.strip())
        if not isinstance(obj, kind):
            raise ValueError(f"no {what} with id {object_id!r}")
        return obj

    @tool
    def search_customers(name: str) -> list[dict]:
        """Find customers by name (case- and accent-insensitive). Use when you only know a name.

        Args:
            name: Full or partial customer name.
        """
        query = normalise_name(name).split()
        return [
            {"customer_id": c.id, "name": c.name, "date_of_birth": c.date_of_birth, "address": c.address}
            for c in world.customers
            if query and all(part in normalise_name(c.name).split() for part in query)
        ]

    @tool
    def get_customer_profile(customer_id: str) -> dict:
        """Get a customer's KYC profile: identity, occupation, declared income, risk rating and account ids.

        Args:
            customer_id: Customer id, e.g. C-0042.
        """
        return lookup(customer_id, Customer, "customer").model_dump()

    @tool
    def get_transactions(
        account_id: str,
        kind: str | None = None,
        start_date: str | None = None,
        end_date: str | None = None,
        min_amount: float | None = None,
    ) -> list[dict]:
        """List an account's transactions over the last 90 days, oldest first, optionally filtered.

        Args:
            account_id: Account id, e.g. A-00042.
            kind: Only this kind: cash_deposit, wire_in, wire_out, card_payment, salary or transfer_out.
            start_date: Only on or after this ISO date.
            end_date: Only on or before this ISO date.
            min_amount: Only transactions of at least this amount.
        """
        lookup(account_id, Account, "account")
        rows = world.transactions_by_account.get(account_id.strip(), [])
        return [
            t.model_dump(exclude={"account_id"})
            for t in rows
            if (kind is None or t.kind == kind)
            and (start_date is None or t.date >= start_date)
            and (end_date is None or t.date <= end_date)
            and (min_amount is None or t.amount >= min_amount)
        ]

    @tool
    def get_kyc_documents(customer_id: str) -> list[dict]:
        """Get the KYC documents on file for a customer: ID documents, proof of address, source of funds.

        Args:
            customer_id: Customer id, e.g. C-0042.
        """
        lookup(customer_id, Customer, "customer")
        return [d.model_dump(exclude_none=True) for d in world.documents_by_customer.get(customer_id.strip(), [])]

    @tool
    def screen_sanctions(names: list[str]) -> list[dict]:
        """Screen names against the sanctions and PEP lists. Returns possible matches with a score in [0, 1];
        a score below 1 is a partial name match that needs checking against the counterparty's details.

        Args:
            names: Person or company names to screen.
        """
        hits = []
        for name in names:
            for entry in world.sanctions:
                score = max(name_similarity(name, candidate) for candidate in [entry.name, *entry.aliases])
                if score >= SCREENING_MIN_SCORE:
                    hits.append(
                        {
                            "query": name,
                            "entry_id": entry.id,
                            "listed_name": entry.name,
                            "country": entry.country,
                            "program": entry.program,
                            "list": entry.kind,
                            "score": score,
                        }
                    )
        return hits

    @tool
    def get_counterparty(counterparty_id: str) -> dict:
        """Get a payment counterparty's details: registered name, country, bank and registration number.

        Args:
            counterparty_id: Counterparty id, e.g. CP-0007.
        """
        return lookup(counterparty_id, Counterparty, "counterparty").model_dump()

    @tool
    def get_linked_accounts(customer_id: str) -> list[dict]:
        """List other customers linked to this one (shared phone or address, joint signatories).

        Args:
            customer_id: Customer id, e.g. C-0042.
        """
        lookup(customer_id, Customer, "customer")
        cid = customer_id.strip()
        return [link.model_dump() for link in world.links if cid in (link.customer_id, link.other_customer_id)]

    return [
        search_customers,
        get_customer_profile,
        get_transactions,
        get_kyc_documents,
        screen_sanctions,
        get_counterparty,
        get_linked_accounts,
    ]
