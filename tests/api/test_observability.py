from __future__ import annotations

from pathlib import Path

from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import update
from sqlalchemy.orm import Session

from cartdesk.config import Settings
from cartdesk.conversations import service as conversations_service
from cartdesk.conversations.models import Status
from cartdesk.conversations.schemas import ConversationUpdate
from cartdesk.jobs import service as jobs_service
from cartdesk.jobs.models import Job, JobStatus
from tests.api.conftest import Caller
from tests.factories.auth import principal
from tests.factories.conversations import make_conversation


def _samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    out = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            out[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return out


def test_healthz(client) -> None:
    response = client.get("/healthz")
    assert response.status_code == 200 and response.json() == {"status": "ok"}


def test_healthz_is_503_and_metrics_say_so_when_the_database_is_down(tmp_path: Path) -> None:
    from fastapi.testclient import TestClient

    from cartdesk.app import create_app
    from cartdesk.db.engine import create_database

    settings = Settings(database_url="sqlite:///" + str(tmp_path / "x.db"), data_dir=tmp_path,
                        secret_key="k", run_jobs_in_process=False)
    # Nothing listens on port 1: every connection attempt is refused at once.
    unreachable = create_database("postgresql+psycopg://postgres@127.0.0.1:1/nowhere")
    with TestClient(create_app(settings, database=unreachable)) as c:
        response = c.get("/healthz")
        assert response.status_code == 503 and response.json() == {"status": "unavailable"}
        metrics = c.get("/metrics")
        assert metrics.status_code == 200
        assert _samples(metrics.text)[("cartdesk_database_up", ())] == 0


def test_metrics_count_requests_by_route_template(client, agent: Caller) -> None:
    for _ in range(3):
        client.get("/api/v1/customers/424242", headers=agent.headers)
    client.get("/api/v1/customers/434343", headers=agent.headers)
    client.get("/no/such/page/123")
    response = client.get("/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    samples = _samples(response.text)
    key = ("cartdesk_http_requests_total",
           (("method", "GET"), ("route", "/api/v1/customers/{customer_id}"), ("status", "404")))
    assert samples[key] == 4
    assert samples[("cartdesk_http_request_duration_seconds_count", key[1])] == 4
    assert samples[("cartdesk_http_requests_total",
                    (("method", "GET"), ("route", "unmatched"), ("status", "404")))] == 1
    # Raw paths never become labels.
    assert "424242" not in response.text and "/no/such/page" not in response.text


def test_metrics_read_jobs_and_conversations_at_scrape_time(client, session: Session, admin: Caller) -> None:
    boss = principal(admin.user)
    a, b, _ = make_conversation(session), make_conversation(session), make_conversation(session)
    conversations_service.update(session, principal=boss, conversation=a, update_in=ConversationUpdate(status=Status.solved))
    conversations_service.update(session, principal=boss, conversation=b, update_in=ConversationUpdate(status=Status.pending))
    jobs_service.enqueue(session, "test.one", {"n": 1})
    failed = jobs_service.enqueue(session, "test.two", {"n": 2})
    jobs_service.enqueue(session, "test.three", {"n": 3})
    session.flush()
    session.execute(update(Job).where(Job.id == failed.id).values(status=JobStatus.failed))
    session.flush()

    samples = _samples(client.get("/metrics").text)
    assert samples[("cartdesk_database_up", ())] == 1
    assert samples[("cartdesk_jobs", (("status", "queued"),))] == 2
    assert samples[("cartdesk_jobs", (("status", "failed"),))] == 1
    by_status = {dict(labels)["status"]: v for (name, labels), v in samples.items() if name == "cartdesk_conversations"}
    assert by_status == {"new": 1, "open": 0, "pending": 1, "on_hold": 0, "solved": 1, "closed": 0}
