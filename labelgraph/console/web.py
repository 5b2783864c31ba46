"""The console in a browser: a local web page on the same UI-free controller as the terminal.

``labelgraph serve RUN_DIR`` builds a :class:`~labelgraph.console.controller.Controller` and
serves one page (``static/``: plain HTML, CSS and JavaScript, nothing fetched from elsewhere)
with a JSON API and a server-sent event stream. Everything the page changes goes through the
controller — slash commands, plain language with its confirmation, answers, corrections — so
the ledger records it as it records the terminal's. Who may use it: the server binds to
127.0.0.1 unless told otherwise, and every request, the event stream included, must carry the
random token the command printed (``?token=`` or an ``X-Token`` header).
"""

from __future__ import annotations

import asyncio
import contextlib
import hmac
import json
import threading
from collections.abc import AsyncIterator
from importlib import resources
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response, StreamingResponse
from starlette.routing import Route

from labelgraph.console.controller import Controller
from labelgraph.registry import registry

__all__ = ["Hub", "make_app", "page_state"]

#: seconds between keep-alive comments on an idle event stream
KEEPALIVE = 15.0


class Hub:
    """Fans the controller's lines and state changes out to every open event stream.

    The controller's thread calls :meth:`line`; a watcher thread wakes on the controller's
    condition (every status change notifies it) and sends a new state when what the page
    shows has changed. Each stream owns an asyncio queue on the server's loop."""

    def __init__(self, ctl: Controller) -> None:
        self.ctl = ctl
        self.loop: asyncio.AbstractEventLoop | None = None
        self.queues: set[asyncio.Queue[tuple[str, Any]]] = set()
        self._lock = threading.Lock()
        self._key: Any = None
        self._stop = threading.Event()
        self._watcher = threading.Thread(target=self._watch, daemon=True,
                                         name="labelgraph-web-hub")

    def start(self, loop: asyncio.AbstractEventLoop) -> None:
        self.loop = loop
        self.ctl.sink = self.line
        self._watcher.start()

    def close(self) -> None:
        self._stop.set()

    def publish(self, kind: str, data: Any) -> None:
        """Queue an event for every stream (from any thread)."""
        if self.loop is None:
            return
        with self._lock:
            queues = list(self.queues)
        for queue in queues:
            self.loop.call_soon_threadsafe(queue.put_nowait, (kind, data))

    def line(self, text: str) -> None:
        self.publish("line", text)
        self.poke()

    def poke(self) -> None:
        """Send the state if what the page shows changed."""
        key = self._state_key()
        if key != self._key:
            self._key = key
            self.publish("state", page_state(self.ctl))

    def _state_key(self) -> Any:
        ctl = self.ctl
        ledger = ctl.lg.context.ledger
        now = ctl.current_question()
        return (ctl.status, len(ctl.questions), now[0] if now else None,
                tuple(c.note for c in ctl.confirming), ledger.last_round(),
                ledger.round_ended(), ctl.lg.context.meter.snapshot()["labels"],
                len(ledger.human_actions()))

    def _watch(self) -> None:
        while not self._stop.is_set():
            self.ctl.await_change(1.0)
            try:
                self.poke()
            except Exception:  # noqa: BLE001 (a closing run: the next wake tries again)
                continue

    async def stream(self, request: Request) -> AsyncIterator[str]:
        """One browser's event stream: the state and the latest lines first, then news."""
        queue: asyncio.Queue[tuple[str, Any]] = asyncio.Queue()
        with self._lock:
            self.queues.add(queue)
        try:
            yield _sse("state", page_state(self.ctl))
            yield _sse("lines", self.ctl.lines)
            while not await request.is_disconnected():
                try:
                    kind, data = await asyncio.wait_for(queue.get(), KEEPALIVE)
                except TimeoutError:
                    yield ": keep-alive\n\n"
                    continue
                yield _sse(kind, data)
        finally:
            with self._lock:
                self.queues.discard(queue)


def _sse(kind: str, data: Any) -> str:
    return f"event: {kind}\ndata: {json.dumps(data, default=str)}\n\n"


def _question(ctl: Controller) -> dict[str, Any] | None:
    """The waiting question with its suggestion and the nearest labeled examples."""
    now = ctl.current_question()
    if now is None:
        return None
    at, q = now
    ctx = ctl.lg.context
    near: list[dict[str, Any]] = []
    with contextlib.suppress(Exception):  # neighbours are a help, never a blocker
        found = ctx.memory.similar(ctx.embed_items([q]), 3)[0]
        near = [{"text": e.text[:300], "label": e.label, "similarity": round(sim, 3)}
                for e, sim in found]
    return {"id": q["id"], "text": q["text"], "labels": q["labels"],
            "suggestion": q.get("suggestion"), "confidence": q.get("confidence"),
            "at": at, "total": len(ctl.questions), "neighbours": near}


