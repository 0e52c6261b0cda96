#!/usr/bin/env python3
"""Fidelity check of the herald Genesys Cloud emulator against the official Python SDK.

    python fidelity.py BASE_URL

Drives the emulator at BASE_URL (e.g. http://127.0.0.1:8089) only through the SDK's API classes.
The emulator's own control API (/emulator/v1) is called with urllib to set scenarios up
(connect an agent, inject faults, list conversations). Prints one line per check,
`ok NAME detail` or `FAIL NAME detail`, and exits 1 if any check failed.

Legacy web chat was removed from the SDK in 264.0.0: those checks run in a second interpreter that
has PureCloudPlatformClientV2 263.0.0 (see setup.sh); this script starts it with --legacy-chat.
"""

import base64
import json
import os
import subprocess
import sys
import time
import traceback
import urllib.error
import urllib.request
from datetime import datetime, timedelta, timezone

import PureCloudPlatformClientV2 as sdk
from PureCloudPlatformClientV2.rest import ApiException

# The emulator's seeded default org (config/emulator.toml).
ORG_ID = "8b1c3c5e-6a1f-4a8e-9c61-3f0e2a7d4b10"
CLIENT_ID, CLIENT_SECRET = "herald-demo", "herald-demo-secret"
DEPLOYMENT = "c5d6e7f8-1a2b-4c3d-8e9f-0a1b2c3d4e50"
CHAT_DEPLOYMENT = "0f1e2d3c-4b5a-4968-8776-5a4b3c2d1e00"
SUPPORT_QUEUE = "4d0e5f3a-2b1c-4e8d-9f7a-6c5b4a3e2d10"
ALICE = "11111111-aaaa-4bbb-8ccc-000000000001"
BOB = "11111111-aaaa-4bbb-8ccc-000000000002"
CAROL = "e1e2e3e4-0000-4000-8000-000000000001"
DAVE = "e1e2e3e4-0000-4000-8000-000000000002"
ORDER_SHIPPED = "9c8b7a6d-0000-4000-8000-000000000001"
LIBRARY = "1b2c3d4e-0000-4000-8000-0000000000aa"
AVAILABLE = "6a3af858-942f-489d-9700-5f9bcdcdae9b"
AWAY = "5e5c5c66-ea97-4e7f-ac41-6424784829f2"
MISSING = "00000000-0000-4000-8000-00000000dead"

# The SDK's deserialiser replaces an enum value it does not know with this marker.
OUTDATED = "outdated_sdk_version"


class CheckFailed(Exception):
    """A check's expectation did not hold."""


def expect(cond, message):
    if not cond:
        raise CheckFailed(message)


class Report:
    def __init__(self):
        self.passed = 0
        self.failed = 0

    def run(self, name, fn):
        """Runs one check; fn returns a short detail string."""
        try:
            detail = fn() or ""
            self.passed += 1
            print(f"ok   {name}  {detail}", flush=True)
            return True
        except CheckFailed as e:
            self.failed += 1
            print(f"FAIL {name}  {e}", flush=True)
        except ApiException as e:
            self.failed += 1
            print(f"FAIL {name}  unexpected ApiException {e.status}: {e.body}", flush=True)
        except KeyError as e:
            self.failed += 1
            print(f"FAIL {name}  not run: an earlier check did not produce {e}", flush=True)
        except Exception as e:  # noqa: BLE001 - any crash of a check is a failure of that check
            self.failed += 1
            last = traceback.extract_tb(e.__traceback__)[-1]
            print(f"FAIL {name}  {type(e).__name__}: {e} (line {last.lineno})", flush=True)
        return False


# ---------------------------------------------------------------------------------------------------------
# helpers


def mk(cls, **fields):
    """Builds an SDK model (their constructors take no arguments)."""
    obj = cls()
    for k, v in fields.items():
        setattr(obj, k, v)
    return obj


def outdated_enums(obj, path="$"):
    """Paths of every attribute the SDK deserialised as `outdated_sdk_version` (an enum value it rejected)."""
    found = []
    if isinstance(obj, str):
        if obj == OUTDATED:
            found.append(path)
    elif isinstance(obj, list):
        for i, v in enumerate(obj):
            found += outdated_enums(v, f"{path}[{i}]")
    elif isinstance(obj, dict):
        for k, v in obj.items():
            found += outdated_enums(v, f"{path}.{k}")
    elif hasattr(obj, "swagger_types"):
        for attr in obj.swagger_types:
            found += outdated_enums(getattr(obj, attr), f"{path}.{attr}")
    return found


def populated(obj, *paths):
    """Asserts every dotted path (`participants[0].messages[0].id`) is set on a deserialised model;
    also asserts no enum came back as outdated_sdk_version."""
    for path in paths:
        cur = obj
        for part in path.split("."):
            name, _, idx = part.partition("[")
            cur = getattr(cur, name) if name else cur
            if idx:
                i = int(idx.rstrip("]"))
                expect(isinstance(cur, list) and len(cur) > i, f"{path}: {name} has no item {i}")
                cur = cur[i]
            if cur is None:
                raise CheckFailed(f"{path} is None after deserialisation")
    bad = outdated_enums(obj)
    expect(not bad, f"enum values the SDK does not know: {bad}")


PRIMITIVES = {"str", "int", "float", "bool", "date", "datetime", "object", "LocalDateTime", "YearMonth"}


def unknown_fields(data, type_name, path="$"):
    """JSON keys the SDK model `type_name` has no attribute for (the SDK drops them silently, so a misspelt
    field name would only show up as a None attribute)."""
    if data is None or type_name in PRIMITIVES:
        return []
    if type_name.startswith("list["):
        inner = type_name[5:-1]
        return [u for i, v in enumerate(data or []) for u in unknown_fields(v, inner, f"{path}[{i}]")]
    if type_name.startswith("dict("):
        inner = type_name[5:-1].split(", ", 1)[1]
        return [u for k, v in (data or {}).items() for u in unknown_fields(v, inner, f"{path}.{k}")]
    model = getattr(sdk.models, type_name, None)
    if model is None or not isinstance(data, dict):
        return []
    inst = model()
    by_json = {j: a for a, j in inst.attribute_map.items()}
    found = []
    for key, value in data.items():
        attr = by_json.get(key)
        if attr is None:
            found.append(f"{path}.{key}")
        else:
            found += unknown_fields(value, inst.swagger_types[attr], f"{path}.{key}")
    return found


def known(api_client, type_name):
    """Asserts the last response is JSON whose every key is a field of the SDK model `type_name`."""
    resp = api_client.last_response
    content_type = resp.getheader("Content-Type") or ""
    expect(content_type.startswith("application/json"), f"Content-Type {content_type!r}")
    extra = unknown_fields(json.loads(resp.data), type_name)
    expect(not extra, f"fields {type_name} does not have: {extra}")


