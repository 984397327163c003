"""The /v1 routes of collections: standing and aging, debts and their dunning, the dunning run,
staff's contact attempts, disputes and recalls, skip-trace tasks, the policy, and the routes a
collection agency calls about its placements. Each parses, authorises, calls one use case and
answers."""

from __future__ import annotations

import json
import uuid
from collections import defaultdict
from datetime import date
from typing import Annotated

import asyncpg
from fastapi import APIRouter, Query
from fastapi.responses import JSONResponse

from services.collections.api.deps import (
    AgencyWrite,
    CallingAgency,
    Change,
    ClockDep,
    CollectionsDep,
    Creation,
    Operator,
    PoliciesDep,
    PoolDep,
    Reader,
)
from services.collections.api.schemas import (
    BUCKETS,
    AcknowledgementCreate,
    AgencyPaymentCreate,
    AgencyPaymentPublic,
    AgingPublic,
    ContactAttemptCreate,
    CustomerStandingPublic,
    DebtLinePublic,
    DebtPublic,
    DebtsPublic,
    DisputeCreate,
    DisputePublic,
    DisputeResolution,
    DunningRunPublic,
    DunningRunRequest,
    NoticePublic,
    PlacementPublic,
    PlacementsPublic,
    PostponementPublic,
    RecallCreate,
    ReturnCreate,
    StandingPublic,
    VerificationTaskPublic,
    VerificationTasksPublic,
)
from services.collections.application.dunning import INVOICE_BALANCES, Collections, itemize
from services.collections.domain.debt import DebtNotFound
from services.collections.domain.policy import Agency, DunningPolicy
from shared.http.idempotency import IdempotentResult
from shared.http.problems import PROBLEM_RESPONSES, problem_responses
from shared.http.writes import etag

router = APIRouter(prefix="/v1", responses=PROBLEM_RESPONSES)
AsOf = Annotated[date | None, Query(description="The business date; defaults to today")]


def bucket(days_past_due: int) -> str:
    if days_past_due <= 0:
        return BUCKETS[0]
    for upper, name in ((30, "1-30"), (60, "31-60"), (90, "61-90"), (120, "91-120")):
        if days_past_due <= upper:
            return name
    return "120+"


def _aging(lines: list[tuple[str, int, int]]) -> list[AgingPublic]:
    """(currency, days past due, balance) -> balance per bucket, per currency."""
    per: dict[str, dict[str, int]] = defaultdict(lambda: dict.fromkeys(BUCKETS, 0))
    for currency, days, balance in lines:
        per[currency][bucket(days)] += balance
    return [AgingPublic(currency=c, buckets=b, total=sum(b.values())) for c, b in sorted(per.items())]


# -- standing ------------------------------------------------------------------------------------


@router.get("/standing", response_model=StandingPublic, tags=["standing"], summary="Aging of all balances")
async def standing(principal: Reader, pool: PoolDep, clock: ClockDep, as_of: AsOf = None) -> StandingPublic:
    """What customers owe, per currency, in aging buckets by days past due."""
    day = as_of or clock.today()
    # what was paid per invoice is summed once, then each invoice's balance computed from it
    rows = await pool.fetch(
        """WITH balances AS (
               SELECT i.currency, i.due_date, i.customer_id,
                      CASE WHEN i.voided THEN 0 ELSE greatest(0, i.total - i.credited - i.written_off - i.transferred
                          - coalesce(p.paid, 0)) END AS balance
               FROM invoices i
               LEFT JOIN (SELECT invoice_id, sum(amount) AS paid FROM invoice_payments GROUP BY invoice_id) p
                   USING (invoice_id)),
           owing AS (SELECT * FROM balances WHERE balance > 0)
           SELECT currency, ($1::date - due_date) AS days, sum(balance)::bigint AS balance,
                  (SELECT count(DISTINCT customer_id) FROM owing) AS customers
           FROM owing GROUP BY currency, days""",
        day,
    )
    lines = [(r["currency"], r["days"], r["balance"]) for r in rows]
    return StandingPublic(as_of=day, aging=_aging(lines), customers=rows[0]["customers"] if rows else 0)


@router.get("/customers/{customer_id}/standing", response_model=CustomerStandingPublic, tags=["standing"],
            summary="A customer's invoices with balances, days past due and aging")
