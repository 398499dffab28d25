from __future__ import annotations

import hashlib
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from cartdesk.auth import service as auth_service
from cartdesk.auth.models import Role
from cartdesk.auth.schemas import TeamCreate
from cartdesk.conversations import service as conversations_service
from cartdesk.conversations.models import Attachment, Conversation, Message
from cartdesk.conversations.schemas import ConversationUpdate
from cartdesk.events.schemas import SYSTEM
from cartdesk.jobs.models import Job
from cartdesk.kit.errors import NotFound, PayloadTooLarge
from cartdesk.kit.storage import LocalStore, S3Store, StagingFile, safe_filename
from tests.api.conftest import Caller, caller, error_of, fields_of
from tests.factories.auth import principal
from tests.factories.conversations import make_conversation

API = "/api/v1/attachments"


def upload(client, caller: Caller, data: bytes, *, filename: str = "label.pdf", content_type: str = "application/pdf"):  # type: ignore[no-untyped-def]
    return client.post(API, headers=caller.headers, files={"file": (filename, data, content_type)})


def test_upload_download_and_send_on_a_reply(client, agent: Caller, session: Session, settings) -> None:
    data = b"%PDF-1.4 shipping label " * 100
    response = upload(client, agent, data)
    assert response.status_code == 201, response.text
    body = response.json()
    assert body["size"] == len(data) and body["sha256"] == hashlib.sha256(data).hexdigest()
    assert body["filename"] == "label.pdf" and body["message_id"] is None
    stored = settings.attachments_path / body["sha256"][:2] / body["sha256"][2:4] / body["sha256"]
    assert stored.read_bytes() == data

    got = client.get(f"{API}/{body['id']}", headers=agent.headers)
    assert got.status_code == 200 and got.content == data
    assert got.headers["content-type"] == "application/pdf"
    assert got.headers["content-disposition"].startswith("attachment;")
    assert got.headers["x-content-type-options"] == "nosniff"

    convo = make_conversation(session)
    reply = client.post(f"/api/v1/conversations/{convo.id}/messages", headers=agent.headers,
                        json={"kind": "reply", "body": "Here is your label", "attachment_ids": [body["id"]]})
    assert reply.status_code == 201, reply.text
    assert [a["id"] for a in reply.json()["attachments"]] == [body["id"]]
    detail = client.get(f"/api/v1/conversations/{convo.id}", headers=agent.headers).json()
    assert [a["filename"] for a in detail["messages"][-1]["attachments"]] == ["label.pdf"]

    # Now anyone who may read the conversation may download it.
    colleague = caller(session)
    assert client.get(f"{API}/{body['id']}", headers=colleague.headers).content == data


def test_unattached_uploads_are_private_to_their_uploader(client, agent: Caller, session: Session) -> None:
    body = upload(client, agent, b"secret draft").json()
    other = caller(session)
    response = client.get(f"{API}/{body['id']}", headers=other.headers)
    assert response.status_code == 404 and error_of(response)["code"] == "not_found"
    admin = caller(session, role=Role.admin)
    assert client.get(f"{API}/{body['id']}", headers=admin.headers).status_code == 404
    # And nobody else can put it on their message.
    convo = make_conversation(session)
    stolen = client.post(f"/api/v1/conversations/{convo.id}/messages", headers=other.headers,
                         json={"body": "look", "attachment_ids": [body["id"]]})
    assert stolen.status_code == 422 and fields_of(stolen) == {"attachment_ids"}


def test_attachments_of_another_teams_conversation_are_404(client, session: Session, agent: Caller) -> None:
    billing = auth_service.create_team(session, actor=SYSTEM, team_in=TeamCreate(name="Billing team"))
    returns = auth_service.create_team(session, actor=SYSTEM, team_in=TeamCreate(name="Returns team"))
    convo = make_conversation(session)
    boss = principal(caller(session, role=Role.admin).user)
    conversations_service.update(session, principal=boss, conversation=convo, update_in=ConversationUpdate(team_id=billing.id))
    billing_agent = caller(session, team_ids=[billing.id])
    att = upload(client, billing_agent, b"invoice").json()
    client.post(f"/api/v1/conversations/{convo.id}/messages", headers=billing_agent.headers,
                json={"kind": "note", "body": "invoice attached", "attachment_ids": [att["id"]]})
    outsider = caller(session, team_ids=[returns.id])
    assert client.get(f"{API}/{att['id']}", headers=outsider.headers).status_code == 404
    assert client.get(f"{API}/{att['id']}", headers=billing_agent.headers).status_code == 200