def page_state(ctl: Controller) -> dict[str, Any]:
    """Everything the page shows, as plain data."""
    lg = ctl.lg
    ctx = lg.context
    ctx.meter.refresh()
    spent, budget = ctx.meter.snapshot(), ctx.meter.budget
    metrics = ctx.ledger.metrics()
    decisions = ctx.ledger.decisions()[-30:]
    config = ctx.config
    return {
        "run": str(lg.run_dir), "status": ctl.status, "status_line": ctl.status_line(),
        "read_only": lg.read_only, "labels": list(lg.task.labels),
        "round": ctx.ledger.last_round(), "round_ended": ctx.ledger.round_ended(),
        "spent": {"labels": int(spent["labels"]), "usd": spent["usd"],
                  "tokens": int(spent["tokens"])},
        "budget": {"labels": budget.labels, "usd": budget.usd,
                   "left": ctx.meter.remaining_labels()},
        "curve": [{"round": m["round"], "labels": m.get("labels"),
                   "accuracy": m.get("accuracy")} for m in metrics],
        "decisions": [{"round": d["round"], "action": d["action"],
                       "strategy": d.get("strategy"), "reason": d.get("reason", ""),
                       "followed": d.get("followed") or [],
                       "proposals": {agent: {"action": p.get("action"),
                                             "reason": p.get("reason")}
                                     for agent, p in ((d.get("signals") or {})
                                                      .get("proposals") or {}).items()}}
                      for d in reversed(decisions)],
        "question": _question(ctl),
        "confirming": [c.note for c in ctl.confirming],
        "settings": {"strategy": config.strategy, "batch_size": config.batch_size,
                     "synthesize": config.synthesize, "strategies": registry.names("strategies")},
        "error": ctl.error,
    }


def labels_table(ctl: Controller, query: str = "", sort: str = "round",
                 descending: bool = True, suspects: bool = False,
                 limit: int = 500) -> dict[str, Any]:
    """The labeled items as rows (text, label, source, confidence, verdict), filtered by
    ``query``, sorted, the latest audit's suspects first when asked."""
    from labelgraph.export import labeled_rows

    data = labeled_rows(ctl.lg)
    audits = ctl.lg.context.ledger.audits()
    last = max((a["round"] for a in audits), default=None)
    suspect = {a["item_id"]: a for a in audits  # the ledger keeps suspects and the skipped
               if a["round"] == last and a["action"] != "skip"}
    if query:
        data = data[data["text"].str.contains(query, case=False, regex=False, na=False) |
                    data["label"].astype(str).str.contains(query, case=False, regex=False)]
    if sort in data.columns:
        data = data.sort_values(sort, ascending=not descending, kind="stable",
                                na_position="last")
    rows = [{"id": r["id"], "text": r["text"], "label": r["label"], "source": r["source"],
             "confidence": None if r["confidence"] != r["confidence"] else r["confidence"],
             "verdict": r["verdict"], "status": r.get("status"), "round": r.get("round"),
             "suspect": suspect[r["id"]]["reason"] if r["id"] in suspect else None}
            for r in data.to_dict("records")]
    if suspects:
        rows.sort(key=lambda r: r["suspect"] is None)
    return {"rows": rows[:limit], "total": len(rows), "audit_round": last,
            "suspects": sum(r["suspect"] is not None for r in rows)}


def make_app(ctl: Controller, token: str) -> Starlette:
    """The web console's app for one controller; every route checks ``token``."""
    _ = ctl.lg.context  # built here, once, before the server's threads read it
    hub = Hub(ctl)

    def allowed(request: Request) -> bool:
        given = request.query_params.get("token") or request.headers.get("x-token") or ""
        return hmac.compare_digest(given.encode(), token.encode())

    def refuse() -> Response:
        return HTMLResponse("<h1>403</h1><p>This page needs the token that <code>labelgraph "
                            "serve</code> printed: open the full URL it showed.</p>",
                            status_code=403)

    async def page(request: Request) -> Response:
        if not allowed(request):
            return refuse()
        static = resources.files("labelgraph.console") / "static"
        html = (static / "index.html").read_text(encoding="utf-8")
        html = html.replace("/*STYLE*/", (static / "style.css").read_text(encoding="utf-8"))
        html = html.replace("/*SCRIPT*/", (static / "app.js").read_text(encoding="utf-8"))
        return HTMLResponse(html, headers={"Cache-Control": "no-store"})

    async def events(request: Request) -> Response:
        if not allowed(request):
            return refuse()
        return StreamingResponse(hub.stream(request), media_type="text/event-stream",
                                 headers={"Cache-Control": "no-store",
                                          "X-Accel-Buffering": "no"})

    async def state(request: Request) -> Response:
        if not allowed(request):
            return refuse()
        return JSONResponse(json.loads(json.dumps(page_state(ctl), default=str)))

    async def labels(request: Request) -> Response:
        if not allowed(request):
            return refuse()
        q = request.query_params
        table = labels_table(ctl, q.get("q", ""), q.get("sort", "round"),
                             q.get("order", "desc") == "desc", q.get("suspects") == "1")
        return JSONResponse(json.loads(json.dumps(table, default=str)))

    async def act(request: Request) -> Response:
        """POST {"say": line} | {"answer": text} | {"undo": true}: the controller's reply."""
        if not allowed(request):
            return refuse()
        try:
            body = await request.json()
        except ValueError:
            return JSONResponse({"error": "send JSON"}, status_code=400)
        if not isinstance(body, dict):
            return JSONResponse({"error": "send a JSON object"}, status_code=400)
        loop = asyncio.get_running_loop()
        if "answer" in body:
            reply = await loop.run_in_executor(None, ctl.answer, str(body["answer"]))
        elif body.get("undo"):
            reply = await loop.run_in_executor(None, ctl.undo)
        elif "say" in body:
            reply = await loop.run_in_executor(None, ctl.execute, str(body["say"]))
        else:
            return JSONResponse({"error": "say, answer or undo"}, status_code=400)
        hub.poke()
        return JSONResponse({"reply": reply, "state": json.loads(json.dumps(
            page_state(ctl), default=str))})

    @contextlib.asynccontextmanager
    async def lifespan(_: Starlette) -> AsyncIterator[None]:
        hub.start(asyncio.get_running_loop())
        yield
        hub.close()

    return Starlette(routes=[Route("/", page), Route("/events", events),
                             Route("/api/state", state), Route("/api/labels", labels),
                             Route("/api/act", act, methods=["POST"])],
                     lifespan=lifespan)