async def customer_standing(
    customer_id: str, principal: Reader, pool: PoolDep, clock: ClockDep, as_of: AsOf = None,
) -> CustomerStandingPublic:
    day = as_of or clock.today()
    rows = await pool.fetch(
        f"""SELECT b.*, d.status AS debt_status,
                   (SELECT count(*) > 0 FROM plans p WHERE p.status = 'active'
                        AND p.invoice_ids @> ARRAY[b.invoice_id]) AS in_plan
            FROM ({INVOICE_BALANCES}) b LEFT JOIN debts d ON d.invoice_id = b.invoice_id
            WHERE b.customer_id = $1 ORDER BY b.due_date, b.number""",
        customer_id,
    )
    lines = []
    for row in rows:
        items = itemize(row, day)
        if items.balance <= 0:
            continue
        days = (day - row["due_date"]).days
        lines.append(DebtLinePublic(
            invoice_id=row["invoice_id"], invoice_number=row["number"], currency=row["currency"],
            original_amount=items.original_amount, payments=items.payments, adjustments=items.adjustments,
            balance=items.balance, due_date=row["due_date"], days_past_due=max(0, days), bucket=bucket(days),
            in_plan=row["in_plan"], debt_status=row["debt_status"],
        ))
    return CustomerStandingPublic(
        customer_id=customer_id, as_of=day, invoices=lines,
        aging=_aging([(line.currency, line.days_past_due, line.balance) for line in lines]),
    )


# -- debts ---------------------------------------------------------------------------------------


def _placement(row: asyncpg.Record) -> PlacementPublic:
    return PlacementPublic(**{name: row[name] for name in PlacementPublic.model_fields})


async def _debt_public(conn: asyncpg.Connection, collections: Collections, debt_id: str) -> DebtPublic:
    try:
        debt = await collections.debts.get(debt_id, connection=conn)
    except LookupError:
        raise DebtNotFound(debt_id) from None
    assert debt.opened is not None
    now = collections.clock.now()
    facts = await collections.facts(conn, debt, now)
    notices = await conn.fetch(
        "SELECT * FROM notice_deliveries WHERE debt_id = $1 ORDER BY created_at, notice_id", debt_id,
    )
    placement = await conn.fetchrow(
        "SELECT * FROM placements WHERE debt_id = $1 ORDER BY escalated_at DESC LIMIT 1", debt_id,
    )
    postponed = debt.postponement
    return DebtPublic(
        debt_id=debt_id, invoice_id=debt.opened.invoice_id, invoice_number=debt.opened.invoice_number,
        customer_id=debt.customer_id, business_id=debt.opened.business_id, status=debt.status,
        due_date=debt.opened.due_date, days_past_due=max(0, (now.date() - debt.opened.due_date).days),
        itemization=facts.itemization, last_step=debt.last_step, dispute_open=debt.dispute_open,
        paused_by_plan=facts.plan_in_good_standing,
        notices=[NoticePublic(
            notice_id=n["notice_id"], kind=n["kind"],
            step=(doc := _json(n["document"])).get("step"), channel=n["channel"], recipient=n["recipient"],
            status=n["status"], issued_at=doc["issued_at"], deadline=doc.get("deadline") or doc.get("dispute_by"),
        ) for n in notices],
        postponed=PostponementPublic(
            action=postponed.action, guard=postponed.guard, until=postponed.until, reason=postponed.reason,
            postponed_at=postponed.postponed_at,
        ) if postponed else None,
        contact_attempts=len(debt.contacts),
        placement=_placement(placement) if placement else None, version=debt.version,
    )


def _json(value: str | dict) -> dict:  # type: ignore[type-arg]
    return json.loads(value) if isinstance(value, str) else value


async def _answer_debt(
    conn: asyncpg.Connection, collections: Collections, debt_id: str, status: int = 200,
) -> IdempotentResult:
    public = await _debt_public(conn, collections, debt_id)
    return IdempotentResult(status, public.model_dump(mode="json"), etag(public.version))


@router.get("/debts", response_model=DebtsPublic, tags=["debts"], summary="Debts in arrears")
async def list_debts(
    principal: Reader, pool: PoolDep, collections: CollectionsDep,
    status: Annotated[str | None, Query(pattern=r"^(dunning|escalated|settled|returned)$")] = None,
    customer_id: str | None = None, limit: Annotated[int, Query(ge=1, le=500)] = 100,
) -> DebtsPublic:
    async with pool.acquire() as conn:
        rows = await conn.fetch(
            """SELECT debt_id FROM debts WHERE ($1::text IS NULL OR status = $1)
                   AND ($2::text IS NULL OR customer_id = $2) ORDER BY opened_at, debt_id LIMIT $3""",
            status, customer_id, limit,
        )
        return DebtsPublic(items=[await _debt_public(conn, collections, r["debt_id"]) for r in rows])