def test_a_failed_attach_leaves_nothing_half_written(client, agent: Caller, session: Session) -> None:
    convo = make_conversation(session)
    before_count = convo.message_count
    jobs_before = session.scalar(select(func.count()).select_from(Job))
    ok = upload(client, agent, b"fine").json()
    response = client.post(f"/api/v1/conversations/{convo.id}/messages", headers=agent.headers,
                           json={"body": "two files", "attachment_ids": [ok["id"], 987654]})
    assert response.status_code == 422
    assert error_of(response)["details"] == [{"field": "attachment_ids", "invalid": [987654]}]
    session.expire_all()
    assert session.scalar(select(func.count()).select_from(Message).where(Message.conversation_id == convo.id)) == before_count
    assert session.get(Conversation, convo.id).message_count == before_count
    assert session.get(Conversation, convo.id).assignee_id is None
    assert session.get(Attachment, ok["id"]).message_id is None
    assert session.scalar(select(func.count()).select_from(Job)) == jobs_before


def test_an_attachment_goes_on_one_message_only(client, agent: Caller, session: Session) -> None:
    convo = make_conversation(session)
    att = upload(client, agent, b"once").json()
    first = client.post(f"/api/v1/conversations/{convo.id}/messages", headers=agent.headers,
                        json={"kind": "note", "body": "a", "attachment_ids": [att["id"], att["id"]]})
    assert first.status_code == 201 and len(first.json()["attachments"]) == 1
    second = client.post(f"/api/v1/conversations/{convo.id}/messages", headers=agent.headers,
                         json={"kind": "note", "body": "b", "attachment_ids": [att["id"]]})
    assert second.status_code == 422


def _multipart(data_chunks: Iterator[bytes], *, boundary: str = "cartdeskboundary") -> Iterator[bytes]:
    yield (f"--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"big.bin\"\r\n"
           "Content-Type: application/octet-stream\r\n\r\n").encode()
    yield from data_chunks
    yield f"\r\n--{boundary}--\r\n".encode()


def _staging_files(app) -> list[Path]:  # type: ignore[no-untyped-def]
    from cartdesk.conversations.attachment_routes import attachment_store

    class _Req:
        pass

    req = _Req()
    req.app = app  # type: ignore[attr-defined]
    staging = attachment_store(req).staging_dir  # type: ignore[arg-type]
    return list(staging.glob("*")) if staging.exists() else []


def test_oversized_uploads_are_413_declared_or_streamed(client, agent: Caller, session: Session) -> None:
    client.app.state.settings.max_attachment_bytes = 10_000
    declared = upload(client, agent, b"x" * 200_000)
    assert declared.status_code == 413
    assert error_of(declared)["code"] == "payload_too_large"
    assert error_of(declared)["details"] == {"max_bytes": 10_000}

    # No Content-Length (chunked): refused as soon as the file passes the limit.
    sent = []

    def chunks() -> Iterator[bytes]:
        for _ in range(100):
            sent.append(4096)
            yield b"y" * 4096

    streamed = client.post(
        API, headers={**agent.headers, "Content-Type": "multipart/form-data; boundary=cartdeskboundary"},
        content=_multipart(chunks()),
    )
    assert streamed.status_code == 413, streamed.text
    assert error_of(streamed)["code"] == "payload_too_large"
    assert session.scalar(select(func.count()).select_from(Attachment)) == 0
    assert _staging_files(client.app) == []

    just_fits = upload(client, agent, b"z" * 10_000)
    assert just_fits.status_code == 201 and just_fits.json()["size"] == 10_000


async def test_a_streamed_upload_stops_being_read_at_the_limit(tmp_path: Path) -> None:
    from starlette.requests import Request

    from cartdesk.conversations.attachment_routes import _receive_file

    body = _multipart(iter([b"y" * 4096] * 1000))
    pulled = 0

    async def receive() -> dict:
        nonlocal pulled
        pulled += 1
        return {"type": "http.request", "body": next(body), "more_body": True}

    request = Request({"type": "http", "method": "POST", "headers": [
        (b"content-type", b"multipart/form-data; boundary=cartdeskboundary")]}, receive)
    with pytest.raises(PayloadTooLarge), StagingFile(tmp_path, max_bytes=10_000) as staging:
        await _receive_file(request, staging)
    # 10,000 bytes is three 4 KiB chunks: the rest of the 4 MB body is never read.
    assert pulled <= 5
    assert list(tmp_path.iterdir()) == []


def test_upload_input_errors(client, agent: Caller, session: Session) -> None:
    not_multipart = client.post(API, headers=agent.headers, json={"file": "x"})
    assert not_multipart.status_code == 422 and fields_of(not_multipart) == {"file"}
    wrong_field = client.post(API, headers=agent.headers, files={"document": ("a.txt", b"x", "text/plain")})
    assert wrong_field.status_code == 422 and fields_of(wrong_field) == {"file"}
    garbage = client.post(API, headers={**agent.headers, "Content-Type": "multipart/form-data; boundary=zz"},
                          content=b"this is not multipart at all")
    assert garbage.status_code == 422
    assert client.post(API, files={"file": ("a.txt", b"x", "text/plain")}).status_code == 401
    reader = caller(session, scopes=["conversations:read"])
    forbidden = upload(client, reader, b"x")
    assert forbidden.status_code == 403 and error_of(forbidden)["details"] == {"scope": "conversations:write"}
    assert client.get(f"{API}/987654", headers=agent.headers).status_code == 404


