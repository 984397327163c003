"""The clearinghouse simulator, in process: its 271s, written by its own writer, read by parse_271
into what its member records say, for each status and behaviour; and its configuration API."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, date, datetime
from typing import Any

import httpx
import pytest

from services.eligibility.adapters.x12_270 import build_270
from services.eligibility.adapters.x12_271 import Malformed271, parse_271
from services.eligibility.domain.cost_share import cost_share
from services.eligibility.domain.coverage import (
    Benefit,
    BenefitKind,
    CostShare,
    EligibilityInquiry,
    EligibilityResponse,
    Member,
    Party,
    RejectionSource,
    ResponseStatus,
    TimePeriod,
)
from shared.x12 import Separators, parse_interchange, render
from simulators.clearinghouse.app import create_app, load_members

CREATED_AT = datetime(2026, 11, 27, 9, 30, tzinfo=UTC)
ACTIVE_MEMBER: dict[str, Any] = {
    "member_id": "A100200300",
    "given": "Ada",
    "family": "Lovelace",
    "dob": "1985-12-10",
    "group": "GRP-77",
    "plan_name": "Gold PPO",
    "status": "active",
    "coverage_from": "2026-01-01",
    "coverage_to": "2026-12-31",
    "benefits": [
        {
            "info_code": "C",
            "coverage_level": "IND",
            "service_types": ["30"],
            "time_period": "23",
            "amount": "1500.00",
            "in_network": True,
        },
        {
            "info_code": "C",
            "coverage_level": "IND",
            "service_types": ["30"],
            "time_period": "29",
            "amount": "650.00",
            "in_network": True,
        },
        {
            "info_code": "A",
            "coverage_level": "IND",
            "service_types": ["30"],
            "percent": "0.2",
            "in_network": True,
        },
        {
            "info_code": "B",
            "coverage_level": "IND",
            "service_types": ["98", "UC"],
            "time_period": "27",
            "amount": "25.00",
            "in_network": True,
        },
        {
            "info_code": "B",
            "coverage_level": "IND",
            "service_types": ["86"],
            "time_period": "27",
            "amount": "250.00",
        },
    ],
}
INACTIVE_MEMBER = {**ACTIVE_MEMBER, "member_id": "I100200300", "status": "inactive", "benefits": []}
# Ada's plan covers her children: Byron shares her coverage and benefits, Annabella has a copay of
# her own, Ralph has left the plan.
FAMILY_MEMBER = {
    **ACTIVE_MEMBER,
    "member_id": "F100200300",
    "dependents": [
        {"given": "Byron", "family": "Lovelace", "dob": "2015-03-01"},
        {
            "given": "Annabella",
            "family": "Lovelace",
            "dob": "2017-08-30",
            "benefits": [
                {
                    "info_code": "B",
                    "service_types": ["98"],
                    "time_period": "27",
                    "amount": "0.00",
                    "in_network": True,
                }
            ],
        },
        {"given": "Ralph", "family": "Lovelace", "dob": "2012-07-02", "status": "inactive"},
    ],
}
BYRON = Member(
    member_id="F100200300",  # a dependent is asked about under the subscriber's member id
    family_name="LOVELACE",
    given_name="BYRON",
    date_of_birth=date(2015, 3, 1),
)


def inquiry(member_id: str, **overrides: Any) -> EligibilityInquiry:
    return EligibilityInquiry(
        **{
            "trace_number": f"trace-{member_id}",
            "control_number": 4711,
            "sender_id": "BILLINGPLATFORM",
            "receiver_id": "CLEARINGHOUSE",
            "payer": Party(name="ACME HEALTH", identifier="60054", identifier_qualifier="PI"),
            "provider": Party(name="EXAMPLE COMMUNITY CLINIC", identifier="1234567893"),
            "subscriber": Member(member_id=member_id, family_name="LOVELACE", given_name="ADA"),
            "service_date": date(2026, 11, 30),
            "service_types": ["30", "98"],
            **overrides,
        }
    )


@pytest.fixture
async def simulator() -> AsyncIterator[httpx.AsyncClient]:
    app = create_app({m["member_id"]: m for m in (ACTIVE_MEMBER, INACTIVE_MEMBER, FAMILY_MEMBER)})
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://simulator"
    ) as client:
        yield client


async def ask(simulator: httpx.AsyncClient, question: EligibilityInquiry) -> httpx.Response:
    return await simulator.post(
        "/x12/270",
        content=build_270(question, created_at=CREATED_AT),
        headers={"Content-Type": "application/edi-x12"},
    )


async def answer_document(simulator: httpx.AsyncClient, question: EligibilityInquiry) -> str:
    response = await ask(simulator, question)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("application/edi-x12")
    return response.text


async def answer(simulator: httpx.AsyncClient, question: EligibilityInquiry) -> EligibilityResponse:
    return parse_271(await answer_document(simulator, question))


def patient_levels(document: str) -> list[str]:
    """The segments of a 271 from the subscriber's HL up to SE, as written."""
    segments = [segment.strip() for segment in document.split("~")]
    start = next(i for i, segment in enumerate(segments) if segment.startswith("HL*3*"))
    end = next(i for i, segment in enumerate(segments) if segment.startswith("SE*"))
    return segments[start:end]


