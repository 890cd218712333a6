"""Receipts (签收), extension requests (延期申请) and leaders' sign-offs in the workspace (issue 12):
a unit's inbox puts unacknowledged tasks first with a 签收 button; a unit asks for a later deadline
on the task page; supervisors approve or deny it from the queue; a leader's queue lists the items
awaiting the leader's sign-off. Every refusal is shown beside its form with what was typed kept;
the new forms need their CSRF token and never reach another unit's task."""

from __future__ import annotations

import re
import warnings

from engine import accounts
from engine.api import Duban

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    from fastapi.testclient import TestClient

from web.app import create_app
from test_web import Browser, people, trail_count  # noqa: F401  (people: the fixture)


def _office_task(app: Duban, title: str, due: str = "2025-07-31", workflow: str | None = None) -> int:
    extra = {"workflow": workflow} if workflow else {}
    return app.add_task("sup", title, problem="A1.1", leader="办公室主任", unit="办公室", due=due, **extra).task.id


def _version(app: Duban, task_id: int) -> str:
    return str(app.get_task(task_id).task.version)


def test_the_inbox_puts_unacknowledged_tasks_first_and_acknowledges_them(people: Duban) -> None:
    received = _office_task(people, "已签收的任务", due="2025-07-10")
    people.ack("office", received)
    new = _office_task(people, "新交办的任务", due="2025-09-30")  # later deadline, yet first: not received
    b = Browser(people)
    b.login("office")
    inbox = b.get("/inbox").text
    order = [int(x) for x in re.findall(r'data-task="(\d+)"', inbox)]
    assert order == [new, received]
    assert f'data-unacked="{new}"' in inbox and f'data-unacked="{received}"' not in inbox
    assert inbox.count('data-form="ack"') == 1 and f'action="/tasks/{new}/ack"' in inbox

    stale = _version(people, new)
    done = b.post(f"/tasks/{new}/ack", {"version": stale, "back": "inbox", "task": str(new)})
    assert done.status_code == 303 and done.headers["location"] == "/inbox?done=ack"
    task = people.get_task(new).task
    assert task.acked_by == "office" and task.acked_at is not None
    assert 'data-form="ack"' not in b.get("/inbox?done=ack").text

    # a second receipt (a page opened before the first): refused beside the task's form, nothing written
    before = trail_count(people)
    again = b.post(f"/tasks/{new}/ack", {"back": "inbox", "task": str(new)})
    assert again.status_code == 409
    assert re.search(r'data-refusal="ack">[^<]*office', again.text)
    assert trail_count(people) == before
    people.verify()


def test_a_unit_asks_for_a_later_deadline_and_a_supervisor_approves_it(people: Duban, task_id: int) -> None:
    unit, sup = Browser(people), Browser(people)
    unit.login("office")
    sup.login("sup")
    page = unit.get(f"/tasks/{task_id}").text
    assert 'data-form="request-extension"' in page and 'data-form="extend"' not in page

    # not later than the deadline: refused beside the form, the reason typed kept
    early = unit.post(f"/tasks/{task_id}/request-extension", {"due": "2025-07-20", "reason": "需要协调财政资金"})
    assert early.status_code == 409
    assert 'data-refusal="request-extension"' in early.text and "需要协调财政资金" in early.text
    assert people.list_extension_requests() == []

    asked = unit.post(f"/tasks/{task_id}/request-extension", {"due": "2025-08-29", "reason": "需要协调财政资金",
                                                              "version": _version(people, task_id)})
    assert asked.status_code == 303
    assert people.get_task(task_id).task.due.isoformat() == "2025-07-31"  # not until approved
    page = unit.get(f"/tasks/{task_id}?done=request-extension").text
    assert re.search(r'data-request="\d+" data-status="pending"', page)

    queue = sup.get("/queue").text
    request_id = people.list_extension_requests(pending=True)[0].id
    assert f'data-request="{request_id}"' in queue and "需要协调财政资金" in queue and "2025-08-29" in queue
    # denying needs a reason: refused beside the deny form, the note typed in the approve form untouched
    empty = sup.post(f"/extensions/{request_id}/deny", {"reason": " "})
    assert empty.status_code == 422
    assert re.search(rf'data-refusal="deny-{request_id}">Reason: must not be empty<', empty.text)
    approved = sup.post(f"/extensions/{request_id}/approve", {"note": "同意延期"})
    assert approved.status_code == 303 and approved.headers["location"] == "/queue?done=approve"
    assert people.get_task(task_id).task.due.isoformat() == "2025-08-29"
    assert f'data-request="{request_id}"' not in sup.get("/queue").text

    # decided already: the refusal names it, beside the form
    twice = sup.post(f"/extensions/{request_id}/deny", {"reason": "不同意"})
    assert twice.status_code == 409
    assert re.search(rf'data-refusal="deny-{request_id}">[^<]*approved already, by sup', twice.text)
    assert people.list_extension_requests()[0].status == "approved"
    people.verify()