class ControlApi:
    """The emulator's control API (not part of Genesys Cloud), called with plain urllib."""

    def __init__(self, base):
        self.base = base.rstrip("/") + "/emulator/v1"

    def call(self, method, path, body=None):
        data = None if body is None else json.dumps(body).encode()
        req = urllib.request.Request(self.base + path, data=data, method=method)
        if data is not None:
            req.add_header("Content-Type", "application/json")
        try:
            with urllib.request.urlopen(req, timeout=10) as resp:
                raw = resp.read()
        except urllib.error.HTTPError as e:
            raise CheckFailed(f"control {method} {path} answered {e.code}: {e.read()[:200]!r}") from e
        return json.loads(raw) if raw else None

    def conversations(self):
        return self.call("GET", "/conversations")["entities"]

    def connect(self, conversation_id, user_id):
        self.call("POST", f"/conversations/{conversation_id}/agents/{user_id}/connect")

    def counters(self):
        return self.call("GET", "/counters")

    def now(self):
        """The emulator's virtual clock."""
        return datetime.strptime(self.call("GET", "/clock")["now"][:19], "%Y-%m-%dT%H:%M:%S").replace(tzinfo=timezone.utc)

    def fresh_start(self):
        """Makes a second run on the same emulator start like the first: ends every conversation and moves the
        virtual clock past the longest threading window (72 h), so agentless sends open new conversations."""
        if not self.conversations():
            return None
        closed = self.call("POST", "/conversations/close-all")["closed"]
        self.call("POST", "/clock/advance", {"seconds": 73 * 3600})
        return closed


def error_of(api_client, exc):
    """The ErrorBody of an ApiException, deserialised by the SDK's own deserialiser."""

    class Raw:
        data = exc.body

        @staticmethod
        def getheader(name, default=None):
            return exc.headers.get(name, default) if exc.headers else default

    return api_client.deserialize(Raw(), "ErrorBody")


def expect_api_error(api_client, fn, status, code=None, field=None):
    """Calls fn, which must raise ApiException(status); checks the ErrorBody and the correlation header.
    Returns (ErrorBody, exception)."""
    try:
        fn()
    except ApiException as e:
        expect(e.status == status, f"status {e.status}, wanted {status}: {e.body}")
        content_type = e.headers.get("Content-Type", "") if e.headers else ""
        expect(content_type.startswith("application/json"), f"error Content-Type {content_type!r}")
        body = error_of(api_client, e)
        corr = e.headers.get("ININ-Correlation-Id")
        expect(corr, "no ININ-Correlation-Id header")
        expect(body.context_id == corr, f"contextId {body.context_id!r} != ININ-Correlation-Id {corr!r}")
        expect(body.status == status, f"body status {body.status}")
        expect(body.message, "ErrorBody.message empty")
        if code is not None:
            expect(body.code == code, f"code {body.code!r}, wanted {code!r}")
        if field is not None:
            names = [d.field_name for d in (body.details or [])]
            expect(field in names or field in (body.message or ""), f"field {field!r} not named: {names} {body.message!r}")
        return body, e
    raise CheckFailed(f"no ApiException, wanted {status}")


def quietly(fn, *args, **kwargs):
    """Calls an SDK method the SDK marks deprecated (it warns on every call); returns (result, deprecated?)."""
    import warnings

    with warnings.catch_warnings(record=True) as seen:
        out = fn(*args, **kwargs)
    return out, any(issubclass(w.category, DeprecationWarning) for w in seen)


def status_of(api_client):
    return api_client.last_response.status


def login(base, client_id=CLIENT_ID, secret=CLIENT_SECRET):
    """An ApiClient on the emulator, logged in with the SDK's client-credentials call. With a base URL
    that has no `//api.` in it, the SDK's derived login host is the base URL itself."""
    client = sdk.ApiClient(host=base)
    client.get_client_credentials_token(client_id, secret)
    return client


def no_retry(api_client):
    """Turns off the urllib3 retries the SDK configures (they honour Retry-After on 429/503 transparently),
    so a 429 surfaces as an ApiException the test can inspect."""
    import urllib3

    http = api_client.get_http_client()
    http.rest_client.pool_manager.connection_pool_kw["retries"] = urllib3.util.Retry(total=0, raise_on_status=False)
    http.rest_client.pool_manager.clear()
    return api_client


# ---------------------------------------------------------------------------------------------------------
# checks


def oauth_checks(r, base):
    state = {}

    def good():
        client = login(base)
        expect(client.access_token, "no access_token after get_client_credentials_token")
        state["client"] = client
        return f"token of {len(client.access_token)} chars"

    def bad_secret():
        client = sdk.ApiClient(host=base)
        try:
            client.get_client_credentials_token(CLIENT_ID, "wrong-secret")
        except ApiException as e:
            expect(e.status == 401, f"status {e.status}")
            body = json.loads(e.body)
            expect(body.get("error") == "invalid_client", f"body {body}")
            return f"401 {body.get('error')}"
        raise CheckFailed("bad secret accepted")

    def unknown_client():
        client = sdk.ApiClient(host=base)
        try:
            client.get_client_credentials_token("nobody", "x")
        except ApiException as e:
            expect(e.status in (400, 401), f"status {e.status}")
            return f"{e.status} {json.loads(e.body).get('error')}"
        raise CheckFailed("unknown client accepted")

    def bad_token():
        client = sdk.ApiClient(host=base)
        client.access_token = "not-a-token"
        body, _ = expect_api_error(client, lambda: sdk.UsersApi(client).get_user(ALICE), 401, "bad.credentials")
        return f"401 {body.code}"

    r.run("oauth.client_credentials", good)
    r.run("oauth.bad_secret", bad_secret)
    r.run("oauth.unknown_client", unknown_client)
    r.run("oauth.bad_token_401", bad_token)
    return state.get("client")


def rate_limit_checks(r, base, client, ctl):
    users = sdk.UsersApi(client)

    def transparent_retry():
        before = ctl.counters()["tooManyRequests"]
        ctl.call("POST", "/faults/too-many-requests", {"count": 1, "retryAfter": 1})
        t0 = time.monotonic()
        user = users.get_user(ALICE)
        took = time.monotonic() - t0
        after = ctl.counters()["tooManyRequests"]
        expect(after == before + 1, f"emulator answered {after - before} 429s, wanted 1")
        expect(took >= 0.9, f"the SDK retried after {took:.2f}s, before Retry-After: 1")
        populated(user, "id", "name")
        return f"SDK's urllib3 honoured Retry-After: 1 and retried after {took:.2f}s"

    def surfaced():
        raw = no_retry(login(base))
        ctl.call("POST", "/faults/too-many-requests", {"count": 1, "retryAfter": 7})
        body, e = expect_api_error(
            raw, lambda: sdk.UsersApi(raw).get_user(ALICE), 429, "too.many.requests.retry.after"
        )
        expect(e.headers.get("Retry-After") == "7", f"Retry-After {e.headers.get('Retry-After')!r}")
        expect("[7]" in body.message, f"message {body.message!r}")
        return f"429 Retry-After 7, {body.message!r}"

    def exhausted():
        # More 429s (Retry-After 0) than the SDK's 10 urllib3 retries: the call fails after 11 attempts.
        import urllib3

        ctl.call("POST", "/faults/too-many-requests", {"count": 11, "retryAfter": 0})
        before = ctl.counters()["tooManyRequests"]
        try:
            users.get_user(ALICE)
        except (urllib3.exceptions.MaxRetryError, ApiException) as e:
            after = ctl.counters()["tooManyRequests"]
            ctl.call("DELETE", "/faults")
            expect(after - before == 11, f"{after - before} attempts answered 429, wanted 11")
            return f"{type(e).__name__} {getattr(e, 'status', '')} after {after - before} attempts"
        finally:
            ctl.call("DELETE", "/faults")
        raise CheckFailed("call succeeded through 11 injected 429s")

    def server_error():
        raw = no_retry(login(base))
        ctl.call("POST", "/faults/errors", {"count": 1, "status": 503})
        body, _ = expect_api_error(raw, lambda: sdk.UsersApi(raw).get_user(ALICE), 503)
        return f"503 {body.code}"

    def budget():
        # The real per-token budget (default 300/min), on a client nothing else uses: spend it, then one more.
        raw = no_retry(login(base, "herald-loadtest", "herald-loadtest-secret"))
        api = sdk.UsersApi(raw)
        sent = 0
        for _ in range(1000):
            try:
                api.get_user(ALICE)
                sent += 1
            except ApiException as e:
                expect(e.status == 429, f"status {e.status} after {sent} requests")
                body = error_of(raw, e)
                expect(body.code == "too.many.requests.retry.after", f"code {body.code}")
                expect(body.context_id == e.headers.get("ININ-Correlation-Id"), "contextId != ININ-Correlation-Id")
                retry = int(e.headers.get("Retry-After", "0"))
                expect(1 <= retry <= 60, f"Retry-After {retry}")
                expect(f"[{retry}]" in body.message, f"message {body.message!r} vs Retry-After {retry}")
                return f"{sent} requests, then 429 Retry-After {retry}"
        raise CheckFailed(f"{sent} requests and no 429")

    r.run("ratelimit.budget_exhausted_429", budget)
    r.run("ratelimit.429_retried_by_sdk", transparent_retry)
    r.run("ratelimit.429_error_body", surfaced)
    r.run("ratelimit.429_retries_exhausted", exhausted)
    r.run("faults.503_error_body", server_error)