async def test_an_active_member_answers_with_the_records_coverage_and_benefits(
    simulator: httpx.AsyncClient,
) -> None:
    response = await answer(simulator, inquiry("A100200300"))

    assert response.status is ResponseStatus.ACTIVE
    assert (response.trace_number, response.payer_name, response.payer_identifier) == (
        "trace-A100200300",
        "ACME HEALTH",
        "60054",
    )
    assert response.subscriber == Member(
        member_id="A100200300",
        family_name="Lovelace",
        given_name="Ada",
        date_of_birth=date(1985, 12, 10),
        group_number="GRP-77",
    )
    assert (response.plan_name, response.coverage_from, response.coverage_to) == (
        "Gold PPO",
        date(2026, 1, 1),
        date(2026, 12, 31),
    )
    assert response.rejections == []
    assert response.benefits == [
        Benefit(
            kind=BenefitKind.ACTIVE,
            info_code="1",
            coverage_level="IND",
            service_types=["30", "98"],
            plan_description="Gold PPO",
        ),
        Benefit(
            kind=BenefitKind.DEDUCTIBLE,
            info_code="C",
            coverage_level="IND",
            service_types=["30"],
            time_period=TimePeriod.CALENDAR_YEAR,
            amount=150000,
            in_network=True,
        ),
        Benefit(
            kind=BenefitKind.DEDUCTIBLE,
            info_code="C",
            coverage_level="IND",
            service_types=["30"],
            time_period=TimePeriod.REMAINING,
            amount=65000,
            in_network=True,
        ),
        Benefit(
            kind=BenefitKind.COINSURANCE,
            info_code="A",
            coverage_level="IND",
            service_types=["30"],
            percent_bp=2000,
            in_network=True,
        ),
        Benefit(
            kind=BenefitKind.COPAY,
            info_code="B",
            coverage_level="IND",
            service_types=["98", "UC"],
            time_period=TimePeriod.VISIT,
            amount=2500,
            in_network=True,
        ),
        Benefit(
            kind=BenefitKind.COPAY,
            info_code="B",
            coverage_level="IND",
            service_types=["86"],
            time_period=TimePeriod.VISIT,
            amount=25000,
            in_network=None,
        ),
    ]


async def test_the_plan_is_always_answered_for_besides_the_types_asked(
    simulator: httpx.AsyncClient,
) -> None:
    response = await answer(simulator, inquiry("A100200300", service_types=["UC"]))

    assert response.benefits[0].service_types == ["30", "UC"]


async def test_an_inactive_member_answers_inactive(simulator: httpx.AsyncClient) -> None:
    response = await answer(simulator, inquiry("I100200300"))

    assert response.status is ResponseStatus.INACTIVE
    assert [(r.source, r.code) for r in response.rejections] == [
        (RejectionSource.INACTIVE, "inactive")
    ]
    assert (response.coverage_from, response.coverage_to) == (date(2026, 1, 1), date(2026, 12, 31))


async def test_a_date_of_service_outside_the_coverage_answers_inactive(
    simulator: httpx.AsyncClient,
) -> None:
    response = await answer(simulator, inquiry("A100200300", service_date=date(2027, 1, 4)))

    assert response.status is ResponseStatus.INACTIVE
    assert response.coverage_to == date(2026, 12, 31)