def test_a_denied_request_keeps_the_deadline_and_the_reason_typed_stays_on_refusal(people: Duban,
                                                                                   task_id: int) -> None:
    request = people.request_extension("office", task_id, "2025-08-15", "人员不足")
    people.approve_extension("sup", people.request_extension("office", _office_task(people, "另一项"),
                                                             "2025-08-20", "等待审批").id)
    sup = Browser(people)
    sup.login("sup")
    sup.get("/queue")
    denied = sup.post(f"/extensions/{request.id}/deny", {"reason": "理由不充分，请按期完成"})
    assert denied.status_code == 303
    assert people.get_task(task_id).task.due.isoformat() == "2025-07-31"
    assert people.list_extension_requests(task_id=task_id)[0].status == "denied"


def test_the_new_forms_need_their_csrf_token_and_never_reach_another_units_task(people: Duban,
                                                                                task_id: int) -> None:
    request = people.request_extension("office", task_id, "2025-08-15", "人员不足")
    token = accounts.new_token(people, "root", "finance").token
    before = trail_count(people)
    unit = Browser(people)
    unit.login("office")
    unit.get("/inbox")
    sup = Browser(people)
    sup.login("sup")
    sup.get("/queue")
    for client, path, data in ((unit, f"/tasks/{task_id}/ack", {}),
                               (unit, f"/tasks/{task_id}/request-extension", {"due": "2025-09-01", "reason": "x"}),
                               (sup, f"/extensions/{request.id}/approve", {}),
                               (sup, f"/extensions/{request.id}/deny", {"reason": "x"})):
        assert client.client.post(path, data=data).status_code == 403, path
        assert client.client.post(path, data={**data, "csrf_token": "x" * 43}).status_code == 403, path
    assert trail_count(people) == before

    other = Browser(people)
    other.login("finance")
    other.get("/inbox")
    assert other.post(f"/tasks/{task_id}/ack").status_code == 404
    assert other.post(f"/tasks/{task_id}/request-extension", {"due": "2025-09-01", "reason": "x"}).status_code == 404
    assert other.post(f"/extensions/{request.id}/approve").status_code == 404
    assert other.post(f"/extensions/{request.id}/deny", {"reason": "x"}).status_code == 404
    assert other.get("/queue").status_code == 403
    auth = {"Authorization": f"Bearer {token}"}
    api = other.client
    assert api.post(f"/api/v1/tasks/{task_id}/ack", json={}, headers=auth).status_code == 404
    assert api.post(f"/api/v1/tasks/{task_id}/extension-requests", json={"due": "2025-09-01", "reason": "x"},
                    headers=auth).status_code == 404
    assert api.get("/api/v1/extension-requests", headers=auth).json() == []
    assert api.post(f"/api/v1/extension-requests/{request.id}/approve", json={}, headers=auth).status_code == 404
    assert trail_count(people) == before
    assert people.get_task(task_id).task.acked_at is None


def test_the_api_acknowledges_asks_and_decides(people: Duban, task_id: int) -> None:
    client = TestClient(create_app(duban=people))
    unit = {"Authorization": f"Bearer {accounts.new_token(people, 'root', 'office').token}"}
    sup = {"Authorization": f"Bearer {accounts.new_token(people, 'root', 'sup').token}"}
    acked = client.post(f"/api/v1/tasks/{task_id}/ack", json={"note": "已收到"}, headers=unit)
    assert acked.status_code == 200 and acked.json()["acked_by"] == "office"
    again = client.post(f"/api/v1/tasks/{task_id}/ack", json={}, headers=unit)
    assert again.status_code == 409 and again.json()["code"] == "already_acknowledged"
    asked = client.post(f"/api/v1/tasks/{task_id}/extension-requests", json={"due": "2025-08-29", "reason": "人员不足"},
                        headers=unit)
    assert asked.status_code == 201 and asked.json()["status"] == "pending"
    request_id = asked.json()["id"]
    pending = client.get("/api/v1/extension-requests?pending=true", headers=sup).json()
    assert [r["id"] for r in pending] == [request_id]
    assert client.post(f"/api/v1/extension-requests/{request_id}/approve", json={}, headers=unit).status_code == 403
    done = client.post(f"/api/v1/extension-requests/{request_id}/approve", json={"note": "同意"}, headers=sup)
    assert done.status_code == 200 and done.json()["status"] == "approved"
    assert client.get(f"/api/v1/tasks/{task_id}", headers=unit).json()["task"]["due"] == "2025-08-29"
    refused = client.post(f"/api/v1/extension-requests/{request_id}/deny", json={"reason": "x"}, headers=sup)
    assert refused.status_code == 409 and refused.json()["code"] == "request_refused"