def agentless_request(**fields):
    """A `SendAgentlessOutboundMessageRequest` from the web messaging deployment, with the given other fields."""
    return mk(
        sdk.SendAgentlessOutboundMessageRequest,
        from_address=DEPLOYMENT,
        to_address_messenger_type="webmessaging",
        **fields,
    )


def messaging_checks(r, base, client, ctl):
    conv = sdk.ConversationsApi(client)
    st = {}

    def agentless():
        req = agentless_request(external_contact_id=DAVE, text_body="Your order shipped")
        resp = conv.post_conversations_messages_agentless(req)
        expect(status_of(client) in (200, 202), f"status {status_of(client)}")
        known(client, "SendAgentlessOutboundMessageResponse")
        populated(resp, "id", "conversation_id", "messenger_type", "message.id", "message.timestamp", "message.status")
        expect(resp.messenger_type == "webmessaging", f"messengerType {resp.messenger_type}")
        st["dave"] = resp.conversation_id
        st["agentless_message"] = resp.message.id
        return f"{status_of(client)} conversation {resp.conversation_id}"

    def agentless_missing_contact():
        req = agentless_request(text_body="x")
        body, _ = expect_api_error(
            client, lambda: conv.post_conversations_messages_agentless(req), 400, field="externalContactId"
        )
        return f"400 {body.code} naming externalContactId"

    def agentless_existing_live():
        req = agentless_request(external_contact_id=DAVE, text_body="again", use_existing_active_conversation=False)
        body, _ = expect_api_error(
            client, lambda: conv.post_conversations_messages_agentless(req), 400, field="useExistingActiveConversation"
        )
        req.use_existing_active_conversation = True
        resp = conv.post_conversations_messages_agentless(req)
        expect(resp.conversation_id == st["dave"], "useExistingActiveConversation did not reuse the live conversation")
        return f"false → 400 {body.code}; true → same conversation"

    def connect_agent():
        ctl.connect(st["dave"], ALICE)
        return "control: Alice connected"

    def get_conversation():
        c = conv.get_conversation(st["dave"])
        raw = client.last_response
        populated(c, "id", "start_time", "participants[0].id", "participants[0].purpose")
        agents = [p for p in c.participants if p.purpose == "agent" and p.user_id == ALICE]
        expect(agents, f"no agent participant for Alice: {[p.purpose for p in c.participants]}")
        agent = agents[-1]
        populated(agent, "id", "user_id", "start_time", "messages[0].id", "messages[0].state", "messages[0].type")
        comms = [m for m in agent.messages if m.state == "connected"]
        expect(comms, "the agent has no connected message communication")
        st["comm"] = comms[0].id
        st["agent_pid"] = agent.id
        expect(agent.queue_id is None or agent.queue_id, "queueId is an empty string")
        customer = [p for p in c.participants if p.purpose == "customer"]
        expect(customer and customer[0].messages and customer[0].messages[0].id, "customer communication missing")
        st["customer_comm"] = customer[0].messages[0].id
        api = [p for p in c.participants if p.purpose == "api"]
        expect(api and api[0].messages[0].messages, "the agentless (api) participant has no message details")
        populated(api[0], "messages[0].messages[0].message_id", "messages[0].messages[0].message_status")
        client.last_response = raw
        known(client, "Conversation")
        return f"agent communication {st['comm']}"

    def get_message_conversation():
        c = conv.get_conversations_message(st["dave"])
        known(client, "MessageConversation")
        populated(c, "id", "participants[0].id", "participants[0].type", "participants[0].state")
        ids = [d.message_id for p in c.participants for d in (p.messages or [])]
        expect(st["agentless_message"] in ids, f"agentless message {st['agentless_message']} not in {ids}")
        agent = [p for p in c.participants if p.purpose == "agent"]
        expect(agent, "no agent participant")
        populated(agent[0], "user.id", "type", "state", "direction")
        expect(agent[0].queue is None or agent[0].queue.id, "queue.id is an empty string")
        return f"{len(c.participants)} participants, type {c.participants[0].type}"

    def send_text():
        md = conv.post_conversations_message_communication_messages(
            st["dave"], st["comm"], mk(sdk.AdditionalMessage, text_body="Hello from the SDK")
        )
        st["sent"] = md.id
        known(client, "MessageData")
        populated(
            md, "id", "timestamp", "status", "direction", "messenger_type", "conversation_id",
            "normalized_message.type", "normalized_message.text",
        )
        expect(md.normalized_message.text == "Hello from the SDK", f"text {md.normalized_message.text!r}")
        expect(md.direction == "outbound", f"direction {md.direction}")
        st["sent"] = md.id
        return f"{status_of(client)} MessageData {md.id} status {md.status}"

    def get_message():
        md = conv.get_conversations_message_message(st["dave"], st["sent"])
        known(client, "MessageData")
        populated(md, "id", "timestamp", "status", "normalized_message.text")
        expect(md.id == st["sent"], "different message")
        return f"normalizedMessage.text {md.normalized_message.text!r}"

    def send_template():
        tpl = mk(
            sdk.SendMessagingTemplateRequest,
            response_id=ORDER_SHIPPED,
            body_parameters=[mk(sdk.TemplateParameter, id="order_id", value="A-100"),
                             mk(sdk.TemplateParameter, id="eta", value="tomorrow")],
        )
        md = conv.post_conversations_message_communication_messages(
            st["dave"], st["comm"], mk(sdk.AdditionalMessage, messaging_template=tpl)
        )
        populated(md, "id", "normalized_message.text")
        text = md.normalized_message.text
        expect("A-100" in text and "tomorrow" in text and "Dave" in text, f"rendered {text!r}")
        return f"rendered {text!r}"

    def send_empty():
        body, _ = expect_api_error(
            client,
            lambda: conv.post_conversations_message_communication_messages(st["dave"], st["comm"], sdk.AdditionalMessage()),
            400,
            field="textBody",
        )
        return f"400 {body.code} naming textBody"

    def send_story_payload():
        # The payload of shared story 1 (fields that do not exist), sent through the same SDK call.
        story = {"to": "webchat:guest", "from": "webchat:agent", "text": "Your case status changed.", "channel": "webChat"}
        body, _ = expect_api_error(
            client,
            lambda: conv.post_conversations_message_communication_messages(st["dave"], st["comm"], story),
            400,
        )
        named = [d.field_name for d in body.details or []]
        expect(named, "no field named in details")
        return f"400 {body.code} naming {named}"

    def send_too_long():
        body, _ = expect_api_error(
            client,
            lambda: conv.post_conversations_message_communication_messages(
                st["dave"], st["comm"], mk(sdk.AdditionalMessage, text_body="x" * 2001)
            ),
            400,
            field="textBody",
        )
        return f"2001 chars → 400 {body.code}"

    def send_foreign_comm():
        body, _ = expect_api_error(
            client,
            lambda: conv.post_conversations_message_communication_messages(
                st["dave"], MISSING, mk(sdk.AdditionalMessage, text_body="x")
            ),
            404,
        )
        return f"404 {body.code}"

    def send_unknown_conversation():
        body, _ = expect_api_error(client, lambda: conv.get_conversation(MISSING), 404, "not.found")
        return f"404 {body.code}"

    def too_large():
        body, _ = expect_api_error(
            client,
            lambda: conv.post_conversations_message_communication_messages(
                st["dave"], st["comm"], mk(sdk.AdditionalMessage, text_body="x" * 600_000)
            ),
            413,
            "response.entity.too.large",
        )
        return f"600 kB → 413 {body.code}"

    def typing():
        req = mk(sdk.MessageTypingEventRequest, typing=mk(sdk.ConversationEventTyping, type="On", duration=5000))
        out = conv.post_conversations_message_communication_typing(st["dave"], st["comm"], req)
        expect(out is None, f"typing returned {out!r}")
        return f"{status_of(client)}"

    def threading():
        tw = conv.get_conversations_messaging_threadingtimeline()
        known(client, "ConversationThreadingWindow")
        populated(tw, "settings")
        return f"defaultTimeoutMinutes {tw.default_timeout_minutes}"

    def threading_put():
        window = mk(sdk.ConversationThreadingWindow, default_timeout_minutes=4320, settings=[
            mk(sdk.ConversationThreadingWindowSetting, messenger_type="webmessaging", timeout_in_minutes=4320)
        ])
        tw = conv.put_conversations_messaging_threadingtimeline(window)
        known(client, "ConversationThreadingWindow")
        populated(tw, "settings[0].messenger_type", "settings[0].timeout_in_minutes")
        bad = mk(sdk.ConversationThreadingWindow, settings=[
            mk(sdk.ConversationThreadingWindowSetting, messenger_type="webmessaging", timeout_in_minutes=99999)
        ])
        body, _ = expect_api_error(client, lambda: conv.put_conversations_messaging_threadingtimeline(bad), 400,
                                   field="settings[0].timeoutInMinutes")
        return f"webmessaging {tw.settings[0].timeout_in_minutes} min; 99999 → 400 {body.code}"

    def agentless_template():
        tpl = mk(sdk.SendMessagingTemplateRequest, response_id=ORDER_SHIPPED,
                 body_parameters=[mk(sdk.TemplateParameter, id="order_id", value="B-7")])
        req = agentless_request(external_contact_id=DAVE, messaging_template=tpl, use_existing_active_conversation=True)
        resp = conv.post_conversations_messages_agentless(req)
        populated(resp, "message.normalized_message.text")
        text = resp.message.normalized_message.text
        expect("B-7" in text and "soon" in text, f"rendered {text!r}")
        return f"rendered {text!r}"

    def patch_participant_disconnect():
        out = conv.patch_conversations_message_participant(
            st["dave"], st["agent_pid"], body=mk(sdk.MediaParticipantRequest, state="disconnected")
        )
        expect(out is None, f"returned {out!r}")
        code = status_of(client)
        c = conv.get_conversation(st["dave"])
        agent = [p for p in c.participants if p.id == st["agent_pid"]][0]
        populated(agent, "end_time", "messages[0].state", "messages[0].disconnected_time")
        expect(agent.messages[0].state == "disconnected", f"communication state {agent.messages[0].state}")
        return f"{code}; agent participant disconnected, endTime set"

    def send_disconnected():
        body, _ = expect_api_error(
            client,
            lambda: conv.post_conversations_message_communication_messages(
                st["dave"], st["comm"], mk(sdk.AdditionalMessage, text_body="too late")
            ),
            400,
            "conversation.message.communication.disconnected",
        )
        return f"400 {body.code}"

    def typing_disconnected():
        req = mk(sdk.MessageTypingEventRequest, typing=mk(sdk.ConversationEventTyping, type="On"))
        body, _ = expect_api_error(
            client, lambda: conv.post_conversations_message_communication_typing(st["dave"], st["comm"], req), 400
        )
        return f"400 {body.code}"

    def agentless_threading():
        req = agentless_request(external_contact_id=DAVE, text_body="Following up")
        resp = conv.post_conversations_messages_agentless(req)
        populated(resp, "conversation_id", "message.id")
        expect(resp.conversation_id == st["dave"], "inside the threading window the ended conversation is re-used")
        return f"same conversation {resp.conversation_id}"

    def patch_conversation_disconnect():
        req = agentless_request(external_contact_id=CAROL, text_body="Hi Carol")
        carol = conv.post_conversations_messages_agentless(req).conversation_id
        st["carol"] = carol
        ctl.connect(carol, ALICE)
        c = conv.patch_conversations_message(carol, mk(sdk.Conversation, state="disconnected"))
        known(client, "Conversation")
        populated(c, "id", "participants[0].id")
        after = conv.get_conversation(carol)
        live = [p.purpose for p in after.participants if any(m.state != "disconnected" for m in p.messages or [])]
        expect(not live, f"participants still live: {live}")
        return f"{status_of(client)} Conversation {c.id}; every participant disconnected"

    def patch_generic_participant():
        # The generic (media-independent) participant PATCH on a fresh conversation.
        req = agentless_request(external_contact_id=CAROL, text_body="Hi again")
        cid = conv.post_conversations_messages_agentless(req).conversation_id
        ctl.connect(cid, BOB)
        c = conv.get_conversation(cid)
        agent = [p for p in c.participants if p.purpose == "agent" and p.end_time is None][0]
        out = conv.patch_conversation_participant(cid, agent.id, mk(sdk.MediaParticipantRequest, state="disconnected"))
        expect(out is None, f"returned {out!r}")
        code = status_of(client)
        after = conv.get_conversation(cid)
        state = [p.messages[0].state for p in after.participants if p.id == agent.id][0]
        expect(state == "disconnected", f"agent communication state {state}")
        return f"{code}; agent participant disconnected"

    def patch_communication():
        req = agentless_request(external_contact_id=CAROL, text_body="One more thing")
        cid = conv.post_conversations_messages_agentless(req).conversation_id
        ctl.connect(cid, ALICE)
        c = conv.get_conversation(cid)
        agent = [p for p in c.participants if p.purpose == "agent" and p.end_time is None][0]
        comm = agent.messages[0].id
        out = conv.patch_conversations_message_participant_communication(
            cid, agent.id, comm, mk(sdk.MediaParticipantRequest, state="disconnected")
        )
        expect(out == {}, f"returned {out!r}")
        after = conv.get_conversation(cid)
        state = [p.messages[0].state for p in after.participants if p.id == agent.id][0]
        expect(state == "disconnected", f"communication state {state}")
        return f"{status_of(client)} {out!r}; communication disconnected"

    def emergency_disconnect():
        req = agentless_request(external_contact_id=CAROL, text_body="Last one")
        cid = conv.post_conversations_messages_agentless(req).conversation_id
        out = conv.post_conversation_disconnect(cid)
        expect(isinstance(out, str), f"returned {out!r}")
        code = status_of(client)
        after = conv.get_conversation(cid)
        populated(after, "end_time")
        return f"{code}; conversation ended"

    def outbound_sms():
        req = mk(
            sdk.CreateOutboundMessagingConversationRequest,
            queue_id=SUPPORT_QUEUE,
            to_address="+15550100100",
            to_address_messenger_type="sms",
        )
        resp = conv.post_conversations_messages(req)
        known(client, "CreateOutboundMessagingConversationResponse")
        populated(resp, "id", "self_uri")
        c = conv.get_conversations_message(resp.id)
        populated(c, "participants[0].type")
        expect(c.participants[0].type == "sms", f"type {c.participants[0].type}")
        return f"conversation {resp.id}"

    def outbound_webmessaging_rejected():
        req = mk(
            sdk.CreateOutboundMessagingConversationRequest,
            queue_id=SUPPORT_QUEUE,
            to_address="guest",
            to_address_messenger_type="webmessaging",
        )
        try:
            conv.post_conversations_messages(req)
        except ValueError as e:
            # The SDK itself refuses the enum value before sending (it only allows sms, open, whatsapp).
            return f"rejected client-side by the SDK: {str(e)[:60]}…"
        except ApiException as e:
            expect(e.status == 400, f"status {e.status}")
            return f"400 {error_of(client, e).code}"
        raise CheckFailed("webmessaging outbound conversation accepted")

    def unknown_route():
        body, _ = expect_api_error(
            client,
            lambda: client.call_api("/api/v2/conversations/messaging/external-messages", "POST", body={},
                                    auth_settings=["PureCloud OAuth"], response_type="object"),
            404,
            "not.found",
        )
        return f"story 2's invented endpoint → 404 {body.code}"

    r.run("messaging.agentless_webmessaging", agentless)
    r.run("messaging.agentless_missing_contact_400", agentless_missing_contact)
    r.run("messaging.agentless_existing_live_conversation", agentless_existing_live)
    r.run("messaging.connect_agent(control)", connect_agent)
    r.run("messaging.get_conversation", get_conversation)
    r.run("messaging.get_conversations_message", get_message_conversation)
    r.run("messaging.send_text", send_text)
    r.run("messaging.get_message", get_message)
    r.run("messaging.send_template_response_id", send_template)
    r.run("messaging.send_empty_body_400", send_empty)
    r.run("messaging.send_story1_payload_400", send_story_payload)
    r.run("messaging.send_too_long_400", send_too_long)
    r.run("messaging.send_foreign_communication_404", send_foreign_comm)
    r.run("messaging.unknown_conversation_404", send_unknown_conversation)
    r.run("messaging.body_too_large_413", too_large)
    r.run("messaging.typing", typing)
    r.run("messaging.threadingtimeline", threading)
    r.run("messaging.threadingtimeline_put", threading_put)
    r.run("messaging.agentless_template_response_id", agentless_template)
    r.run("messaging.patch_participant_disconnect", patch_participant_disconnect)
    r.run("messaging.send_on_disconnected_4xx", send_disconnected)
    r.run("messaging.typing_on_disconnected_4xx", typing_disconnected)
    r.run("messaging.agentless_inside_threading_window", agentless_threading)
    r.run("messaging.patch_conversation_disconnect", patch_conversation_disconnect)
    r.run("messaging.patch_generic_participant_disconnect", patch_generic_participant)
    r.run("messaging.patch_communication_disconnect", patch_communication)
    r.run("messaging.emergency_disconnect", emergency_disconnect)
    r.run("messaging.outbound_sms_conversation", outbound_sms)
    r.run("messaging.outbound_webmessaging_rejected", outbound_webmessaging_rejected)
    r.run("messaging.unknown_route_404", unknown_route)
    return st


