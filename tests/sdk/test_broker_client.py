"""The official alpaca-py BrokerClient, unmodified, against Cashier."""

import uuid
from decimal import Decimal

import pytest
from alpaca.broker.enums import AgreementType, FundingSource, JournalEntryType, JournalStatus, TaxIdType, TransferDirection, TransferTiming, TransferType
from alpaca.broker.models import Agreement, Contact, Disclosures, Identity
from alpaca.broker.requests import (
    BatchJournalRequestEntry,
    CreateAccountRequest,
    CreateACHTransferRequest,
    CreateBankTransferRequest,
    CreateBatchJournalRequest,
    CreateJournalRequest,
    CreateReverseBatchJournalRequest,
    GetJournalsRequest,
    GetTransfersRequest,
    ListAccountsRequest,
    ReverseBatchJournalRequestEntry,
)
from alpaca.common.exceptions import APIError

from conftest import wait_until


def cash_of(client, account_id):
    return Decimal(client.get_trade_account_by_id(account_id).cash)


def test_cash_pooling_end_to_end(client, sandbox):
    firm, alice, bob = sandbox["firm_account_id"], *sandbox["customer_account_ids"]
    before = cash_of(client, firm)
    wire = CreateBankTransferRequest(amount="2500", direction=TransferDirection.INCOMING, timing=TransferTiming.IMMEDIATE, bank_id=str(uuid.uuid4()), transfer_type=TransferType.WIRE)
    transfer = client.create_transfer_for_account(firm, wire)
    assert transfer.amount == "2500" and str(transfer.direction.value) == "INCOMING"
    assert cash_of(client, firm) == before + 2500
    batch = CreateBatchJournalRequest(
        entry_type=JournalEntryType.CASH,
        from_account=firm,
        entries=[BatchJournalRequestEntry(to_account=alice, amount=12.5), BatchJournalRequestEntry(to_account=bob, amount="7.25")],
    )
    created = client.create_batch_journal(batch)
    assert len(created) == 2 and all(j.status in (JournalStatus.QUEUED, JournalStatus.EXECUTED) for j in created)
    wait_until(lambda: all(client.get_journal_by_id(j.id).status == JournalStatus.EXECUTED for j in created), "the batch to execute")
    assert cash_of(client, alice) >= Decimal("12.5")
    assert cash_of(client, bob) >= Decimal("7.25")
    transfers = client.get_transfers_for_account(firm, GetTransfersRequest(direction=TransferDirection.INCOMING))
    assert any(t.id == transfer.id for t in transfers), "paging by offset ends on an empty page"


def test_float_amounts_are_taken_as_meant(client, sandbox):
    journal = client.create_journal(
        CreateJournalRequest(from_account=sandbox["firm_account_id"], to_account=sandbox["customer_account_ids"][0], entry_type=JournalEntryType.CASH, amount=0.1 + 0.2)
    )
    assert Decimal(str(journal.net_amount)) == Decimal("0.3")


def test_a_share_reward(client, sandbox):
    alice = sandbox["customer_account_ids"][0]
    journal = client.create_journal(CreateJournalRequest(from_account=sandbox["firm_account_id"], to_account=alice, entry_type=JournalEntryType.SECURITY, symbol="TSLA", qty=0.1))
    wait_until(lambda: client.get_journal_by_id(journal.id).status == JournalStatus.EXECUTED, "the reward to execute")
    position = client.get_open_position_for_account(alice, "TSLA")
    assert Decimal(position.qty) == Decimal("0.1")
    assert Decimal(position.cost_basis) == Decimal("25.00") and Decimal(position.avg_entry_price) == Decimal("250")
    assert any(p.symbol == "TSLA" for p in client.get_all_positions_for_account(alice))


def test_reverse_batch_pulls_cash_back(client, sandbox):
    firm, alice, bob = sandbox["firm_account_id"], *sandbox["customer_account_ids"]
    for customer in (alice, bob):
        journal = client.create_journal(CreateJournalRequest(from_account=firm, to_account=customer, entry_type=JournalEntryType.CASH, amount="5"))
        wait_until(lambda: client.get_journal_by_id(journal.id).status == JournalStatus.EXECUTED, "funding to execute")
    reverse = CreateReverseBatchJournalRequest(
        entry_type=JournalEntryType.CASH,
        to_account=firm,
        entries=[ReverseBatchJournalRequestEntry(from_account=alice, amount="2"), ReverseBatchJournalRequestEntry(from_account=bob, amount="3")],
    )
    pulled = client.create_reverse_batch_journal(reverse)
    assert [str(j.to_account) for j in pulled] == [firm, firm]
    wait_until(lambda: all(client.get_journal_by_id(j.id).status == JournalStatus.EXECUTED for j in pulled), "the reverse batch to execute")


