#!/usr/bin/env python3
"""The "side by side" benchmark: what integrators do today (a script on the official SDK) and herald, doing the
same job on the same emulator: put one message into each of N live web messaging conversations.

    side_by_side.py setup  EMULATOR_URL                  connect an agent to every live conversation (control API)
    side_by_side.py sdk    EMULATOR_URL                  the SDK script; prints one JSON line
    side_by_side.py herald EMULATOR_URL HERALD_URL KEY   POST /v1/notifications for each; prints one JSON line
    side_by_side.py table  SDK_JSON HERALD_JSON          a markdown table of both

side_by_side.sh runs all of it. The emulator's control API (/emulator/v1) lists the conversations and reads its
counters (requests, 429s, agent messages): reading them is not part of the measured work.
"""

import json
import sys
import time
import urllib.error
import urllib.request

# The emulator's seeded org (config/emulator.toml): the "load test" client for the SDK script, agents.
SDK_CLIENT, SDK_SECRET = "herald-loadtest", "herald-loadtest-secret"
AGENTS = ["11111111-aaaa-4bbb-8ccc-000000000001", "11111111-aaaa-4bbb-8ccc-000000000002"]


def http(method, url, body=None, headers=None, timeout=30):
    data = None if body is None else json.dumps(body).encode()
    req = urllib.request.Request(url, data=data, method=method)
    for k, v in (headers or {}).items():
        req.add_header(k, v)
    if data is not None:
        req.add_header("Content-Type", "application/json")
    with urllib.request.urlopen(req, timeout=timeout) as resp:
        raw = resp.read()
        return resp.status, (json.loads(raw) if raw else None)


def control(base, method, path, body=None):
    return http(method, f"{base}/emulator/v1{path}", body)[1]


def live_conversations(base):
    return [c for c in control(base, "GET", "/conversations")["entities"]
            if c["media"] == "message" and c["state"] == "connected"]


def counters(base):
    return control(base, "GET", "/counters")


def delta(before, after):
    return {k: after[k] - before[k] for k in ("requests", "tooManyRequests", "agentMessages", "agentlessMessages")}


# --------------------------------------------------------------------------------------------------------------
# setup


def setup(base):
    convs = live_conversations(base)
    connected = 0
    for i, c in enumerate(convs):
        if not c["connectedAgentIds"]:
            control(base, "POST", f"/conversations/{c['id']}/agents/{AGENTS[i % len(AGENTS)]}/connect")
            connected += 1
    ready = [c for c in live_conversations(base) if c["connectedAgentIds"]]
    print(json.dumps({"conversations": len(convs), "agents_connected_now": connected, "ready": len(ready)}))


# --------------------------------------------------------------------------------------------------------------
# the SDK script, as the integrators' reports write it


def sdk_side(base):
    import PureCloudPlatformClientV2 as sdk
    from PureCloudPlatformClientV2.rest import ApiException

    ids = [c["id"] for c in live_conversations(base) if c["connectedAgentIds"]]
    before = counters(base)
    t0 = time.monotonic()

    client = sdk.ApiClient(host=base)
    client.get_client_credentials_token(SDK_CLIENT, SDK_SECRET)
    api = sdk.ConversationsApi(client)

    sent, failed, seen_429, retries = 0, 0, 0, 0
    errors = {}
    for cid in ids:
        # Naive retry: on a 429 wait what the error says (or a second) and try the whole step again, 5 times.
        for attempt in range(5):
            try:
                conv = api.get_conversation(cid)
                comm = None
                for p in conv.participants:
                    if p.purpose == "agent":
                        for m in p.messages or []:
                            if m.state == "connected":
                                comm = m.id
                if comm is None:
                    raise RuntimeError("no connected agent communication")
                body = sdk.AdditionalMessage()
                body.text_body = "Your order has shipped."
                api.post_conversations_message_communication_messages(cid, comm, body)
                sent += 1
                break
            except ApiException as e:
                if e.status == 429 and attempt < 4:
                    seen_429 += 1
                    retries += 1
                    time.sleep(float((e.headers or {}).get("Retry-After", "1")))
                    continue
                failed += 1
                errors[str(e.status)] = errors.get(str(e.status), 0) + 1
                break
            except Exception as e:  # noqa: BLE001 - the script keeps going, as the reports' scripts do
                failed += 1
                errors[type(e).__name__] = errors.get(type(e).__name__, 0) + 1
                break
    elapsed = time.monotonic() - t0
    d = delta(before, counters(base))
    print(json.dumps({
        "side": "official SDK script (PureCloudPlatformClientV2 %s)" % sdk_version(),
        "n": len(ids), "delivered": sent, "failed": failed, "errors": errors,
        "elapsed_s": round(elapsed, 2), "per_s": round(sent / elapsed, 2) if elapsed else 0,
        "api_requests": d["requests"], "http_429": d["tooManyRequests"], "script_saw_429": seen_429,
        "agent_messages": d["agentMessages"],
    }))