def canned_checks(r, client):
    rm = sdk.ResponseManagementApi(client)

    def by_id():
        resp = rm.get_responsemanagement_response(ORDER_SHIPPED)
        known(client, "Response")
        populated(
            resp, "id", "name", "version", "libraries[0].id", "texts[0].content", "texts[0].content_type",
            "texts[0].type", "substitutions[0].id", "substitutions[0].default_value", "interaction_type",
        )
        return f"{resp.name!r}, {len(resp.substitutions)} substitutions"

    def by_library():
        listing = rm.get_responsemanagement_responses(LIBRARY)
        known(client, "ResponseEntityListing")
        populated(listing, "entities[0].id", "entities[0].texts[0].content")
        expect(any(e.id == ORDER_SHIPPED for e in listing.entities), "seeded response not listed")
        return f"{len(listing.entities)} responses, total {listing.total}"

    def query():
        res = rm.post_responsemanagement_responses_query(mk(sdk.ResponseQueryRequest, query_phrase="shipped", page_size=25))
        known(client, "ResponseQueryResults")
        populated(res, "results.entities[0].id")
        expect(res.results.entities[0].id == ORDER_SHIPPED, f"first hit {res.results.entities[0].id}")
        return f"{len(res.results.entities)} hit(s)"

    def missing():
        body, _ = expect_api_error(client, lambda: rm.get_responsemanagement_response(MISSING), 404)
        return f"404 {body.code}"

    r.run("canned.get_by_id", by_id)
    r.run("canned.list_by_library", by_library)
    r.run("canned.query", query)
    r.run("canned.unknown_404", missing)


