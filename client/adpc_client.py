#!/usr/bin/env python3
"""A single-file Python client of the adpc-edge stream protocol (WS /v1/stream, docs/PROTOCOL.md).

Needs Python 3.8+ and the `websockets` package (10.4 or later: Debian's python3-websockets,
or `pip install websockets`). As a library:

    async with await AdpcClient.connect("ws://localhost:8080/v1/stream", token=None,
                                        config={"labels": "raw", "summary": "classes"}) as client:
        frame = await client.send(open("street.jpg", "rb").read(), budget={"max_exit": 3},
                                  capture_ts=time.time())
        async for exit in frame:          # coarse to fine; ends with the frame
            print(exit.metadata["exit"], exit.metadata["timing_ms"], len(exit.labels))
        print(await frame.outcome)        # how the frame ended

As a command: python3 adpc_client.py URL IMAGE... [--token T] [--max-exit N] [--summary classes]
prints one JSON line per exit. A refused connection or frame raises AdpcError with the
server's code (src/errors.ts); frames in flight when the connection drops fail with
CONNECTION_LOST. This client does not reconnect (the TypeScript client does).
"""

import argparse
import asyncio
import inspect
import json
import struct
import sys
from typing import Any, AsyncIterator, Dict, List, Optional, Union

import websockets

PROTOCOL_VERSION = 1
FRAME_MAGIC = b"ADPC"
EXIT_MAGIC = b"ADPX"
FORMATS = {"encoded": 0, "rgb": 1, "rgba": 2}
CONFIG_ERRORS = {"OPTION_INVALID", "BUDGET_INVALID", "BAD_MESSAGE"}


class AdpcError(Exception):
    """A server code (BUDGET_INVALID, IMAGE_EMPTY, UNAUTHORISED, ...) or CONNECTION_LOST."""

    def __init__(self, code: str, message: str, frame_id: Optional[int] = None):
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message
        self.frame_id = frame_id


class RawImage:
    """Raw pixels: RGB (3 bytes per pixel) or RGBA (4), row-major."""

    def __init__(self, data: bytes, width: int, height: int, channels: int = 3):
        if channels not in (3, 4):
            raise ValueError("channels must be 3 or 4")
        self.data, self.width, self.height, self.channels = data, width, height, channels


class Exit:
    def __init__(self, metadata: Dict[str, Any], labels: bytes, confidence: Optional[bytes]):
        self.metadata = metadata
        self.labels = labels
        self.confidence = confidence


def encode_frame(frame_id: int, image: Union[bytes, RawImage], budget: Optional[Dict[str, Any]] = None,
                 capture_ts: Union[int, float, str, None] = None) -> bytes:
    """The binary frame message: 18-byte header, frame JSON (budget, capture_ts), image bytes."""
    fields = dict(budget or {})
    if capture_ts is not None:
        fields["capture_ts"] = capture_ts
    frame_json = json.dumps(fields, separators=(",", ":")).encode() if fields else b""
    if isinstance(image, RawImage):
        fmt, width, height, data = FORMATS["rgb" if image.channels == 3 else "rgba"], image.width, image.height, image.data
    else:
        fmt, width, height, data = FORMATS["encoded"], 0, 0, bytes(image)
    header = FRAME_MAGIC + struct.pack(">BBHIHHH", PROTOCOL_VERSION, fmt, 0, frame_id, width, height, len(frame_json))
    return header + frame_json + data


def decode_exit(message: bytes) -> Exit:
    if message[:4] != EXIT_MAGIC or message[4] != PROTOCOL_VERSION:
        raise ValueError(f"not a version {PROTOCOL_VERSION} exit message")
    (length,) = struct.unpack(">I", message[6:10])
    metadata = json.loads(message[10:10 + length])
    payload = message[10 + length:]
    labels_bytes = metadata["labels"]["bytes"]
    confidence = payload[labels_bytes:labels_bytes + metadata["confidence"]["bytes"]] if metadata.get("confidence") else None
    return Exit(metadata, payload[:labels_bytes], confidence)