def sdk_version():
    try:
        from importlib.metadata import version

        return version("PureCloudPlatformClientV2")
    except Exception:  # noqa: BLE001
        return "?"


# --------------------------------------------------------------------------------------------------------------
# herald: POST /v1/notifications, then wait until every one is delivered (or failed)


def herald_side(base, herald, key):
    ids = [c["id"] for c in live_conversations(base) if c["connectedAgentIds"]]
    auth = {"Authorization": f"Bearer {key}"}
    before = counters(base)
    t0 = time.monotonic()
    accepted = []
    for cid in ids:
        body = {"integration": "web", "target": {"type": "conversation", "id": cid}, "text": "Your order has shipped."}
        status, view = http("POST", f"{herald}/v1/notifications", body, {**auth, "Idempotency-Key": f"sbs-{cid}"})
        if status != 202:
            raise SystemExit(f"herald answered {status}: {view}")
        accepted.append(view["id"])
    accepted_s = time.monotonic() - t0

    want = set(accepted)
    final = {}
    deadline = time.monotonic() + 600
    while time.monotonic() < deadline:
        for status in ("delivered", "failed", "expired"):
            _, views = http("GET", f"{herald}/v1/notifications?status={status}&limit=10000", headers=auth)
            for v in views:
                if v["id"] in want:
                    final[v["id"]] = status
        if len(final) == len(want):
            break
        time.sleep(0.1)
    elapsed = time.monotonic() - t0
    d = delta(before, counters(base))
    delivered = sum(1 for s in final.values() if s == "delivered")
    failed = len(want) - delivered
    print(json.dumps({
        "side": "herald serve (webmessaging integration)",
        "n": len(ids), "delivered": delivered, "failed": failed,
        "errors": {s: sum(1 for x in final.values() if x == s) for s in ("failed", "expired") if s in final.values()},
        "elapsed_s": round(elapsed, 2), "accepted_s": round(accepted_s, 2),
        "per_s": round(delivered / elapsed, 2) if elapsed else 0,
        "api_requests": d["requests"], "http_429": d["tooManyRequests"], "script_saw_429": 0,
        "agent_messages": d["agentMessages"],
    }))


# --------------------------------------------------------------------------------------------------------------


def table(sdk_json, herald_json):
    rows = [json.loads(open(p).read().strip().splitlines()[-1]) for p in (sdk_json, herald_json)]
    print("| | " + " | ".join(r["side"] for r in rows) + " |")
    print("|---|" + "---:|" * len(rows))
    lines = [
        ("conversations (N)", "n"),
        ("messages delivered", "delivered"),
        ("failures", "failed"),
        ("wall time, s (first request → last delivered)", "elapsed_s"),
        ("messages/s", "per_s"),
        ("Platform API requests", "api_requests"),
        ("429 answers from the emulator", "http_429"),
        ("429s the script's own retry loop saw", "script_saw_429"),
        ("agent messages recorded by the emulator", "agent_messages"),
    ]
    for label, key in lines:
        print(f"| {label} | " + " | ".join(str(r.get(key, "")) for r in rows) + " |")


def main(argv):
    if len(argv) < 3:
        print(__doc__.strip(), file=sys.stderr)
        return 2
    cmd = argv[1]
    if cmd == "setup":
        setup(argv[2].rstrip("/"))
    elif cmd == "sdk":
        sdk_side(argv[2].rstrip("/"))
    elif cmd == "herald" and len(argv) == 5:
        herald_side(argv[2].rstrip("/"), argv[3].rstrip("/"), argv[4])
    elif cmd == "table" and len(argv) == 4:
        table(argv[2], argv[3])
    else:
        print(__doc__.strip(), file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