def notification_checks(r, client):
    na = sdk.NotificationsApi(client)
    st = {}
    presence_topic = f"v2.users.{ALICE}.presence"
    routing_topic = f"v2.users.{ALICE}.routingStatus"

    def create():
        ch = na.post_notifications_channels()
        known(client, "Channel")
        populated(ch, "id", "connect_uri", "expires")
        expect(ch.connect_uri.startswith("ws"), f"connectUri {ch.connect_uri}")
        st["ch"] = ch.id
        return f"channel {ch.id} {ch.connect_uri}"

    def put():
        res = na.put_notifications_channel_subscriptions(st["ch"], [mk(sdk.ChannelTopic, id=presence_topic)])
        known(client, "ChannelTopicEntityListing")
        populated(res, "entities[0].id")
        expect([t.id for t in res.entities] == [presence_topic], f"{[t.id for t in res.entities]}")
        return f"{len(res.entities)} topic(s)"

    def post():
        res = na.post_notifications_channel_subscriptions(st["ch"], [mk(sdk.ChannelTopic, id=routing_topic)])
        known(client, "ChannelTopicEntityListing")
        ids = sorted(t.id for t in res.entities)
        expect(ids == sorted([presence_topic, routing_topic]), f"{ids}")
        return f"{len(ids)} topics"

    def get():
        res = na.get_notifications_channel_subscriptions(st["ch"])
        known(client, "ChannelTopicEntityListing")
        populated(res, "entities[0].id")
        expect(len(res.entities) == 2, f"{len(res.entities)} topics")
        return f"{[t.id for t in res.entities]}"

    def rejected():
        res = na.post_notifications_channel_subscriptions(st["ch"], [mk(sdk.ChannelTopic, id="v2.not.a.topic")])
        known(client, "ChannelTopicEntityListing")
        bad = [t for t in res.entities if t.id == "v2.not.a.topic"]
        expect(bad, "unknown topic not listed")
        populated(bad[0], "state")
        expect(bad[0].state == "Rejected", f"state {bad[0].state}")
        return f"Rejected: {bad[0].rejection_reason!r}"

    def delete():
        out = na.delete_notifications_channel_subscriptions(st["ch"])
        expect(out is None, f"returned {out!r}")
        code = status_of(client)
        res = na.get_notifications_channel_subscriptions(st["ch"])
        expect(not res.entities, f"{len(res.entities or [])} topics left")
        return f"{code}; none left"

    def head():
        out = na.head_notifications_channel(st["ch"])
        expect(out is None, f"returned {out!r}")
        code = status_of(client)
        expect(code == 200, f"status {code}")
        return f"{code}"

    def head_missing():
        try:
            na.head_notifications_channel(MISSING)
        except ApiException as e:
            expect(e.status == 404, f"status {e.status}")
            return "404 (HEAD: no body)"
        raise CheckFailed("unknown channel answered 2xx")

    def list_channels():
        res = na.get_notifications_channels()
        known(client, "ChannelEntityListing")
        populated(res, "entities[0].id", "entities[0].connect_uri")
        expect(any(c.id == st["ch"] for c in res.entities), "channel not listed")
        return f"{len(res.entities)} channel(s)"

    def topics():
        res = na.get_notifications_availabletopics()
        known(client, "AvailableTopicEntityListing")
        populated(res, "entities[0].id")
        return f"{len(res.entities)} topics"

    r.run("notifications.create_channel", create)
    r.run("notifications.put_subscriptions", put)
    r.run("notifications.post_subscriptions", post)
    r.run("notifications.get_subscriptions", get)
    r.run("notifications.unknown_topic_rejected", rejected)
    r.run("notifications.delete_subscriptions", delete)
    r.run("notifications.head_channel", head)
    r.run("notifications.head_unknown_channel_404", head_missing)
    r.run("notifications.list_channels", list_channels)
    r.run("notifications.available_topics", topics)


