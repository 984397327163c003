"""deploy/agencies.py as operators run it: the catalogue's agencies provisioned, each password made
once and kept in a file only its owner reads, the same password on every later run; --revoke takes
the access away again."""

from __future__ import annotations

import asyncio
import json
import stat
import subprocess
import sys
import uuid
from pathlib import Path

import pytest
from aiokafka import AIOKafkaConsumer

from deploy.agencies import AgencyAccess

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[3]
TOOL = ROOT / "deploy" / "agencies.py"


async def agencies_tool(*args: str) -> str:
    """Run deploy/agencies.py as deploy/infra.sh does; its stdout, failing on a non-zero status."""
    process = await asyncio.create_subprocess_exec(
        sys.executable, str(TOOL), *args, stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )
    stdout, stderr = await asyncio.wait_for(process.communicate(), timeout=60)
    assert process.returncode == 0, stderr.decode()
    return stdout.decode()


async def test_the_tool_provisions_the_catalogue_and_keeps_each_password(
    tmp_path: Path, kafka_bootstrap: str
) -> None:
    agency_id = f"cli-{uuid.uuid4().hex[:8]}"
    catalogue = tmp_path / "collections.toml"
    catalogue.write_text(
        f'[policy]\nreminder_days = 7\n\n[[agencies]]\nid = "{agency_id}"\nname = "CLI Test"\n'
        'fee_rate_bp = 2000\n'
    )
    secrets_dir = tmp_path / "agencies"
    common = ["--secrets-dir", str(secrets_dir), "--bootstrap", kafka_bootstrap]
    try:
        first = await agencies_tool("--catalogue", str(catalogue), *common)

        secret = secrets_dir / f"{agency_id}.json"
        assert stat.S_IMODE(secret.stat().st_mode) == 0o600
        kept = json.loads(secret.read_text())
        assert {k: v for k, v in kept.items() if k != "password"} == {
            "username": f"agency-{agency_id}",
            "topic": f"collections.agency.{agency_id}",
            "group_prefix": f"agency.{agency_id}.",
            "bootstrap": kept["bootstrap"],
            "security_protocol": "SASL_PLAINTEXT",
            "sasl_mechanism": "SCRAM-SHA-512",
        }
        assert len(kept["password"]) >= 24
        assert f"agency {agency_id}: topic collections.agency.{agency_id}: created" in first

        second = await agencies_tool("--catalogue", str(catalogue), *common)
        assert json.loads(secret.read_text()) == kept  # the same password, re-used
        assert f"agency {agency_id}: ACLs up to date (3)" in second

        # What the file holds is all an agency needs.
        access = AgencyAccess(**kept)
        consumer = AIOKafkaConsumer(
            access.topic, group_id=f"{access.group_prefix}check", **access.client_config()
        )
        await consumer.start()
        try:
            assert consumer.subscription() == {access.topic}
            assert await consumer.topics() == {access.topic}  # the only topic it can see
        finally:
            await consumer.stop()
    finally:
        revoked = await agencies_tool("--revoke", agency_id, "--delete-topic", *common)

    assert f"agency {agency_id}: topic collections.agency.{agency_id} deleted" in revoked
    assert not (secrets_dir / f"{agency_id}.json").exists()