@router.get("/debts/{debt_id}", response_model=DebtPublic, tags=["debts"], summary="One debt and its dunning")
async def get_debt(debt_id: str, principal: Reader, pool: PoolDep, collections: CollectionsDep) -> JSONResponse:
    async with pool.acquire() as conn:
        public = await _debt_public(conn, collections, debt_id)
    return JSONResponse(public.model_dump(mode="json"), headers=etag(public.version))


@router.post("/dunning-runs", response_model=DunningRunPublic, tags=["operations"],
             summary="Review every debt in dunning now (or as of a given moment)")
async def dunning_run(body: DunningRunRequest, principal: Operator, collections: CollectionsDep) -> DunningRunPublic:
    """What the scheduler does on its own every ``COLLECTIONS_DUNNING_INTERVAL_SECONDS``: notices
    that are due, escalations, settlements; guards postpone what they hold back."""
    run = await collections.run(body.at)
    return DunningRunPublic(at=run.at, reviewed=run.reviewed, conflicts=run.conflicts, failed=run.failed,
                            outcomes=dict(run.outcomes))


@router.post("/debts/{debt_id}/contact-attempts", status_code=201, response_model=DebtPublic, tags=["debts"],
             responses=problem_responses(404, 409, 422), summary="Record a call or letter made outside the policy")
async def record_contact(
    debt_id: str, body: ContactAttemptCreate, write: Creation, collections: CollectionsDep,
) -> JSONResponse:
    """Counts toward the contact limit like the policy's own notices."""
    async def record(conn: asyncpg.Connection) -> IdempotentResult:
        await collections.record_contact(
            conn, debt_id, f"att_{uuid.uuid4().hex}", channel=body.channel, outcome=body.outcome, note=body.note,
            attempted_at=body.attempted_at, by=write.principal.system,
        )
        return await _answer_debt(conn, collections, debt_id, 201)

    return await write.run(body, record)


@router.post("/debts/{debt_id}/disputes", status_code=201, response_model=DisputePublic, tags=["debts"],
             responses=problem_responses(404, 409, 422), summary="Open a dispute: no contact, no escalation")
async def open_dispute(debt_id: str, body: DisputeCreate, write: Creation, collections: CollectionsDep) -> JSONResponse:
    """A debt with an agency is recalled from it."""
    dispute_id = f"dsp_{uuid.uuid4().hex}"

    async def open_(conn: asyncpg.Connection) -> IdempotentResult:
        await collections.open_dispute(conn, debt_id, dispute_id, reason=body.reason, by=write.principal.system)
        return IdempotentResult(201, DisputePublic(dispute_id=dispute_id, debt_id=debt_id).model_dump(mode="json"))

    return await write.run(body, open_)


@router.post("/debts/{debt_id}/disputes/{dispute_id}/resolution", response_model=DebtPublic, tags=["debts"],
             responses=problem_responses(404, 409, 412, 422), summary="Resolve a dispute")
async def resolve_dispute(
    debt_id: str, dispute_id: str, body: DisputeResolution, write: Change, collections: CollectionsDep,
) -> JSONResponse:
    async def resolve(conn: asyncpg.Connection) -> IdempotentResult:
        await collections.resolve_dispute(
            conn, debt_id, dispute_id, outcome=body.outcome, note=body.note, by=write.principal.system,
        )
        return await _answer_debt(conn, collections, debt_id)

    return await write.run(body, resolve)


@router.post("/debts/{debt_id}/recall", response_model=DebtPublic, tags=["debts"],
             responses=problem_responses(404, 409, 412, 422), summary="Take a debt back from its agency")
async def recall(debt_id: str, body: RecallCreate, write: Change, collections: CollectionsDep) -> JSONResponse:
    async def recall_(conn: asyncpg.Connection) -> IdempotentResult:
        await collections.recall(conn, debt_id, reason=body.reason, note=body.note)
        return await _answer_debt(conn, collections, debt_id)

    return await write.run(body, recall_)


@router.get("/verification-tasks", response_model=VerificationTasksPublic, tags=["debts"],
            summary="Skip-trace tasks: contact points to find")
async def verification_tasks(
    principal: Reader, pool: PoolDep,
    status: Annotated[str, Query(pattern=r"^(open|resolved)$")] = "open", customer_id: str | None = None,
) -> VerificationTasksPublic:
    rows = await pool.fetch(
        """SELECT * FROM verification_tasks WHERE status = $1 AND ($2::text IS NULL OR customer_id = $2)
           ORDER BY requested_at LIMIT 500""",
        status, customer_id,
    )
    return VerificationTasksPublic(items=[
        VerificationTaskPublic(**{name: r[name] for name in VerificationTaskPublic.model_fields}) for r in rows
    ])