def test_a_leaders_queue_lists_the_items_awaiting_the_leaders_sign_off(people: Duban) -> None:
    tid = _office_task(people, "采购未比价", workflow="rectification-strict")
    people.fire("office", tid, "start")
    people.add_evidence_bytes("office", tid, "纪要.txt", "纪要".encode())
    people.fire("office", tid, "complete", note="已整改")
    lead, unit = Browser(people), Browser(people)
    lead.login("lead")
    unit.login("office")
    refused = unit.get("/queue")
    assert refused.status_code == 403 and "may not open the supervisors" in refused.text
    unit.client.get("/lang/zh?next=/queue")
    refused = unit.get("/queue").text.split("<main", 1)[-1]
    assert "打开待销号队列" in refused and "审签某一环节的领导" in refused and "queue" not in refused  # in the page's language
    assert 'href="/queue"' in lead.get("/inbox").text
    queue = lead.get("/queue")
    assert queue.status_code == 200 and f'data-task="{tid}"' in queue.text
    signed = lead.post(f"/tasks/{tid}/event-review", {"version": _version(people, tid), "back": "queue"})
    assert signed.status_code == 303 and signed.headers["location"] == f"/queue?done=signoff&task={tid}"
    after = lead.get(signed.headers["location"]).text
    assert f'data-task="{tid}"' not in after  # now the supervision office's step
    assert 'class="done"' in after
    sup = Browser(people)
    sup.login("sup")
    assert f'data-task="{tid}"' in sup.get("/queue").text
    assert people.get_task(tid).task.state == "completed"
    people.verify()


def test_a_request_whose_task_was_struck_off_leaves_the_queue_and_the_api_s_pending_list(people: Duban) -> None:
    tid = _office_task(people, "公车私用")
    request_id = people.request_extension("office", tid, "2025-08-29", "人员不足").id
    people.fire("office", tid, "start")
    people.add_evidence_bytes("office", tid, "纪要.txt", "纪要".encode())
    people.fire("office", tid, "complete", note="已整改")
    people.fire("sup", tid, "review", note="销号")  # struck off before anyone decided the request
    sup = Browser(people)
    sup.login("sup")
    assert f'data-request="{request_id}"' not in sup.get("/queue").text
    client = TestClient(create_app(duban=people))
    auth = {"Authorization": f"Bearer {accounts.new_token(people, 'root', 'sup').token}"}
    assert client.get("/api/v1/extension-requests?pending=true", headers=auth).json() == []
    assert [r["status"] for r in client.get("/api/v1/extension-requests", headers=auth).json()] == ["lapsed"]
    refused = client.post(f"/api/v1/extension-requests/{request_id}/approve", json={}, headers=auth)
    assert refused.status_code == 409 and "the task is closed (Struck off)" in str(refused.json())


def test_after_login_whoever_has_a_queue_lands_on_it_and_a_unit_on_its_inbox(people: Duban) -> None:
    # lead signs the unit head's step of rectification-strict, so a leader has a queue as supervisors do
    for name, start in (("office", "/inbox"), ("sup", "/queue"), ("root", "/queue"), ("lead", "/queue")):
        b = Browser(people)
        done = b.login(name)
        assert done.status_code == 303 and done.headers["location"] == "/", name
        home = b.get("/")
        assert home.status_code == 303 and home.headers["location"] == start, name
        assert b.get(start).status_code == 200, name
        for route in ("/inbox", "/dashboard", "/items"):  # every page is still there
            assert b.get(route).status_code == 200, (name, route)


def test_the_supervisors_queue_lists_only_items_awaiting_their_step_and_the_rest_apart(people: Duban) -> None:
    tid = _office_task(people, "采购未比价", workflow="rectification-strict")
    plain = _office_task(people, "台账不全")  # rectification: no chain, struck off by supervisors as before
    for task in (tid, plain):
        people.fire("office", task, "start")
        people.add_evidence_bytes("office", task, "纪要.txt", "纪要".encode())
        people.fire("office", task, "complete", note="已整改")
    sup, lead = Browser(people), Browser(people)
    sup.login("sup")
    lead.login("lead")
    sup.client.get("/lang/en?next=/queue")
    queue = sup.get("/queue").text
    assert f'data-task="{plain}"' in queue
    assert f'data-task="{tid}"' not in queue and f'/tasks/{tid}/event-review' not in queue  # no button to be refused
    assert f'data-awaiting-other="{tid}"' in queue
    assert "Awaiting others' sign-off" in queue and "awaits a leader of unit 办公室" in queue
    sup.client.get("/lang/zh?next=/queue")
    queue = sup.get("/queue").text
    assert f'data-awaiting-other="{tid}"' in queue and "待他人审核" in queue
    assert "Awaiting" not in queue.split("<main", 1)[-1]
    assert f'data-task="{tid}"' in lead.get("/queue").text
    assert lead.post(f"/tasks/{tid}/event-review", {"version": _version(people, tid), "back": "queue"}).status_code == 303
    queue = sup.get("/queue").text
    assert f'data-task="{tid}"' in queue and f'data-awaiting-other="{tid}"' not in queue  # now the office's step
    mine = lead.get("/queue").text
    assert f'data-task="{tid}"' not in mine and f'data-awaiting-other="{tid}"' in mine
    people.verify()
