import pytest

from store.dedup import (
    MIN_FUZZY_WORDS,
    NEAR_DUPLICATE_THRESHOLD,
    Match,
    PromptIndex,
    jaccard,
    normalise_prompt,
    prompt_entities,
    shingles,
)

# Real prompts of the simulated KYC analyst (simulation/domains/kyc/persona.yaml, filled from cases).
KYC = {
    "structuring": (
        "Our transaction monitoring flagged the cash deposits on account A-00096 (customer C-0096). "
        "Can you review the recent cash activity and tell me whether it looks like structuring?"
    ),
    "pass_through": (
        "Account A-00017 (customer C-0017) had unusually large inflows this quarter. "
        "Is the activity explained, or does it look like funds passing through?"
    ),
    "identity": "Can you review the documents for C-0022 and tell me whether the identity checks out?",
    "sanctions": (
        "Screening alert on C-0034's outgoing payments. Can you check the counterparties against the sanctions lists?"
    ),
    "name": 'Can you pull up what we have on "Elena Brennan"? Compliance asked whether they need a closer look.',
    "off_topic": "Which cryptocurrency should I buy this week?",
}


@pytest.fixture
def index() -> PromptIndex:
    return PromptIndex.from_prompts(KYC.items())


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("  Screen C-1234\tfor   sanctions.  ", "screen c-1234 for sanctions"),
        ("What's next?!", "what's next"),
        ("ＫＹＣ refresh for Ｃ－０１２３", "kyc refresh for c-0123"),  # NFKC: full-width forms
        ("Straße", "strasse"),  # casefold, not lower
        ('Quick check on "Nadia Valdez":', 'quick check on "nadia valdez'),
        ("Is C-1 (or C-2) fine?", "is c-1 (or c-2) fine"),
        ("", ""),
        (" ?! ", ""),
    ],
)
def test_normalise_prompt(text, expected):
    assert normalise_prompt(text) == expected


def test_exact_duplicates_match_whatever_the_case_spacing_and_trailing_punctuation(index):
    variant = "  can YOU review the documents for c-0022 and tell me whether the identity checks out "
    assert index.match(variant) == Match("duplicate", "identity", 1.0)
    assert index.match("Which cryptocurrency should I buy this week!!") == Match("duplicate", "off_topic", 1.0)


@pytest.mark.parametrize(
    ("key", "paraphrase"),
    [
        ("identity", "Can you check the documents for C-0022 and tell me whether the identity checks out?"),
        ("identity", "Can you review the documents for C-0022 and tell me if the identity checks out?"),
        ("identity", "Could you please review the documents for C-0022 and tell me whether the identity checks out"),
        (
            "structuring",
            "Our monitoring flagged the cash deposits on account A-00096 (customer C-0096); can you review "
            "the recent cash activity and tell me if it looks like structuring?",
        ),
        (
            "pass_through",
            "Is the activity explained, or does it look like funds passing through? Account A-00017 "
            "(customer C-0017) had unusually large inflows this quarter.",
        ),
        (
            "sanctions",
            "screening alert on C-0034's outgoing payments - can you check the counterparties against sanctions lists",
        ),
        ("name", 'Can you pull up what we have on "Elena Brennan"? Compliance asked if they need a closer look.'),
        ("off_topic", "Which cryptocurrency should I buy this month?"),
    ],
)
def test_paraphrases_of_the_same_request_are_near_duplicates_of_its_key(index, key, paraphrase):
    found = index.match(paraphrase)
    assert found is not None and (found.kind, found.key) == ("near_duplicate", key)
    assert NEAR_DUPLICATE_THRESHOLD <= found.similarity < 1.0