@router.get("/policies/{business_id}", response_model=DunningPolicy, tags=["policy"],
            summary="A business's dunning policy and guards")
async def policy(business_id: str, principal: Reader, policies: PoliciesDep) -> DunningPolicy:
    return policies.for_business(business_id)


@router.get("/agencies", response_model=list[Agency], tags=["policy"], summary="Collection agencies and fees")
async def agencies(principal: Reader, policies: PoliciesDep) -> list[Agency]:
    return list(policies.agencies)


@router.get("/placements", response_model=PlacementsPublic, tags=["debts"], summary="Placements with agencies")
async def placements(
    principal: Reader, pool: PoolDep, agency_id: str | None = None,
    status: Annotated[str | None, Query(pattern=r"^(placed|acknowledged|recalled|returned)$")] = None,
) -> PlacementsPublic:
    rows = await pool.fetch(
        """SELECT * FROM placements WHERE ($1::text IS NULL OR agency_id = $1) AND ($2::text IS NULL OR status = $2)
           ORDER BY escalated_at LIMIT 500""",
        agency_id, status,
    )
    return PlacementsPublic(items=[_placement(r) for r in rows])


# -- agencies ------------------------------------------------------------------------------------


async def _agency_placement(conn: asyncpg.Connection, placement_id: str) -> dict:  # type: ignore[type-arg]
    row = await conn.fetchrow("SELECT * FROM placements WHERE placement_id = $1", placement_id)
    return _placement(row).model_dump(mode="json")


@router.get("/agency/placements", response_model=PlacementsPublic, tags=["agency"],
            summary="The calling agency's placements")
async def agency_placements(agency: CallingAgency, pool: PoolDep) -> PlacementsPublic:
    rows = await pool.fetch(
        "SELECT * FROM placements WHERE agency_id = $1 ORDER BY escalated_at LIMIT 500", agency.id,
    )
    return PlacementsPublic(items=[_placement(r) for r in rows])


@router.post("/agency/placements/{placement_id}/acknowledgement", response_model=PlacementPublic, tags=["agency"],
             responses=problem_responses(404, 409, 422), summary="The agency took the placement")
async def acknowledge(
    placement_id: str, body: AcknowledgementCreate, agency: CallingAgency, write: AgencyWrite,
    collections: CollectionsDep,
) -> JSONResponse:
    async def acknowledge_(conn: asyncpg.Connection) -> IdempotentResult:
        await collections.acknowledge(conn, placement_id, agency, body.agency_reference)
        return IdempotentResult(200, await _agency_placement(conn, placement_id))

    return await write.run(body, acknowledge_)


@router.post("/agency/placements/{placement_id}/payments", status_code=201, response_model=AgencyPaymentPublic,
             tags=["agency"], responses=problem_responses(404, 409, 422),
             summary="The agency collected money on a placement")
async def report_payment(
    placement_id: str, body: AgencyPaymentCreate, agency: CallingAgency, write: AgencyWrite,
    collections: CollectionsDep,
) -> JSONResponse:
    """Recorded by payments as a collection agency's payment of ``amount``, of which the agency
    keeps its fee at the agreed rate: the account falls by ``amount``, ``net`` reaches the provider."""
    report_id = f"apr_{uuid.uuid4().hex}"

    async def report(conn: asyncpg.Connection) -> IdempotentResult:
        await collections.report_payment(
            conn, placement_id, agency, report_id, amount=body.amount, currency=body.currency,
            collected_on=body.collected_on, reference=body.reference,
        )
        fee = agency.fee_on(body.amount)
        public = AgencyPaymentPublic(
            report_id=report_id, placement_id=placement_id, amount=body.amount, fee=fee, net=body.amount - fee,
            currency=body.currency, collected_on=body.collected_on or collections.clock.today(),
        )
        return IdempotentResult(201, public.model_dump(mode="json"))

    return await write.run(body, report)


@router.post("/agency/placements/{placement_id}/return", response_model=PlacementPublic, tags=["agency"],
             responses=problem_responses(404, 409, 422), summary="Give the account back as uncollectible")
async def give_back(
    placement_id: str, body: ReturnCreate, agency: CallingAgency, write: AgencyWrite, collections: CollectionsDep,
) -> JSONResponse:
    async def give_back_(conn: asyncpg.Connection) -> IdempotentResult:
        await collections.give_back(conn, placement_id, agency, body.reason)
        return IdempotentResult(200, await _agency_placement(conn, placement_id))

    return await write.run(body, give_back_)