async def test_an_unknown_member_is_rejected_with_aaa_75_echoing_the_inquiry(
    simulator: httpx.AsyncClient,
) -> None:
    response = await answer(simulator, inquiry("NOBODY0001"))

    assert response.status is ResponseStatus.REJECTED
    assert [(r.code, r.follow_up_action, r.loop) for r in response.rejections] == [
        ("75", "C", "2100C")
    ]
    assert response.subscriber == Member(
        member_id="NOBODY0001", family_name="LOVELACE", given_name="ADA"
    )
    assert response.trace_number == "trace-NOBODY0001"


async def test_a_dependent_is_answered_in_2000d_under_the_subscriber_found_by_member_id(
    simulator: httpx.AsyncClient,
) -> None:
    document = await answer_document(simulator, inquiry("F100200300", dependent=BYRON))

    assert patient_levels(document)[:12] == [
        "HL*3*2*22*1",
        "NM1*IL*1*Lovelace*Ada****MI*F100200300",
        "REF*6P*GRP-77",
        "DMG*D8*19851210",
        "HL*4*3*23*0",
        "TRN*2*trace-F100200300*9123456789",
        "TRN*1*000000001*9000000001",
        "NM1*03*1*Lovelace*Byron",
        "DMG*D8*20150301",
        "DTP*346*D8*20260101",
        "DTP*347*D8*20261231",
        "EB*1*IND*30^98**Gold PPO",
    ]
    response = parse_271(document)
    assert response.status is ResponseStatus.ACTIVE
    assert response.subscriber == Member(
        member_id="F100200300",
        family_name="Lovelace",
        given_name="Ada",
        date_of_birth=date(1985, 12, 10),
        group_number="GRP-77",
    )
    assert response.trace_number == "trace-F100200300" and response.rejections == []
    # Byron shares his mother's benefits: the same EB loops as hers, in 2110D.
    assert response.benefits == (await answer(simulator, inquiry("A100200300"))).benefits
    # An inquiry about a dependent counts under the subscriber's member id, like any other.
    assert (await simulator.get("/stats")).json() == {"F100200300": 1, "A100200300": 1}


@pytest.mark.parametrize(
    "asked",
    [
        Member(member_id="F100200300", family_name="lovelace", given_name="Byron"),
        BYRON.model_copy(update={"date_of_birth": None}),
    ],
    ids=["names-in-any-case", "without-date-of-birth"],
)
async def test_a_dependent_is_found_by_name_whatever_its_case_and_by_a_known_date_of_birth(
    simulator: httpx.AsyncClient, asked: Member
) -> None:
    response = await answer(simulator, inquiry("F100200300", dependent=asked))

    assert response.status is ResponseStatus.ACTIVE and response.rejections == []


async def test_a_dependent_with_benefits_of_its_own_is_answered_with_those(
    simulator: httpx.AsyncClient,
) -> None:
    annabella = Member(member_id="F100200300", family_name="LOVELACE", given_name="ANNABELLA")

    response = await answer(simulator, inquiry("F100200300", dependent=annabella))

    assert response.status is ResponseStatus.ACTIVE
    assert [(b.info_code, b.service_types, b.amount) for b in response.benefits] == [
        ("1", ["30", "98"], None),
        ("B", ["98"], 0),
    ]


async def test_a_dependent_with_a_status_of_its_own_is_answered_inactive_in_2110d(
    simulator: httpx.AsyncClient,
) -> None:
    ralph = Member(member_id="F100200300", family_name="LOVELACE", given_name="RALPH")

    response = await answer(simulator, inquiry("F100200300", dependent=ralph))

    assert response.status is ResponseStatus.INACTIVE
    assert [(r.source, r.loop) for r in response.rejections] == [
        (RejectionSource.INACTIVE, "2110D")
    ]
    assert (response.coverage_from, response.coverage_to) == (date(2026, 1, 1), date(2026, 12, 31))