def presence_checks(r, client):
    pa = sdk.PresenceApi(client)
    ua = sdk.UsersApi(client)

    def old_definitions():
        res, deprecated = quietly(pa.get_presencedefinitions)
        known(client, "OrganizationPresenceEntityListing")
        populated(res, "entities[0].id", "entities[0].language_labels", "entities[0].system_presence")
        one, _ = quietly(pa.get_presencedefinition, AVAILABLE)
        known(client, "OrganizationPresence")
        populated(one, "id", "system_presence", "language_labels")
        note = " (deprecated in the SDK)" if deprecated else ""
        return f"{len(res.entities)} definitions; {AVAILABLE[:8]}… = {one.system_presence}{note}"

    def new_definitions():
        res = pa.get_presence_definitions()
        known(client, "OrganizationPresenceDefinitionEntityListing")
        populated(res, "entities[0].id", "entities[0].system_presence", "entities[0].language_labels", "entities[0].type")
        one = pa.get_presence_definition(AWAY)
        known(client, "OrganizationPresenceDefinition")
        populated(one, "id", "system_presence")
        return f"{len(res.entities)} definitions; {AWAY[:8]}… = {one.system_presence}"

    def system_presences():
        res = pa.get_systempresences()
        known(client, "list[SystemPresence]")
        expect(res and res[0].id, f"{res}")
        return f"{len(res)} system presences"

    def unknown_definition():
        body, _ = expect_api_error(client, lambda: pa.get_presence_definition(MISSING), 404)
        return f"404 {body.code}"

    def get_presence():
        p = pa.get_user_presences_purecloud(ALICE)
        known(client, "UserPresence")
        populated(p, "presence_definition.id", "presence_definition.system_presence", "modified_date")
        return f"Alice: {p.presence_definition.system_presence}"

    def patch_presence():
        p = pa.patch_user_presences_purecloud(BOB, mk(sdk.UserPresence, presence_definition=mk(sdk.PresenceDefinition, id=AWAY)))
        known(client, "UserPresence")
        populated(p, "presence_definition.id")
        expect(p.presence_definition.id == AWAY, f"{p.presence_definition.id}")
        again = pa.get_user_presences_purecloud(BOB)
        expect(again.presence_definition.id == AWAY, "PATCH not persisted")
        return f"Bob → {again.presence_definition.system_presence}"

    def patch_bad_presence():
        body, _ = expect_api_error(
            client,
            lambda: pa.patch_user_presences_purecloud(
                BOB, mk(sdk.UserPresence, presence_definition=mk(sdk.PresenceDefinition, id=MISSING))
            ),
            400,
        )
        return f"400 {body.code}"

    def bulk():
        res = pa.get_users_presences_purecloud_bulk(id=[ALICE, BOB])
        known(client, "list[UcUserPresence]")
        expect(isinstance(res, list) and len(res) == 2, f"{res}")
        for p in res:
            populated(p, "user_id", "presence_definition.id")
        return f"{[(p.user_id[-1], p.presence_definition.system_presence) for p in res]}"

    def routing():
        rs = ua.get_user_routingstatus(ALICE)
        known(client, "RoutingStatus")
        populated(rs, "user_id", "status", "start_time")
        put = ua.put_user_routingstatus(ALICE, mk(sdk.RoutingStatus, status="OFF_QUEUE"))
        known(client, "RoutingStatus")
        populated(put, "status")
        again = ua.get_user_routingstatus(ALICE)
        expect(again.status == "OFF_QUEUE", f"status {again.status}")
        ua.put_user_routingstatus(ALICE, mk(sdk.RoutingStatus, status="IDLE"))
        back = ua.get_user_routingstatus(ALICE)
        return f"{rs.status} → OFF_QUEUE → {back.status}"

    def routing_bad():
        body, _ = expect_api_error(
            client, lambda: ua.put_user_routingstatus(ALICE, mk(sdk.RoutingStatus, status="INTERACTING")), 400
        )
        return f"INTERACTING → 400 {body.code}"

    def users_list():
        res = ua.get_users(expand=["presence", "routingStatus"], page_size=25)
        known(client, "UserEntityListing")
        populated(res, "entities[0].id", "entities[0].name", "entities[0].presence.presence_definition.id",
                  "entities[0].routing_status.status", "page_size", "total")
        return f"{len(res.entities)} users, total {res.total}"

    def user_one():
        u = ua.get_user(ALICE, expand=["presence"])
        known(client, "User")
        populated(u, "id", "name", "email", "presence.presence_definition.id", "state")
        return f"{u.name} <{u.email}>"

    def user_missing():
        body, _ = expect_api_error(client, lambda: ua.get_user(MISSING), 404)
        return f"404 {body.code}"

    r.run("presence.old_definitions", old_definitions)
    r.run("presence.new_definitions", new_definitions)
    r.run("presence.system_presences", system_presences)
    r.run("presence.unknown_definition_404", unknown_definition)
    r.run("presence.get_user_presence", get_presence)
    r.run("presence.patch_user_presence", patch_presence)
    r.run("presence.patch_unknown_definition_400", patch_bad_presence)
    r.run("presence.bulk", bulk)
    r.run("routing.status_get_put", routing)
    r.run("routing.status_invalid_400", routing_bad)
    r.run("users.list_expand", users_list)
    r.run("users.get", user_one)
    r.run("users.unknown_404", user_missing)


