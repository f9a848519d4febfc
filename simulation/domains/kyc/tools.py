"""The task agent's tools over one KYC world: real `@tool` functions the agent framework executes.

`KycTools` is the view of the world the tools expose, as plain methods: the `@tool` functions call it, and so
does the labeller (`rules.label_world`), so a label is computed from exactly what an investigator is shown.
Each `@tool` docstring is what the model sees. Tools return JSON-serialisable data and raise ValueError for an
unknown id, which the framework reports to the model as a failed tool call.
"""

from __future__ import annotations

from typing import Any

from strands import tool

from simulation.domains.kyc.text import normalise_name, screening_hits
from simulation.domains.kyc.world import Account, Counterparty, Customer, KycWorld


class KycTools:
    """What each tool returns, as plain methods over `world`."""

    def __init__(self, world: KycWorld):
        self.world = world
        self._entries = [e.model_dump() for e in world.sanctions]
        self._screened: dict[str, list[dict]] = {}
        self._by_part: dict[str, set[int]] = {}
        for i, c in enumerate(world.customers):
            for part in normalise_name(c.name).split():
                self._by_part.setdefault(part, set()).add(i)

    def _lookup(self, object_id: str, kind: type, what: str) -> Any:
        obj = self.world.by_id.get(object_id.strip())
        if not isinstance(obj, kind):
            raise ValueError(f"no {what} with id {object_id!r}")
        return obj

    def search_customers(self, name: str) -> list[dict]:
        query = normalise_name(name).split()
        found = set.intersection(*(self._by_part.get(part, set()) for part in query)) if query else set()
        return [
            {"customer_id": c.id, "name": c.name, "date_of_birth": c.date_of_birth, "address": c.address}
            for c in (self.world.customers[i] for i in sorted(found))
        ]

    def get_customer_profile(self, customer_id: str) -> dict:
        customer = self._lookup(customer_id, Customer, "customer")
        accounts = [self.world.by_id[a] for a in customer.account_ids]
        return {
            **customer.model_dump(),
            "accounts": [{"id": a.id, "kind": a.kind, "currency": a.currency, "opened": a.opened} for a in accounts],
        }

    def get_account(self, account_id: str) -> dict:
        return self._lookup(account_id, Account, "account").model_dump()

    def get_transactions(
        self,
        account_id: str,
        kind: str | None = None,
        start_date: str | None = None,
        end_date: str | None = None,
        min_amount: float | None = None,
    ) -> list[dict]:
        self._lookup(account_id, Account, "account")
        rows = self.world.transactions_by_account.get(account_id.strip(), [])
        return [
            t.model_dump(exclude={"account_id"}, exclude_none=True)
            for t in rows
            if (kind is None or t.kind == kind)
            and (start_date is None or t.date >= start_date)
            and (end_date is None or t.date <= end_date)
            and (min_amount is None or t.amount >= min_amount)
        ]

    def get_kyc_documents(self, customer_id: str) -> list[dict]:
        self._lookup(customer_id, Customer, "customer")
        docs = self.world.documents_by_customer.get(customer_id.strip(), [])
        return [d.model_dump(exclude_none=True) for d in docs]

    def screen_sanctions(self, names: list[str]) -> list[dict]:
        hits = []
        for name in names:
            if name not in self._screened:
                self._screened[name] = screening_hits(name, self._entries)
            hits += self._screened[name]
        return hits

    def get_counterparty(self, counterparty_id: str) -> dict:
        return self._lookup(counterparty_id, Counterparty, "counterparty").model_dump(exclude_none=True)

    def get_linked_accounts(self, customer_id: str) -> list[dict]:
        self._lookup(customer_id, Customer, "customer")
        out = []
        for link, other_id in self.world.links_by_customer.get(customer_id.strip(), []):
            other = self.world.by_id[other_id]
            assert isinstance(other, Customer)
            out.append(
                {
                    "customer_id": other.id,
                    "name": other.name,
                    "relationship": link.reason,
                    "account_ids": list(other.account_ids),
                }
            )
        return out


def build_tools(world: KycWorld) -> list[Any]:
    """The eight investigation tools, bound to `world`."""
    view = KycTools(world)

    @tool
    def search_customers(name: str) -> list[dict]:
        """Find customers by name (case- and accent-insensitive). Use when you only know a name.

        Args:
            name: Full or partial customer name.
        """
        return view.search_customers(name)

    @tool
    def get_customer_profile(customer_id: str) -> dict:
        """Get a customer's KYC profile: identity, country of residence, occupation, declared income, risk rating
        and accounts (id, kind, currency).

        Args:
            customer_id: Customer id, e.g. C-0042.
        """
        return view.get_customer_profile(customer_id)

    @tool
    def get_account(account_id: str) -> dict:
        """Get an account: its holder's customer id, kind (personal_current, savings, business_current), currency
        and opening date. Use when you only know an account id.

        Args:
            account_id: Account id, e.g. A-00042.
        """
        return view.get_account(account_id)

    @tool
    def get_transactions(
        account_id: str,
        kind: str | None = None,
        start_date: str | None = None,
        end_date: str | None = None,
        min_amount: float | None = None,
    ) -> list[dict]:
        """List an account's transactions over the last 90 days, oldest first, optionally filtered. Amounts are in
        the account's currency; a cash deposit names the customer who paid it in (conducted_by).

        Args:
            account_id: Account id, e.g. A-00042.
            kind: Only this kind, e.g. cash_deposit, wire_in, wire_out, transfer_in, payroll, loan_disbursement.
            start_date: Only on or after this ISO date.
            end_date: Only on or before this ISO date.
            min_amount: Only transactions of at least this amount.
        """
        return view.get_transactions(account_id, kind, start_date, end_date, min_amount)

    @tool
    def get_kyc_documents(customer_id: str) -> list[dict]:
        """Get the KYC documents on file for a customer: identity documents (with expiry dates), proof of address,
        source-of-funds documents.

        Args:
            customer_id: Customer id, e.g. C-0042.
        """
        return view.get_kyc_documents(customer_id)

    @tool
    def screen_sanctions(names: list[str]) -> list[dict]:
        """Screen names against the sanctions and PEP lists. Returns possible matches with a score in [0, 1] and
        the listed entity's details (country, registration number or date of birth): a hit is a name match that
        needs checking against the counterparty's own details.

        Args:
            names: Person or company names to screen.
        """
        return view.screen_sanctions(names)

    @tool
    def get_counterparty(counterparty_id: str) -> dict:
        """Get a payment counterparty's details: name, kind (company or individual), country, bank, and its
        registration number (a company) or date of birth (an individual).

        Args:
            counterparty_id: Counterparty id, e.g. CP-0007.
        """
        return view.get_counterparty(counterparty_id)

    @tool
    def get_linked_accounts(customer_id: str) -> list[dict]:
        """List the customers linked to this one (shared phone or address, joint signatories, family) and their
        account ids.

        Args:
            customer_id: Customer id, e.g. C-0042.
        """
        return view.get_linked_accounts(customer_id)

    return [
        search_customers,
        get_customer_profile,
        get_account,
        get_transactions,
        get_kyc_documents,
        screen_sanctions,
        get_counterparty,
        get_linked_accounts,
    ]