class Frame:
    """One frame's answers: `async for exit in frame` yields its exits; `await frame.outcome`
    gives how it ended ({"kind": "exit", "stop", ...}, or the dropped/stopped notice)."""

    def __init__(self, frame_id: int):
        self.frame_id = frame_id
        self.exits: List[Exit] = []
        self.outcome: "asyncio.Future[Dict[str, Any]]" = asyncio.get_running_loop().create_future()
        self._changed = asyncio.Event()

    def _exit(self, exit: Exit) -> None:
        self.exits.append(exit)
        if exit.metadata["stop"] is not None:
            self._end({"kind": "exit", "stop": exit.metadata["stop"], "exit": exit.metadata["exit"]})
        self._changed.set()

    def _end(self, outcome: Dict[str, Any]) -> None:
        if not self.outcome.done():
            self.outcome.set_result(outcome)
        self._changed.set()

    def _fail(self, error: AdpcError) -> None:
        if not self.outcome.done():
            self.outcome.set_exception(error)
            self.outcome.exception()  # retrieved: a caller that only iterates sees it there
        self._changed.set()

    async def __aiter__(self) -> AsyncIterator[Exit]:
        i = 0
        while True:
            if i < len(self.exits):
                yield self.exits[i]
                i += 1
                continue
            if self.outcome.done():
                if self.outcome.exception() is not None:
                    raise self.outcome.exception()
                return
            self._changed.clear()
            await self._changed.wait()


def _connect_kwargs(headers: Dict[str, str]) -> Dict[str, Any]:
    # websockets 14+ names the option additional_headers; 10-13 extra_headers
    names = inspect.signature(websockets.connect).parameters
    return {"additional_headers" if "additional_headers" in names else "extra_headers": headers}


class AdpcClient:
    def __init__(self, ws: Any, hello: Dict[str, Any]):
        self.ws = ws
        self.hello = hello
        self._frames: Dict[int, Frame] = {}
        self._configs: List["asyncio.Future[Dict[str, Any]]"] = []
        self._next_id = 1
        self._reader = asyncio.get_running_loop().create_task(self._read())

    @classmethod
    async def connect(cls, url: str, token: Optional[str] = None, config: Optional[Dict[str, Any]] = None,
                      request_id: Optional[str] = None, max_size: int = 64 * 1024 * 1024) -> "AdpcClient":
        headers = {}
        if token:
            headers["Authorization"] = f"Bearer {token}"
        if request_id:
            headers["X-Request-Id"] = request_id
        try:
            ws = await websockets.connect(url, max_size=max_size, **_connect_kwargs(headers))
        except getattr(websockets.exceptions, "InvalidStatus", ()) as e:  # 14+: the answer's body names the code
            raise _refusal(e.response.status_code, e.response.body) from None
        except websockets.exceptions.InvalidStatusCode as e:  # 10.x-13.x: the status only
            raise _refusal(e.status_code, b"") from None
        hello = json.loads(await ws.recv())
        client = cls(ws, hello)
        if config:
            await client.configure(**config)
        return client

    async def __aenter__(self) -> "AdpcClient":
        return self

    async def __aexit__(self, *exc: Any) -> None:
        await self.close()

    async def configure(self, **options: Any) -> Dict[str, Any]:
        """Sets stream options (budget, size, labels, encoding, summary, confidence, reuse); returns those in force."""
        future = asyncio.get_running_loop().create_future()
        self._configs.append(future)
        await self.ws.send(json.dumps({"type": "config", **options}))
        return await future

    async def send(self, image: Union[bytes, RawImage], budget: Optional[Dict[str, Any]] = None,
                   capture_ts: Union[int, float, str, None] = None) -> Frame:
        frame_id = self._next_id
        while frame_id in self._frames:
            frame_id = frame_id % 0xFFFFFFFF + 1
        self._next_id = frame_id % 0xFFFFFFFF + 1
        frame = Frame(frame_id)
        if self._reader.done():
            frame._fail(AdpcError("CONNECTION_LOST", "the stream is closed", frame_id))
            return frame
        self._frames[frame_id] = frame
        await self.ws.send(encode_frame(frame_id, image, budget, capture_ts))
        return frame

    async def close(self) -> None:
        await self.ws.close()
        await self._reader

    async def _read(self) -> None:
        try:
            async for message in self.ws:
                if isinstance(message, bytes):
                    exit = decode_exit(message)
                    frame = self._frames.get(exit.metadata["frame_id"])
                    if frame:
                        if exit.metadata["stop"] is not None:
                            del self._frames[frame.frame_id]
                        frame._exit(exit)
                    continue
                notice = json.loads(message)
                kind = notice.get("type")
                if kind == "config" and self._configs:
                    self._configs.pop(0).set_result(notice)
                elif kind in ("dropped", "stopped") and notice["frame_id"] in self._frames:
                    self._frames.pop(notice["frame_id"])._end({"kind": kind, **notice})
                elif kind == "error":
                    error = AdpcError(notice["code"], notice["message"], notice.get("frame_id"))
                    if notice.get("frame_id") in self._frames:
                        self._frames.pop(notice["frame_id"])._fail(error)
                    elif notice.get("frame_id") is None and notice["code"] in CONFIG_ERRORS and self._configs:
                        self._configs.pop(0).set_exception(error)
        except websockets.exceptions.ConnectionClosed:
            pass
        finally:
            reason = getattr(self.ws, "close_reason", "") or ""
            code = reason.split(":")[0] if ":" in reason else "CONNECTION_LOST"
            for frame_id, frame in list(self._frames.items()):
                frame._fail(AdpcError(code, f"the stream closed ({reason or 'no reason'})", frame_id))
            self._frames.clear()
            for future in self._configs:
                if not future.done():
                    future.set_exception(AdpcError(code, "the stream closed"))
            self._configs.clear()