def test_a_pending_journal_is_canceled(client, sandbox):
    journal = client.create_journal(
        CreateJournalRequest(from_account=sandbox["firm_account_id"], to_account=sandbox["customer_account_ids"][1], entry_type=JournalEntryType.CASH, amount="500")
    )
    assert journal.status == JournalStatus.PENDING, "over the $50 limit"
    client.cancel_journal_by_id(journal.id)
    assert client.get_journal_by_id(journal.id).status == JournalStatus.CANCELED
    pending = client.get_journals(GetJournalsRequest(status=JournalStatus.PENDING))
    assert all(j.id != journal.id for j in pending)
    canceled = client.get_journals(GetJournalsRequest(status=JournalStatus.CANCELED, entry_type=JournalEntryType.CASH))
    assert any(j.id == journal.id for j in canceled)


def test_accounts(client):
    request = CreateAccountRequest(
        contact=Contact(email_address="grace@example.com", phone_number="555-0101", street_address=["2 Main St"], city="Arlington", state="VA", postal_code="22201"),
        identity=Identity(
            given_name="Grace",
            family_name="Hopper",
            date_of_birth="1990-12-09",
            tax_id="666-55-4322",
            tax_id_type=TaxIdType.USA_SSN,
            country_of_tax_residence="USA",
            funding_source=[FundingSource.EMPLOYMENT_INCOME],
        ),
        disclosures=Disclosures(is_control_person=False, is_affiliated_exchange_or_finra=False, is_politically_exposed=False, immediate_family_exposed=False),
        agreements=[Agreement(agreement=AgreementType.CUSTOMER, signed_at="2026-11-01T00:00:00Z", ip_address="127.0.0.1")],
    )
    account = client.create_account(request)
    assert account.status.value == "ACTIVE"
    shown = client.get_account_by_id(account.id)
    assert shown.account_number == account.account_number
    assert shown.contact.email_address == "grace@example.com" and shown.identity.family_name == "Hopper"
    assert shown.disclosures.is_politically_exposed is False and shown.agreements[0].agreement == AgreementType.CUSTOMER
    assert any(a.id == account.id for a in client.list_accounts())
    from datetime import datetime, timedelta, timezone

    from alpaca.broker.enums import AccountEntities

    found = client.list_accounts(ListAccountsRequest(query="hopper 555-0101", entities=[AccountEntities.CONTACT], created_after=datetime.now(timezone.utc) - timedelta(hours=1)))
    assert [a.id for a in found] == [account.id] and found[0].contact.city == "Arlington" and found[0].identity is None
    with pytest.raises(APIError) as twice:
        client.create_account(request)
    assert twice.value.status_code == 409 and twice.value.code == 40910000


def test_errors_surface_as_api_errors(client, sandbox):
    with pytest.raises(APIError) as missing:
        client.get_journal_by_id(uuid.uuid4())
    assert missing.value.status_code == 404 and missing.value.code == 40410000
    with pytest.raises(APIError) as short:
        client.create_journal(
            CreateJournalRequest(from_account=sandbox["firm_account_id"], to_account=sandbox["customer_account_ids"][0], entry_type=JournalEntryType.CASH, amount="99999999")
        )
    assert short.value.status_code == 403 and short.value.code == 40310000
    with pytest.raises(APIError) as sideways:
        alice, bob = sandbox["customer_account_ids"]
        client.create_journal(CreateJournalRequest(from_account=alice, to_account=bob, entry_type=JournalEntryType.CASH, amount="1"))
    assert sideways.value.status_code == 403


def test_the_journal_event_stream(client, sandbox):
    import json
    from alpaca.broker.requests import GetEventsRequest

    journal = client.create_journal(
        CreateJournalRequest(from_account=sandbox["firm_account_id"], to_account=sandbox["customer_account_ids"][0], entry_type=JournalEntryType.CASH, amount="1.23")
    )
    wait_until(lambda: client.get_journal_by_id(journal.id).status == JournalStatus.EXECUTED, "the journal to execute")
    seen = []
    for data in client.get_journal_events(GetEventsRequest(since_id=1, id=str(journal.id))):
        event = json.loads(data)
        assert set(event) >= {"at", "entry_type", "event_id", "event_ulid", "journal_id", "status_from", "status_to"}
        seen.append((event["status_from"], event["status_to"]))
        if event["status_to"] == "executed":
            break
    assert seen == [("", "queued"), ("queued", "sent_to_clearing"), ("sent_to_clearing", "executed")]