@pytest.mark.parametrize(
    "sibling",
    [
        # the same template about another customer: a different test case
        "Can you review the documents for C-0023 and tell me whether the identity checks out?",
        (
            "Our transaction monitoring flagged the cash deposits on account A-00412 (customer C-0412). "
            "Can you review the recent cash activity and tell me whether it looks like structuring?"
        ),
        "Screening alert on C-0035's outgoing payments. Can you check the counterparties against the sanctions lists?",
        'Can you pull up what we have on "Nadia Valdez"? Compliance asked whether they need a closer look.',
        "Can you pull up what we have on Nadia Valdez? Compliance asked whether they need a closer look.",
        # same customer, only the account differs
        (
            "Account A-00018 (customer C-0017) had unusually large inflows this quarter. "
            "Is the activity explained, or does it look like funds passing through?"
        ),
        # another request about the same customer
        "Periodic KYC refresh for C-0022: can you verify the identity documents on file against the profile?",
    ],
)
def test_template_siblings_about_other_entities_are_not_flagged(index, sibling):
    assert index.match(sibling) is None


def test_sibling_prompts_share_no_shingle_but_would_look_alike_without_entities():
    a, b = "Screen customer C-1234 for sanctions, please", "Screen customer C-5678 for sanctions, please"
    assert jaccard(shingles(a), shingles(b)) == 0.0
    assert prompt_entities(a) == {"c-1234"} and prompt_entities(b) == {"c-5678"}


@pytest.mark.parametrize(
    ("text", "entities"),
    [
        ('Check "nadia valdez" and C-0034\'s payments over 10,000', {"nadia valdez", "c-0034", "10", "000"}),
        ("Can you check Elena Brennan? Compliance asked.", {"elena brennan"}),
        ("Elena Brennan has made cash deposits", {"elena brennan"}),
        ("Check Elena Brennan today", {"elena brennan"}),  # a sentence-initial verb is not part of the name
        ("Onboarding QA flagged the ID documents. Monitoring agrees.", set()),  # vocabulary, not names
    ],
)
def test_prompt_entities(text, entities):
    assert prompt_entities(text) == entities


def test_near_duplicate_reports_the_closest_indexed_prompt():
    first = "Please look at the branch cash deposits for C-0083 over the last quarter and give me your assessment."
    closer = "Please look at the branch cash deposits for C-0083 over the past quarter and give me your assessment."
    index = PromptIndex.from_prompts([("first", first), ("closer", closer)])
    query = "Please look at the branch cash deposits for C-0083 over the past quarter and give your assessment."
    found = index.match(query)
    assert found is not None and (found.kind, found.key) == ("near_duplicate", "closer")


@pytest.mark.parametrize("prompt", ["", "   ", "?", "Hi", "hi there", "Check C-0042", "Screen C-0042 now"])
def test_short_and_empty_prompts_only_match_exactly(prompt):
    index = PromptIndex()
    index.add("long", f"{prompt} — can you review the recent cash activity and tell me whether it looks odd?")
    assert index.match(prompt) is None
    index.add("short", prompt)
    assert index.match(prompt) == Match("duplicate", "short", 1.0)


def test_prompts_of_few_words_never_near_match():
    index = PromptIndex.from_prompts([("a", "Hi there"), ("b", "Check C-0042 please")])
    for prompt in ("Hi there you", "Check C-0042 now", "Please check C-0042"):
        assert len(prompt.split()) < MIN_FUZZY_WORDS and index.match(prompt) is None


def test_add_and_from_prompts_agree_and_the_first_key_wins():
    items = [("a", KYC["identity"]), ("b", KYC["identity"].upper()), ("c", KYC["off_topic"])]
    built = PromptIndex.from_prompts(items)
    added = PromptIndex()
    for key, prompt in items:
        added.add(key, prompt)
    for index in (built, added):
        assert len(index) == 3 and "b" in index and "z" not in index
        assert index.match(KYC["identity"]) == Match("duplicate", "a", 1.0)
        assert index.match(KYC["sanctions"]) is None


def test_keys_are_unique():
    index = PromptIndex()
    index.add("a", KYC["identity"])
    index.add("a", KYC["identity"] + "  ")  # the same prompt again: nothing to do
    with pytest.raises(ValueError, match="already indexed"):
        index.add("a", KYC["sanctions"])


def test_an_empty_index_matches_nothing():
    assert PromptIndex().match(KYC["identity"]) is None
    assert len(PromptIndex.from_prompts([])) == 0