@pytest.mark.parametrize(
    "asked",
    [
        Member(member_id="F100200300", family_name="LOVELACE", given_name="AUGUSTA"),
        BYRON.model_copy(update={"date_of_birth": date(2016, 3, 1)}),
    ],
    ids=["unknown-name", "other-date-of-birth"],
)
async def test_a_dependent_the_subscriber_does_not_have_is_rejected_with_aaa_67_in_2100d(
    simulator: httpx.AsyncClient, asked: Member
) -> None:
    document = await answer_document(simulator, inquiry("F100200300", dependent=asked))

    assert patient_levels(document)[4:] == [
        "HL*4*3*23*0",
        "TRN*2*trace-F100200300*9123456789",
        "TRN*1*000000001*9000000001",
        f"NM1*03*1*LOVELACE*{asked.given_name}",  # the name asked about, echoed
        "AAA*N**67*C",
    ]
    response = parse_271(document)
    assert response.status is ResponseStatus.REJECTED
    assert [(r.code, r.description, r.follow_up_action, r.loop) for r in response.rejections] == [
        ("67", "Patient Not Found", "C", "2100D")
    ]
    assert response.subscriber is not None and response.subscriber.member_id == "F100200300"
    assert response.trace_number == "trace-F100200300" and response.benefits == []


async def test_a_dependent_of_an_unknown_subscriber_is_rejected_with_aaa_75_in_2100c(
    simulator: httpx.AsyncClient,
) -> None:
    document = await answer_document(
        simulator,
        inquiry("NOBODY0001", dependent=BYRON.model_copy(update={"member_id": "NOBODY0001"})),
    )

    assert patient_levels(document) == [
        "HL*3*2*22*0",
        "TRN*2*trace-NOBODY0001*9123456789",
        "TRN*1*000000001*9000000001",
        "NM1*IL*1*LOVELACE*ADA****MI*NOBODY0001",
        "AAA*N**75*C",
    ]
    response = parse_271(document)
    assert response.status is ResponseStatus.REJECTED
    assert [(r.code, r.loop) for r in response.rejections] == [("75", "2100C")]
    assert response.trace_number == "trace-NOBODY0001"


async def test_a_dependent_loop_that_names_no_dependent_is_refused_with_a_999_like_reason(
    simulator: httpx.AsyncClient,
) -> None:
    document = build_270(inquiry("F100200300", dependent=BYRON), created_at=CREATED_AT)
    assert "~NM1*03*1*LOVELACE*BYRON~" in document
    document = document.replace("~NM1*03*1*LOVELACE*BYRON~", "~NM1*IL*1*LOVELACE*BYRON~")

    response = await simulator.post("/x12/270", content=document)

    assert response.status_code == 400
    assert "is not a dependent (NM1*03) with a family name" in response.text


async def test_a_member_set_to_malformed_answers_a_271_parse_271_refuses(
    simulator: httpx.AsyncClient,
) -> None:
    await simulator.put("/members/A100200300", json={**ACTIVE_MEMBER, "behaviour": "malformed"})

    response = await ask(simulator, inquiry("A100200300"))

    assert response.status_code == 200
    with pytest.raises(Malformed271, match="SE01 says"):
        parse_271(response.text)


async def test_a_member_set_to_unavailable_answers_503(simulator: httpx.AsyncClient) -> None:
    await simulator.put("/members/A100200300", json={**ACTIVE_MEMBER, "behaviour": "unavailable"})

    response = await ask(simulator, inquiry("A100200300"))

    assert response.status_code == 503


async def test_a_member_set_to_delay_still_answers_in_full(simulator: httpx.AsyncClient) -> None:
    await simulator.put(
        "/members/A100200300", json={**ACTIVE_MEMBER, "behaviour": "delay", "delay_seconds": 0.01}
    )

    response = await answer(simulator, inquiry("A100200300"))

    assert response.status is ResponseStatus.ACTIVE and len(response.benefits) == 6


async def test_every_270_counts_per_member_whatever_the_answer(
    simulator: httpx.AsyncClient,
) -> None:
    await ask(simulator, inquiry("A100200300"))
    await ask(simulator, inquiry("NOBODY0001"))
    await simulator.put("/members/A100200300", json={**ACTIVE_MEMBER, "behaviour": "unavailable"})
    await ask(simulator, inquiry("A100200300"))

    assert (await simulator.get("/stats")).json() == {"A100200300": 2, "NOBODY0001": 1}


async def test_a_malformed_270_is_refused_with_a_999_like_reason(
    simulator: httpx.AsyncClient,
) -> None:
    document = build_270(inquiry("A100200300"), created_at=CREATED_AT)
    assert "~SE*13*0001~" in document
    document = document.replace("~SE*13*", "~SE*14*")

    response = await simulator.post("/x12/270", content=document)

    assert response.status_code == 400
    assert response.text.startswith("999 rejected") and "SE01 says '14' segments" in response.text
    assert (await simulator.get("/stats")).json() == {}