def _refusal(status: int, body: bytes) -> AdpcError:
    """A refused upgrade: the JSON error's code where the body came through, else by status."""
    try:
        error = json.loads(body)["error"]
        return AdpcError(error["code"], error["message"])
    except (ValueError, KeyError, TypeError):
        code = {400: "BAD_REQUEST", 401: "UNAUTHORISED", 404: "NOT_FOUND"}.get(status, f"HTTP_{status}")
        return AdpcError(code, f"the server refused the stream with HTTP {status}")


async def _main(args: argparse.Namespace) -> int:
    budget = {k: v for k, v in {"max_exit": args.max_exit, "threshold": args.threshold, "deadline_ms": args.deadline_ms}.items() if v is not None}
    config = {"labels": "raw"}
    if args.summary:
        config["summary"] = args.summary
    failed = 0
    async with await AdpcClient.connect(args.url, token=args.token, config=config) as client:
        print(json.dumps({"type": "hello", "model": client.hello["model"]["name"], "stream_id": client.hello["stream_id"]}), flush=True)
        for path in args.images:
            with open(path, "rb") as f:
                image = f.read()
            frame = await client.send(image, budget=budget or None, capture_ts=args.capture_ts)
            try:
                async for exit in frame:
                    m = exit.metadata
                    line = {k: m.get(k) for k in ("frame_id", "capture_ts", "exit", "exits", "width", "height", "gflops", "timing_ms", "stop")}
                    line["labels_bytes"] = len(exit.labels)
                    if m.get("summary"):
                        line["classes"] = [(c["name"], c["share"]) for c in m["summary"]["classes"]]
                    print(json.dumps(line), flush=True)
                outcome = await frame.outcome
                if outcome["kind"] != "exit":
                    print(json.dumps({"frame_id": frame.frame_id, "outcome": outcome["kind"], "reason": outcome.get("reason")}), flush=True)
            except AdpcError as e:
                failed += 1
                print(json.dumps({"frame_id": e.frame_id, "error": e.code, "message": e.message}), flush=True)
    return 1 if failed else 0


def main() -> None:
    parser = argparse.ArgumentParser(description="Send images to an adpc-edge stream and print every exit as JSON lines")
    parser.add_argument("url", help="ws://host:port/v1/stream")
    parser.add_argument("images", nargs="+", help="JPEG, PNG or WebP files, one frame each")
    parser.add_argument("--token")
    parser.add_argument("--max-exit", type=int)
    parser.add_argument("--threshold", type=float)
    parser.add_argument("--deadline-ms", type=float)
    parser.add_argument("--summary", choices=["classes", "regions"])
    parser.add_argument("--capture-ts", help="echoed in every answer")
    args = parser.parse_args()
    try:
        sys.exit(asyncio.run(_main(args)))
    except AdpcError as e:
        print(f"adpc_client: {e.code}: {e.message}", file=sys.stderr)
        sys.exit(2)
    except (OSError, websockets.exceptions.WebSocketException) as e:
        print(f"adpc_client: cannot reach {args.url}: {e}", file=sys.stderr)
        sys.exit(2)


if __name__ == "__main__":
    main()