def test_account_activities(client, sandbox):
    from alpaca.broker.requests import GetAccountActivitiesRequest
    from alpaca.trading.enums import ActivityType

    alice = sandbox["customer_account_ids"][0]
    journal = client.create_journal(CreateJournalRequest(from_account=sandbox["firm_account_id"], to_account=alice, entry_type=JournalEntryType.CASH, amount="4.56"))
    wait_until(lambda: client.get_journal_by_id(journal.id).status == JournalStatus.EXECUTED, "the journal to execute")
    request = GetAccountActivitiesRequest(account_id=alice, activity_types=[ActivityType.JNLC, ActivityType.JNLS], page_size=2)
    activities = client.get_account_activities(request)
    assert len(activities) >= 3, "more than one page, fetched until an empty page"
    mine = [a for a in activities if str(journal.id) in a.description]
    assert len(mine) == 1 and Decimal(str(mine[0].net_amount)) == Decimal("4.56")
    assert all(str(a.account_id) == alice for a in activities)


def test_the_neighbours_of_journals_have_their_documented_shapes(client, sandbox):
    """The trading account, positions, transfers and activities, as alpaca-py's models read them."""
    import datetime
    import re

    from alpaca.broker.enums import ClearingBroker
    from alpaca.broker.requests import GetAccountActivitiesRequest

    firm, alice = sandbox["firm_account_id"], sandbox["customer_account_ids"][0]
    journal = client.create_journal(CreateJournalRequest(from_account=firm, to_account=alice, entry_type=JournalEntryType.SECURITY, symbol="AAPL", qty=0.2))
    wait_until(lambda: client.get_journal_by_id(journal.id).status == JournalStatus.EXECUTED, "the shares to arrive")
    account = client.get_trade_account_by_id(alice)
    assert isinstance(account.previous_close, datetime.datetime) and account.previous_close.tzinfo is not None
    assert account.clearing_broker == ClearingBroker.Self
    assert account.last_cash == account.cash and account.last_long_market_value == account.long_market_value
    assert account.last_daytrade_count == 0 and account.last_daytrading_buying_power == "0.00"
    position = client.get_open_position_for_account(alice, "AAPL")
    assert position.unrealized_plpc == "0" and position.change_today == "0" and position.lastday_price == position.current_price
    ach = CreateACHTransferRequest(amount="3", direction=TransferDirection.INCOMING, timing=TransferTiming.IMMEDIATE, relationship_id=str(uuid.uuid4()))
    transfer = client.create_transfer_for_account(alice, ach)
    assert transfer.bank_id is None and transfer.expires_at is None and transfer.amount == "3"
    activities = client.get_account_activities(GetAccountActivitiesRequest(account_id=alice, page_size=100))
    assert activities and all(re.fullmatch(r"\d{17}::[0-9a-f]{8}-[0-9a-f]{4}-8[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}", a.id) for a in activities), [a.id for a in activities]
    assert len({a.id for a in activities}) == len(activities), "each activity has an id of its own"


def test_the_readme_snippet_runs_as_pasted(server, tmp_path):
    """The README's alpaca-py lines, run as they are, against this server and its sandbox.json."""
    import json
    import os
    import re
    import subprocess
    import sys

    readme = open(os.path.join(os.path.dirname(__file__), "..", "..", "README.md")).read()
    snippet = re.search(r"```python\n(.*?)```", readme, re.S).group(1)
    assert 'json.load(open("cashier-data/sandbox.json"))' in snippet and "http://127.0.0.1:8080" in snippet
    (tmp_path / "cashier-data").mkdir()
    (tmp_path / "cashier-data" / "sandbox.json").write_text(json.dumps(server["sandbox"]))
    run = subprocess.run([sys.executable, "-c", snippet.replace("http://127.0.0.1:8080", server["url"])], cwd=tmp_path, capture_output=True, text=True, timeout=60)
    assert run.returncode == 0, run.stderr
    assert run.stdout.split() == ["queued", "executed"], run.stdout