async def test_the_answer_is_written_in_the_separators_of_the_inquiry(
    simulator: httpx.AsyncClient,
) -> None:
    interchange = parse_interchange(build_270(inquiry("A100200300"), created_at=CREATED_AT))
    [group] = interchange.groups
    pipes = Separators(element="|", component=">", repetition="!", segment="~")
    document = render(
        [
            interchange.header,
            group.header,
            *interchange.transaction_sets[0].segments,
            group.trailer,
            interchange.trailer,
        ],
        pipes,
    )

    response = await simulator.post("/x12/270", content=document)

    assert response.text.startswith("ISA|00|")
    assert parse_271(response.text).benefits[0].service_types == ["30", "98"]


async def test_members_are_put_listed_and_deleted_at_runtime(simulator: httpx.AsyncClient) -> None:
    newcomer = {**ACTIVE_MEMBER, "member_id": "N100200300", "given": "Grace", "family": "Hopper"}

    assert (await simulator.put("/members/N100200300", json=newcomer)).status_code == 200
    listed = {m["member_id"]: m for m in (await simulator.get("/members")).json()}
    assert set(listed) == {"A100200300", "I100200300", "F100200300", "N100200300"}
    assert listed["N100200300"]["benefits"][0]["amount"] == "1500.00"
    assert (await simulator.put("/members/OTHER", json=newcomer)).status_code == 422
    assert (
        await simulator.put("/members/N100200300", json={**newcomer, "status": "lapsed"})
    ).status_code == 422
    assert (await simulator.delete("/members/N100200300")).status_code == 204
    assert (await simulator.delete("/members/N100200300")).status_code == 404
    assert (await answer(simulator, inquiry("N100200300"))).status is ResponseStatus.REJECTED
    assert (await simulator.get("/health")).json() == {"status": "ok"}


async def test_the_bundled_sample_ppo_member_answers_the_cost_shares_of_its_record() -> None:
    members = load_members()
    app = create_app(members)
    assert {m["behaviour"] for m in members.values()} == {
        "normal",
        "delay",
        "unavailable",
        "malformed",
    }

    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://simulator"
    ) as client:
        response = await answer(
            client, inquiry("W123456789", service_types=["30", "98", "UC", "86", "88"])
        )

    assert response.status is ResponseStatus.ACTIVE and response.plan_name == "Gold PPO"
    plan = CostShare(
        service_type="30",
        coinsurance_bp=2000,
        deductible=150000,
        deductible_remaining=65000,
        out_of_pocket_max=500000,
        out_of_pocket_remaining=415000,
    )
    assert cost_share(response.benefits, "30") == plan
    assert cost_share(response.benefits, "98") == plan.model_copy(
        update={"service_type": "98", "copay": 2500, "coinsurance_bp": 0}
    )
    assert cost_share(response.benefits, "UC") == plan.model_copy(
        update={"service_type": "UC", "copay": 5000}
    )
    assert cost_share(response.benefits, "86", in_network=False) == CostShare(
        service_type="86",
        in_network=False,
        copay=25000,
        coinsurance_bp=4000,
        deductible=300000,
    )
    assert cost_share(response.benefits, "88") == plan.model_copy(
        update={"service_type": "88", "copay": 1000}
    )


async def test_the_bundled_family_members_children_are_answered_as_dependents() -> None:
    app = create_app(load_members())

    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://simulator"
    ) as client:
        alicia, mary_ellen = [
            await answer(
                client,
                inquiry(
                    "F200400600",
                    subscriber=Member(member_id="F200400600", family_name="BOOLE"),
                    dependent=Member(member_id="F200400600", family_name="BOOLE", given_name=given),
                ),
            )
            for given in ("ALICIA", "MARY ELLEN")
        ]

    assert (alicia.status, alicia.plan_name) == (ResponseStatus.ACTIVE, "Gold PPO Family")
    assert cost_share(alicia.benefits, "98") == CostShare(
        service_type="98", copay=2500, coinsurance_bp=2000, deductible=300000
    )
    assert mary_ellen.status is ResponseStatus.INACTIVE  # aged out: her own status
