"""Schemathesis against /openapi.json: generated requests for every operation, event streams
included, as an operator
and as a correspondent, with zero 5xx answers and zero answers that break the document."""

import os
import re
import subprocess
import tempfile

import requests

ST = os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))), ".venv", "bin", "st")
CHECKS = "not_a_server_error,status_code_conformance,content_type_conformance,response_schema_conformance"
# Event streams follow the ledger until told to stop: their window is fixed to one that ends with
# the first event replayed (`until` long past; `Last-Event-ID` at the start of the log), so each
# generated request reads a whole answer. Their other parameters are generated.
STREAMS = """
[[operations]]
include-operation-id = "streamJournalEventsV1"
parameters = { "query.since" = "2020-01-01", "query.until" = "2020-01-02", "header.Last-Event-ID" = "1" }

[[operations]]
include-operation-id = ["streamJournalEvents", "streamJournalEventsBeta"]
parameters = { "query.since" = "2020-01-01", "query.until" = "2020-01-02", "header.Last-Event-ID" = "00000000000000000000000001" }
"""


def seed(url, sandbox):
    """Journals, a position and a transfer to find, so that answers carry data to validate."""
    auth = (sandbox["api_key"], sandbox["api_secret"])
    firm, alice = sandbox["firm_account_id"], sandbox["customer_account_ids"][0]
    cash = requests.post(f"{url}/v1/journals", auth=auth, json={"entry_type": "JNLC", "from_account": firm, "to_account": alice, "amount": "2"})
    shares = requests.post(f"{url}/v1/journals", auth=auth, json={"entry_type": "JNLS", "from_account": firm, "to_account": alice, "symbol": "AAPL", "qty": "0.5"})
    transfer = requests.post(f"{url}/v1/accounts/{alice}/transfers", auth=auth, json={"transfer_type": "ach", "direction": "INCOMING", "amount": "5"})
    for response in (cash, shares, transfer):
        assert response.status_code == 200, response.text
    return {
        "path.journal_id": cash.json()["id"],
        "path.account_id": alice,
        "path.transfer_id": transfer.json()["id"],
        "path.correspondent_id": sandbox["correspondent_id"],
        "path.symbol": "AAPL",
        "query.account_id": alice,
    }


def fuzz(url, key, secret, parameters):
    config = tempfile.NamedTemporaryFile("w", suffix=".toml", delete=False)
    config.write("[parameters]\n" + "".join(f'"{k}" = "{v}"\n' for k, v in parameters.items()) + STREAMS)
    config.close()
    run = subprocess.run(
        [ST, "--config-file", config.name, "run", f"{url}/openapi.json", "--auth", f"{key}:{secret}", "--checks", CHECKS,
         "--max-examples", os.environ.get("CASHIER_FUZZ_EXAMPLES", "10"),
         "--request-timeout", "10", "--no-color"],
        capture_output=True, text=True, timeout=600,
    )
    output = run.stdout + run.stderr
    assert run.returncode == 0, output[-6000:]
    generated = re.search(r"(\d+) generated, (\d+) passed", output)
    assert generated, output[-3000:]
    assert generated.group(1) == generated.group(2), output[-3000:]
    return int(generated.group(1))


def test_generated_requests_get_no_5xx_and_answers_that_match_the_document(fresh_server):
    sandbox, url = fresh_server["sandbox"], fresh_server["url"]
    parameters = seed(url, sandbox)
    tried = fuzz(url, sandbox["api_key"], sandbox["api_secret"], parameters)
    tried += fuzz(url, sandbox["operator_key"], sandbox["operator_secret"], parameters)
    print(f"schemathesis: {tried} generated requests, all passed")
    assert tried > 500
