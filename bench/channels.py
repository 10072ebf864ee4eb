"""Channel benchmark (`make bench-channels`): signed webhooks vs plain REST against a running stack.

N messages from C concurrent conversations, spread over SMS, WhatsApp and Telegram: each is a
signed provider webhook to the Rasa server, and its reply is observed where it lands, at the fake
provider. Latency is webhook-sent -> last outbound of the turn (also reported: the webhook's own
200, and the first outbound). The same load then goes through the REST channel as the baseline
(request -> full JSON reply), and the ratio is printed with the targets (<= 1.3x, p99 < 250 ms).

The stack must run with HAVEN_TWILIO_API_BASE / HAVEN_TELEGRAM_API_BASE pointing at the fake
provider, and this process needs the same HAVEN_PUBLIC_URL, HAVEN_TWILIO_AUTH_TOKEN and
HAVEN_TELEGRAM_SECRET to sign. Either give the URL of a running fake (`--provider`, started with
`python -m tests.fakes.provider`) or let the bench serve it (`--serve-provider 127.0.0.1:8999`).

  python -m bench.channels --rasa-url http://127.0.0.1:5005 --serve-provider 127.0.0.1:8999 -n 300 -c 20
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import sys
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Optional
from urllib.parse import urlencode, urlparse

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import httpx  # noqa: E402

CHANNELS = ("sms", "whatsapp", "telegram")
TARGET_RATIO = 1.3
TARGET_P99_MS = 250.0


# ---------------------------------------------------------------- provider view


class ProviderView:
    """Waits for outbound requests to one recipient: in-process fake, or a running one over HTTP."""

    def __init__(self, url: Optional[str], local: Any = None) -> None:
        self.url = url.rstrip("/") if url else None
        self.local = local
        self.http: Optional[httpx.AsyncClient] = None

    async def wait(self, recipient: str, count: int, timeout: float) -> list[dict[str, Any]]:
        """Every recorded request to `recipient` once there are at least `count` (or on timeout)."""
        if self.local is not None:
            deadline = time.monotonic() + timeout
            async with self.local._changed:
                while True:
                    found = [r.as_dict() for r in self.local.requests if r.recipient == recipient]
                    remaining = deadline - time.monotonic()
                    if len(found) >= count or remaining <= 0:
                        return found
                    try:
                        await asyncio.wait_for(self.local._changed.wait(), remaining)
                    except asyncio.TimeoutError:
                        pass
        assert self.http is not None and self.url is not None
        resp = await self.http.get(
            f"{self.url}/__fake__/wait", params={"to": recipient, "count": count, "timeout": timeout}, timeout=timeout + 5
        )
        resp.raise_for_status()
        data: list[dict[str, Any]] = resp.json()
        return data


# ---------------------------------------------------------------- signed requests


@dataclass
class Signer:
    public_url: str
    twilio_token: str
    telegram_secret: str

    def twilio(self, path: str, form: dict[str, str]) -> tuple[bytes, dict[str, str]]:
        from twilio.request_validator import RequestValidator

        sig = RequestValidator(self.twilio_token).compute_signature(self.public_url + path, form)
        return urlencode(form).encode(), {"content-type": "application/x-www-form-urlencoded", "x-twilio-signature": sig}

    def telegram(self, update: dict[str, Any]) -> tuple[bytes, dict[str, str]]:
        return json.dumps(update).encode(), {"content-type": "application/json", "x-telegram-bot-api-secret-token": self.telegram_secret}


@dataclass
class Conversation:
    """One simulated person on one channel (invented number or chat id)."""

    channel: str
    index: int
    run: int
    seq: int = 0

    @property
    def number(self) -> str:
        return f"+1555{self.run % 1000:03d}{self.index:04d}"

    @property
    def chat_id(self) -> int:
        return 9_000_000_000 + (self.run % 100_000) * 10_000 + self.index

    @property
    def recipient(self) -> str:
        if self.channel == "telegram":
            return str(self.chat_id)
        return ("whatsapp:" if self.channel == "whatsapp" else "") + self.number

    def request(self, signer: Signer, text: str) -> tuple[str, bytes, dict[str, str]]:
        self.seq += 1
        path = f"/webhooks/{self.channel}/webhook"
        if self.channel == "telegram":
            update = {
                "update_id": (self.run % 100_000) * 100_000 + self.index * 100 + self.seq,
                "message": {
                    "message_id": self.seq * 2, "date": int(time.time()),
                    "chat": {"id": self.chat_id, "type": "private"},
                    "from": {"id": self.chat_id, "is_bot": False, "first_name": "bench", "language_code": "en"},
                    "text": text,
                },
            }
            body, headers = signer.telegram(update)
            return path, body, headers
        sid = "SM" + uuid.uuid4().hex
        form = {"MessageSid": sid, "SmsMessageSid": sid, "AccountSid": "ACbench", "NumMedia": "0", "Body": text,
                "From": self.recipient, "To": "+15550000000", "SmsStatus": "received", "ApiVersion": "2010-04-01"}
        body, headers = signer.twilio(path, form)
        return path, body, headers


# ---------------------------------------------------------------- measurement


@dataclass
class Sample:
    channel: str
    ack_ms: float
    first_ms: Optional[float]
    turn_ms: Optional[float]
    ok: bool


@dataclass
class Result:
    label: str
    samples: list[Sample] = field(default_factory=list)
    wall_s: float = 0.0

    def turn(self) -> list[float]:
        return [s.turn_ms for s in self.samples if s.ok and s.turn_ms is not None]


def pct(values: list[float], p: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    k = max(0, min(len(ordered) - 1, int(round(p / 100 * len(ordered) + 0.5)) - 1))
    return ordered[k]


async def quiet_count(view: ProviderView, recipient: str, already: int, quiet: float, timeout: float) -> int:
    """How many outbound messages one turn produces: wait for the first, then for `quiet` seconds of silence."""
    found = await view.wait(recipient, already + 1, timeout)
    while True:
        more = await view.wait(recipient, len(found) + 1, quiet)
        if len(more) <= len(found):
            return len(found) - already
        found = more


async def probe(client: httpx.AsyncClient, view: ProviderView, signer: Signer, rasa: str, channel: str, text: str, run: int, timeout: float) -> tuple[int, int]:
    """Outbound messages per turn for a first and a later message of a conversation."""
    conv = Conversation(channel, 9999, run)
    counts = []
    seen = 0
    for _ in range(2):
        path, body, headers = conv.request(signer, text)
        resp = await client.post(rasa + path, content=body, headers=headers)
        resp.raise_for_status()
        n = await quiet_count(view, conv.recipient, seen, 1.0, timeout)
        counts.append(n)
        seen += n
    return counts[0], counts[1]


async def channel_load(client: httpx.AsyncClient, view: ProviderView, signer: Signer, rasa: str, channels: list[str], n: int,
                       c: int, text: str, expected: dict[str, tuple[int, int]], run: int, timeout: float) -> Result:
    result = Result("channels")
    per_worker = [n // c + (1 if i < n % c else 0) for i in range(c)]

    async def worker(i: int) -> None:
        conv = Conversation(channels[i % len(channels)], i, run)
        seen = 0
        for k in range(per_worker[i]):
            want = expected[conv.channel][0 if k == 0 else 1]
            path, body, headers = conv.request(signer, text)
            t0 = time.time()
            try:
                resp = await client.post(rasa + path, content=body, headers=headers)
                ack = (time.time() - t0) * 1000
                got = await view.wait(conv.recipient, seen + want, timeout) if resp.status_code == 200 else []
            except httpx.HTTPError:
                result.samples.append(Sample(conv.channel, (time.time() - t0) * 1000, None, None, False))
                continue
            new = got[seen:]
            ok = resp.status_code == 200 and len(new) >= want
            seen = len(got)
            first = (new[0]["ts"] - t0) * 1000 if new else None
            last = (new[want - 1]["ts"] - t0) * 1000 if ok and want else None
            result.samples.append(Sample(conv.channel, ack, first, last, ok))

    start = time.time()
    await asyncio.gather(*(worker(i) for i in range(c)))
    result.wall_s = time.time() - start
    return result


async def rest_load(client: httpx.AsyncClient, rasa: str, n: int, c: int, text: str, run: int) -> Result:
    result = Result("rest")
    per_worker = [n // c + (1 if i < n % c else 0) for i in range(c)]

    async def worker(i: int) -> None:
        sender = f"bench-{run}-{i}"
        for _ in range(per_worker[i]):
            t0 = time.time()
            try:
                resp = await client.post(f"{rasa}/webhooks/rest/webhook", json={"sender": sender, "message": text})
                ms = (time.time() - t0) * 1000
                ok = resp.status_code == 200 and bool(resp.json())
            except (httpx.HTTPError, ValueError):
                ms, ok = (time.time() - t0) * 1000, False
            result.samples.append(Sample("rest", ms, ms, ms, ok))

    start = time.time()
    await asyncio.gather(*(worker(i) for i in range(c)))
    result.wall_s = time.time() - start
    return result


# ---------------------------------------------------------------- process memory


def rss_mb(pid: Optional[int]) -> Optional[float]:
    if not pid:
        return None
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except OSError:
        return None
    return None


def pid_listening_on(port: int) -> Optional[int]:
    """The pid of the process listening on a local TCP port (read-only scan of /proc)."""
    inodes = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            rows = Path(table).read_text().splitlines()[1:]
        except OSError:
            continue
        for row in rows:
            parts = row.split()
            if len(parts) > 9 and parts[3] == "0A" and int(parts[1].rsplit(":", 1)[1], 16) == port:
                inodes.add(parts[9])
    if not inodes:
        return None
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            for fd in (proc / "fd").iterdir():
                target = os.readlink(fd)
                if target.startswith("socket:[") and target[8:-1] in inodes:
                    return int(proc.name)
        except OSError:
            continue
    return None


# ---------------------------------------------------------------- report


def summarise(result: Result) -> dict[str, Any]:
    turn = result.turn()
    ok = sum(1 for s in result.samples if s.ok)
    out: dict[str, Any] = {
        "messages": len(result.samples), "ok": ok, "failed": len(result.samples) - ok,
        "wall_s": round(result.wall_s, 3), "msgs_per_s": round(ok / result.wall_s, 2) if result.wall_s else None,
        "p50_ms": round(pct(turn, 50), 1), "p95_ms": round(pct(turn, 95), 1), "p99_ms": round(pct(turn, 99), 1),
    }
    if result.label == "channels":
        acks = [s.ack_ms for s in result.samples]
        firsts = [s.first_ms for s in result.samples if s.first_ms is not None]
        out["webhook_ack_p50_ms"] = round(pct(acks, 50), 1)
        out["webhook_ack_p99_ms"] = round(pct(acks, 99), 1)
        out["first_outbound_p50_ms"] = round(pct(firsts, 50), 1)
        out["first_outbound_p99_ms"] = round(pct(firsts, 99), 1)
        out["by_channel"] = {}
        for channel in sorted({s.channel for s in result.samples}):
            values = [s.turn_ms for s in result.samples if s.channel == channel and s.ok and s.turn_ms is not None]
            out["by_channel"][channel] = {"n": len(values), "p50_ms": round(pct(values, 50), 1), "p99_ms": round(pct(values, 99), 1)}
    return out


def print_report(report: dict[str, Any]) -> None:
    ch, rest = report["channels"], report["rest"]
    print()
    print(f"channel bench: {report['messages']} messages, {report['concurrency']} concurrent conversations, text {report['text']!r}")
    print(f"{'path':<10}{'ok':>6}{'fail':>6}{'msg/s':>9}{'p50 ms':>9}{'p95 ms':>9}{'p99 ms':>9}")
    for label, s in (("channels", ch), ("rest", rest)):
        print(f"{label:<10}{s['ok']:>6}{s['failed']:>6}{s['msgs_per_s']:>9}{s['p50_ms']:>9}{s['p95_ms']:>9}{s['p99_ms']:>9}")
    for channel, s in ch.get("by_channel", {}).items():
        print(f"  {channel:<8}{s['n']:>6}{'':>15}{s['p50_ms']:>9}{'':>9}{s['p99_ms']:>9}")
    print(f"webhook 200: p50 {ch['webhook_ack_p50_ms']} ms, p99 {ch['webhook_ack_p99_ms']} ms; "
          f"first outbound: p50 {ch['first_outbound_p50_ms']} ms, p99 {ch['first_outbound_p99_ms']} ms")
    ratio = report["ratio"]
    print(f"ratio channels/REST: p50 {ratio['p50']}x, p99 {ratio['p99']}x, per-message cost (1/throughput) {ratio['cost']}x "
          f"(target <= {TARGET_RATIO}x): {'OK' if report['targets']['ratio_ok'] else 'MISSED'}")
    print(f"channel p99 {ch['p99_ms']} ms (target < {TARGET_P99_MS:g} ms at 20 concurrent): "
          f"{'OK' if report['targets']['p99_ok'] else 'MISSED'}")
    if report.get("rasa_rss_mb") is not None:
        print(f"Rasa server memory (pid {report['rasa_pid']}): {report['rasa_rss_mb_before']} MB before, {report['rasa_rss_mb']} MB after")
    if report.get("provider_rss_mb") is not None:
        print(f"this process (load generator + fake provider): {report['provider_rss_mb']} MB")


def ratio(a: float, b: float) -> Optional[float]:
    return round(a / b, 2) if b and a == a and b == b else None


async def run(args: argparse.Namespace) -> dict[str, Any]:
    from bot.settings import load_settings

    settings = load_settings()
    signer = Signer(settings.public_url.rstrip("/"), settings.twilio_auth_token or "", settings.telegram_secret or "")
    rasa = args.rasa_url.rstrip("/")
    wanted = [c.strip() for c in args.channels.split(",") if c.strip()]
    enabled = {"sms": settings.sms_enabled, "whatsapp": settings.whatsapp_enabled, "telegram": settings.telegram_enabled}
    channels = [c for c in wanted if enabled.get(c)]
    skipped = [c for c in wanted if c not in channels]
    if skipped:
        print(f"skipping channels without credentials in this environment: {', '.join(skipped)}", file=sys.stderr)
    if not channels:
        raise SystemExit("no channel is configured (HAVEN_TWILIO_* / HAVEN_TELEGRAM_* must match the stack)")

    local = None
    if args.serve_provider:
        from tests.fakes.provider import FakeProvider

        host, _, port = args.serve_provider.rpartition(":")
        local = await FakeProvider(host or "127.0.0.1", int(port)).start()
    view = ProviderView(args.provider, local)
    if local is None and not args.provider:
        raise SystemExit("give --provider URL (a running fake) or --serve-provider HOST:PORT")

    pid = args.rasa_pid or pid_listening_on(urlparse(rasa).port or 80)
    run_id = random.randrange(1, 10**9)
    limits = httpx.Limits(max_connections=args.concurrency * 2 + 4, max_keepalive_connections=args.concurrency * 2 + 4)
    async with httpx.AsyncClient(timeout=args.timeout, limits=limits) as client:
        view.http = client
        try:
            expected = {}
            for channel in channels:
                expected[channel] = await probe(client, view, signer, rasa, channel, args.text, run_id, args.timeout)
                print(f"probe {channel}: {expected[channel][0]} message(s) for a first turn, {expected[channel][1]} after", file=sys.stderr)
                if 0 in expected[channel]:
                    raise SystemExit(f"{channel}: no reply reached the fake provider (is the stack pointed at it?)")
            for _ in range(args.warmup):
                await rest_load(client, rasa, args.concurrency, args.concurrency, args.text, run_id + 1)
            before = rss_mb(pid)
            ch = await channel_load(client, view, signer, rasa, channels, args.messages, args.concurrency, args.text, expected, run_id, args.timeout)
            rest = await rest_load(client, rasa, args.messages, args.concurrency, args.text, run_id)
            after = rss_mb(pid)
        finally:
            if local is not None:
                await local.stop()
    chs, rests = summarise(ch), summarise(rest)
    cost = ratio(rests["msgs_per_s"] or 0, chs["msgs_per_s"] or 0)
    report = {
        "messages": args.messages, "concurrency": args.concurrency, "text": args.text, "channels_used": channels,
        "channels": chs, "rest": rests,
        "ratio": {"p50": ratio(chs["p50_ms"], rests["p50_ms"]), "p99": ratio(chs["p99_ms"], rests["p99_ms"]), "cost": cost},
        "rasa_pid": pid, "rasa_rss_mb_before": round(before, 1) if before else None, "rasa_rss_mb": round(after, 1) if after else None,
        "provider_rss_mb": round(rss_mb(os.getpid()) or 0, 1),
    }
    p50_ratio = report["ratio"]["p50"]
    report["targets"] = {
        "ratio_ok": p50_ratio is not None and p50_ratio <= TARGET_RATIO and (cost is None or cost <= TARGET_RATIO),
        "p99_ok": chs["p99_ms"] < TARGET_P99_MS,
        "no_failures": chs["failed"] == 0 and rests["failed"] == 0,
    }
    return report


def main(argv: Optional[list[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rasa-url", default=os.environ.get("HAVEN_RASA_URL", "http://127.0.0.1:5005"))
    parser.add_argument("--provider", default=None, help="URL of a running fake provider (python -m tests.fakes.provider)")
    parser.add_argument("--serve-provider", default=None, metavar="HOST:PORT", help="serve the fake provider in this process")
    parser.add_argument("-n", "--messages", type=int, default=300)
    parser.add_argument("-c", "--concurrency", type=int, default=20)
    parser.add_argument("--channels", default=",".join(CHANNELS))
    parser.add_argument("--text", default="hello")
    parser.add_argument("--warmup", type=int, default=1, help="rounds of REST warm-up before measuring")
    parser.add_argument("--timeout", type=float, default=30.0)
    parser.add_argument("--rasa-pid", type=int, default=None, help="pid of the Rasa server (default: found by its port)")
    parser.add_argument("--json", default=None, help="also write the report as JSON to this path")
    parser.add_argument("--strict", action="store_true", help="exit 1 when a target is missed")
    args = parser.parse_args(argv)
    report = asyncio.run(run(args))
    print_report(report)
    if args.json:
        Path(args.json).parent.mkdir(parents=True, exist_ok=True)
        Path(args.json).write_text(json.dumps(report, indent=2))
    if args.strict and not all(report["targets"].values()):
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