def analytics_checks(r, client, ctl, st):
    aa = sdk.AnalyticsApi(client)
    now = ctl.now()
    interval = f"{(now - timedelta(hours=1)).strftime('%Y-%m-%dT%H:%M:%S.000Z')}/{(now + timedelta(hours=1)).strftime('%Y-%m-%dT%H:%M:%S.000Z')}"

    def seg(*preds, type_="and"):
        return mk(sdk.SegmentDetailQueryFilter, type=type_, predicates=[
            mk(sdk.SegmentDetailQueryPredicate, dimension=d, value=v) for d, v in preds
        ])

    def query(**kw):
        q = mk(sdk.ConversationQuery, interval=interval, order="asc", order_by="conversationStart",
               paging=mk(sdk.PagingSpec, page_size=kw.pop("page_size", 25), page_number=kw.pop("page_number", 1)), **kw)
        return aa.post_analytics_conversations_details_query(q)

    def by_contact():
        res = query(segment_filters=[seg(("mediaType", "message"), ("externalContactId", DAVE))])
        known(client, "AnalyticsConversationQueryResponse")
        populated(res, "conversations[0].conversation_id", "conversations[0].conversation_start",
                  "conversations[0].participants[0].purpose", "conversations[0].participants[0].sessions[0].session_id",
                  "conversations[0].participants[0].sessions[0].media_type")
        ids = [c.conversation_id for c in res.conversations]
        expect(st.get("dave") in ids, f"Dave's conversation not found: {ids}")
        return f"{len(ids)} conversation(s) of Dave"

    def open_only():
        res = query(
            segment_filters=[seg(("mediaType", "message"))],
            conversation_filters=[mk(sdk.ConversationDetailQueryFilter, type="and", predicates=[
                mk(sdk.ConversationDetailQueryPredicate, type="dimension", dimension="conversationEnd", operator="notExists")
            ])],
        )
        ended = [c.conversation_id for c in res.conversations or [] if c.conversation_end is not None]
        expect(not ended, f"ended conversations returned: {ended}")
        ids = sorted(c.conversation_id for c in res.conversations or [])
        live = sorted(c["id"] for c in ctl.conversations() if c["media"] == "message" and c["state"] == "connected")
        expect(ids == live, f"returned {ids}, the emulator's live message conversations are {live}")
        closed = [c["id"] for c in ctl.conversations() if c["state"] == "disconnected"]
        expect(closed, "no ended conversation to exclude")
        return f"{len(ids)} open conversation(s), {len(closed)} ended excluded"

    def by_queue():
        res = query(segment_filters=[seg(("mediaType", "chat"), ("queueId", SUPPORT_QUEUE))])
        convs = res.conversations or []
        if convs:
            populated(res, "conversations[0].participants[0].sessions[0].media_type")
        return f"{len(convs)} chat conversation(s) on Support"

    def paging():
        first = query(segment_filters=[seg(("mediaType", "message"))], page_size=1, page_number=1)
        second = query(segment_filters=[seg(("mediaType", "message"))], page_size=1, page_number=2)
        expect(first.conversations and len(first.conversations) == 1, "page 1 not one conversation")
        expect(second.conversations and len(second.conversations) == 1, "page 2 not one conversation")
        expect(first.conversations[0].conversation_id != second.conversations[0].conversation_id, "pages overlap")
        return "pageSize 1: two distinct pages"

    def bad_interval():
        q = mk(sdk.ConversationQuery, interval="yesterday")
        body, _ = expect_api_error(client, lambda: aa.post_analytics_conversations_details_query(q), 400)
        return f"400 {body.code}"

    r.run("analytics.query_external_contact", by_contact)
    r.run("analytics.query_conversation_end_not_exists", open_only)
    r.run("analytics.query_queue", by_queue)
    r.run("analytics.query_paging", paging)
    r.run("analytics.bad_interval_400", bad_interval)


# ---------------------------------------------------------------------------------------------------------
# legacy web chat (SDK 263.0.0, run as a separate interpreter)