def test_filenames_and_types_are_made_safe(client, agent: Caller) -> None:
    evil = upload(client, agent, b"<script>alert(1)</script>", filename="../../etc/passwd.html", content_type="text/html")
    assert evil.status_code == 201
    assert evil.json()["filename"] == "passwd.html"
    got = client.get(f"{API}/{evil.json()['id']}", headers=agent.headers)
    assert got.headers["content-disposition"].startswith("attachment;")
    assert "sandbox" in got.headers["content-security-policy"]

    image = upload(client, agent, b"\x89PNG\r\n\x1a\n....", filename="Größe 📦.png", content_type="image/png")
    got = client.get(f"{API}/{image.json()['id']}", headers=agent.headers)
    assert got.headers["content-disposition"].startswith("inline;")
    assert "filename*=UTF-8''Gr%C3%B6%C3%9Fe%20%F0%9F%93%A6.png" in got.headers["content-disposition"]

    # Built by hand: httpx2 (which Starlette's TestClient prefers when installed, e.g. with the ml
    # extra) refuses to send a header with a line break, but a hostile client would.
    boundary = "cartdesk-test-boundary"
    raw = (f"--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"a.bin\"\r\n"
           f"Content-Type: text/html; charset=utf-8\r\nX-Evil: 1\r\n\r\nx\r\n--{boundary}--\r\n").encode()
    odd = client.post(API, headers={**agent.headers, "Content-Type": f"multipart/form-data; boundary={boundary}"},
                      content=raw)
    assert odd.json()["content_type"] in ("text/html", "application/octet-stream")


def test_the_same_bytes_are_stored_once(client, agent: Caller, settings) -> None:
    a = upload(client, agent, b"same bytes", filename="a.txt").json()
    b = upload(client, agent, b"same bytes", filename="b.txt").json()
    assert a["id"] != b["id"] and a["sha256"] == b["sha256"]
    blobs = [p for p in settings.attachments_path.rglob("*") if p.is_file() and ".staging" not in p.parts]
    assert len(blobs) == 1


def test_safe_filename() -> None:
    assert safe_filename("..\\..\\boot.ini") == "boot.ini"
    assert safe_filename("in\x00voice\n\r\u202e.pdf") == "invoice.pdf"
    assert safe_filename("   ") == "attachment"
    assert safe_filename(".htaccess") == "htaccess"
    long = safe_filename("x" * 500 + ".pdf")
    assert len(long) == 200 and long.endswith(".pdf")


def test_local_store_refuses_keys_it_did_not_make(tmp_path: Path) -> None:
    store = LocalStore(tmp_path)
    with pytest.raises(ValueError):
        store.open("../../etc/passwd")
    with pytest.raises(NotFound):
        store.open("ab/cd/" + "ab" + "cd" + "0" * 60)


@pytest.fixture
def s3(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    import boto3
    import moto  # a dev dependency: an in-process S3 API, so S3Store is tested without a network

    for key, value in {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing",
                       "AWS_DEFAULT_REGION": "us-east-1"}.items():
        monkeypatch.setenv(key, value)
    with moto.mock_aws():
        boto3.client("s3", region_name="us-east-1").create_bucket(Bucket="cartdesk-test")
        yield


def test_s3_store_round_trip(s3: None, tmp_path: Path) -> None:
    store = S3Store(bucket="cartdesk-test", access_key="testing", secret_key="testing", staging_dir=tmp_path)
    with StagingFile(store.staging_dir, max_bytes=1_000_000) as staging:
        staging.write(b"hello ")
        staging.write(b"s3")
        staged = staging.finish()
    key = store.save(staged, content_type="text/plain")
    assert not staged.path.exists()
    assert store.exists(key)
    assert b"".join(store.open(key)) == b"hello s3"
    head = store.client.head_object(Bucket="cartdesk-test", Key="attachments/" + key)
    assert head["ContentType"] == "text/plain"
    store.delete(key)
    assert not store.exists(key)
    with pytest.raises(NotFound):
        store.open(key)


def test_s3_backend_through_the_api(s3: None, client, agent: Caller, settings) -> None:
    s = client.app.state.settings
    s.attachments_backend, s.s3_bucket, s.s3_access_key, s.s3_secret_key = "s3", "cartdesk-test", "testing", "testing"
    client.app.state.attachment_store = None
    body = upload(client, agent, b"stored in a bucket").json()
    assert client.get(f"{API}/{body['id']}", headers=agent.headers).content == b"stored in a bucket"
    assert not settings.attachments_path.exists() or not any(
        p.is_file() and ".staging" not in p.parts for p in settings.attachments_path.rglob("*")
    )