def legacy_chat_checks(r, base, ctl):
    client = login(base)
    conv = sdk.ConversationsApi(client)
    guest_client = sdk.ApiClient(host=base)
    webchat = sdk.WebChatApi(guest_client)
    st = {}

    def use_guest_jwt(jwt):
        # The SDK's "Guest Chat JWT" auth: Configuration().api_key / api_key_prefix for the Authorization header.
        sdk.Configuration().api_key["Authorization"] = jwt
        sdk.Configuration().api_key_prefix["Authorization"] = "Bearer"

    def create():
        req = mk(
            sdk.CreateWebChatConversationRequest,
            organization_id=ORG_ID,
            deployment_id=CHAT_DEPLOYMENT,
            routing_target=mk(sdk.WebChatRoutingTarget, target_type="QUEUE", target_address="Support"),
            member_info=mk(sdk.GuestMemberInfo, display_name="Erin Guest"),
        )
        resp = webchat.post_webchat_guest_conversations(req)
        known(guest_client, "CreateWebChatConversationResponse")
        populated(resp, "id", "jwt", "event_stream_uri", "member.id")
        st.update(cid=resp.id, jwt=resp.jwt, member=resp.member.id)
        use_guest_jwt(resp.jwt)
        return f"chat {resp.id}"

    def create_bad():
        req = mk(
            sdk.CreateWebChatConversationRequest,
            organization_id=ORG_ID,
            deployment_id=CHAT_DEPLOYMENT,
            routing_target=mk(sdk.WebChatRoutingTarget, target_type="QUEUE", target_address="No Such Queue"),
            member_info=mk(sdk.GuestMemberInfo, display_name="Erin Guest"),
        )
        body, _ = expect_api_error(guest_client, lambda: webchat.post_webchat_guest_conversations(req), 400,
                                   field="routingTarget.targetAddress")
        return f"400 {body.code}"

    def guest_send():
        msg = webchat.post_webchat_guest_conversation_member_messages(
            st["cid"], st["member"], mk(sdk.CreateWebChatMessageRequest, body="Hello, anyone there?", body_type="standard")
        )
        known(guest_client, "WebChatMessage")
        populated(msg, "id", "conversation.id", "sender.id", "body", "body_type", "timestamp")
        expect(msg.sender.id == st["member"], f"sender {msg.sender.id}")
        return f"WebChatMessage {msg.id}"

    def guest_send_bad_jwt():
        use_guest_jwt("not-a-jwt")
        try:
            body, _ = expect_api_error(
                guest_client,
                lambda: webchat.post_webchat_guest_conversation_member_messages(
                    st["cid"], st["member"], mk(sdk.CreateWebChatMessageRequest, body="x", body_type="standard")
                ),
                401,
            )
        finally:
            use_guest_jwt(st["jwt"])
        return f"401 {body.code}"

    def guest_reads():
        members = webchat.get_webchat_guest_conversation_members(st["cid"])
        known(guest_client, "WebChatMemberInfoEntityList")
        populated(members, "entities[0].id", "entities[0].role", "entities[0].state")
        me = webchat.get_webchat_guest_conversation_member(st["cid"], st["member"])
        known(guest_client, "WebChatMemberInfo")
        populated(me, "id", "role", "display_name")
        msgs = webchat.get_webchat_guest_conversation_messages(st["cid"])
        known(guest_client, "WebChatMessageEntityList")
        populated(msgs, "entities[0].id", "entities[0].body", "entities[0].sender.id")
        typing = webchat.post_webchat_guest_conversation_member_typing(st["cid"], st["member"])
        known(guest_client, "WebChatTyping")
        populated(typing, "id", "conversation.id", "sender.id", "timestamp")
        return f"{len(members.entities)} member(s), {len(msgs.entities)} message(s), role {me.role}"

    def agent_side():
        ctl.connect(st["cid"], ALICE)
        chat = conv.get_conversations_chat(st["cid"])
        known(client, "ChatConversation")
        populated(chat, "id", "participants[0].id", "participants[0].purpose", "participants[0].state")
        generic = conv.get_conversation(st["cid"])
        agent = [p for p in generic.participants if p.purpose == "agent" and p.user_id == ALICE]
        expect(agent, "no agent participant")
        populated(agent[-1], "chats[0].id", "chats[0].state")
        st["comm"] = agent[-1].chats[0].id
        st["agent_pid"] = agent[-1].id
        known(client, "Conversation")
        return f"agent chat communication {st['comm']}"

    def agent_send():
        msg = conv.post_conversations_chat_communication_messages(
            st["cid"], st["comm"], mk(sdk.CreateWebChatMessageRequest, body="Hi Erin, Alice here.", body_type="standard")
        )
        known(client, "WebChatMessage")
        populated(msg, "id", "conversation.id", "sender.id", "body", "body_type", "timestamp")
        return f"WebChatMessage {msg.id} ({msg.body_type})"

    def agent_send_bad():
        body, _ = expect_api_error(
            client,
            lambda: conv.post_conversations_chat_communication_messages(st["cid"], st["comm"], sdk.CreateWebChatMessageRequest()),
            400,
            field="body",
        )
        return f"400 {body.code} naming body"

    def agent_typing_and_messages():
        t = conv.post_conversations_chat_communication_typing(st["cid"], st["comm"])
        known(client, "WebChatTyping")
        populated(t, "id", "conversation.id", "sender.id", "timestamp")
        msgs = conv.get_conversations_chat_messages(st["cid"])
        known(client, "WebChatMessageEntityList")
        populated(msgs, "entities[0].id", "entities[0].body")
        return f"{len(msgs.entities)} messages"

    def guest_leave_then_send():
        out = webchat.delete_webchat_guest_conversation_member(st["cid"], st["member"])
        expect(out is None, f"returned {out!r}")
        body, _ = expect_api_error(
            client,
            lambda: conv.post_conversations_chat_communication_messages(
                st["cid"], st["comm"], mk(sdk.CreateWebChatMessageRequest, body="still there?", body_type="standard")
            ),
            400,
            "conversation.message.communication.disconnected",
        )
        return f"guest left; agent send → 400 {body.code}"

    r.run("legacy_chat.guest_create", create)
    r.run("legacy_chat.guest_create_unknown_queue_400", create_bad)
    r.run("legacy_chat.guest_send_with_jwt", guest_send)
    r.run("legacy_chat.guest_send_bad_jwt_401", guest_send_bad_jwt)
    r.run("legacy_chat.guest_members_messages_typing", guest_reads)
    r.run("legacy_chat.agent_get_chat", agent_side)
    r.run("legacy_chat.agent_send", agent_send)
    r.run("legacy_chat.agent_send_invalid_400", agent_send_bad)
    r.run("legacy_chat.agent_typing_and_messages", agent_typing_and_messages)
    r.run("legacy_chat.send_after_guest_left_4xx", guest_leave_then_send)


def legacy_python():
    """The interpreter with SDK 263.0.0: $HERALD_SDK_LEGACY_PYTHON, else the sdk-venv-263 beside this venv."""
    explicit = os.environ.get("HERALD_SDK_LEGACY_PYTHON")
    if explicit:
        return explicit
    return os.path.join(sys.prefix + "-263", "bin", "python")


def run_legacy(r, base):
    python = legacy_python()
    if not os.path.exists(python):
        r.failed += 1
        print(f"FAIL legacy_chat  no interpreter with SDK 263.0.0 at {python}: run tests/sdk/python/setup.sh", flush=True)
        return
    proc = subprocess.run([python, os.path.abspath(__file__), base, "--legacy-chat"], capture_output=True, text=True,
                          timeout=300)
    sys.stdout.write(proc.stdout)
    sys.stdout.flush()
    r.passed += proc.stdout.count("\nok ") + proc.stdout.startswith("ok ")
    failed = proc.stdout.count("FAIL ")
    r.failed += failed
    if proc.returncode != 0 and failed == 0:
        r.failed += 1
        print(f"FAIL legacy_chat  interpreter exited {proc.returncode}: {proc.stderr[-500:]}", flush=True)


def sdk_version():
    try:
        from importlib.metadata import version

        return version("PureCloudPlatformClientV2")
    except Exception:  # noqa: BLE001
        return "unknown"


def main(argv):
    if len(argv) < 2 or argv[1].startswith("-"):
        print(__doc__.strip(), file=sys.stderr)
        return 2
    base = argv[1].rstrip("/")
    legacy_only = "--legacy-chat" in argv[2:]
    r = Report()
    ctl = ControlApi(base)
    if legacy_only:
        print(f"# PureCloudPlatformClientV2 {sdk_version()} (legacy web chat) against {base}", flush=True)
        legacy_chat_checks(r, base, ctl)
        return 1 if r.failed else 0

    print(f"# PureCloudPlatformClientV2 {sdk_version()} against {base}", flush=True)
    closed = ctl.fresh_start()
    if closed is not None:
        print(f"# not a fresh emulator: ended {closed} live conversation(s) and advanced its clock 73 h", flush=True)
    client = oauth_checks(r, base)
    if client is None:
        print("FAIL  no token: the remaining checks need one", flush=True)
        return 1
    rate_limit_checks(r, base, client, ctl)
    st = messaging_checks(r, base, client, ctl)
    canned_checks(r, client)
    notification_checks(r, client)
    presence_checks(r, client)
    run_legacy(r, base)
    analytics_checks(r, client, ctl, st)
    print(f"{r.passed} passed, {r.failed} failed", flush=True)
    return 1 if r.failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
