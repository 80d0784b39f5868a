#!/usr/bin/env python3
"""The python-socketio peer of `tracker bench push`: the same fan-out job done with python-socketio 5.

It accepts Traccar webhooks (POST /api/traccar/positions with `Authorization: Bearer <secret>`), turns each
into the tracker's compact `driver-position` payload and sends it to every Socket.IO client of the tenant,
or, for clients that connect with `auth.batchMs`, as `driver-positions` arrays (latest per driver) every
batchMs. No storage, no enrichment: a pure relay, so the comparison flatters the peer.

Usage: scripts/socketio-peer.py --port 3100 [--secret bench-webhook-secret]
"""
import argparse
import asyncio
from datetime import datetime

import socketio
from aiohttp import web


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=3100)
    parser.add_argument("--secret", default="bench-webhook-secret")
    args = parser.parse_args()

    sio = socketio.AsyncServer(async_mode="aiohttp", cors_allowed_origins="*")
    app = web.Application()
    sio.attach(app)
    batches: dict[int, dict[str, dict]] = {}

    async def flush(ms: int) -> None:
        while True:
            await asyncio.sleep(ms / 1000)
            latest = batches.get(ms)
            if latest:
                batches[ms] = {}
                await sio.emit("driver-positions", list(latest.values()), room=f"batch:{ms}")

    @sio.event
    async def connect(sid, environ, auth):
        if not isinstance(auth, dict) or not auth.get("token"):
            raise socketio.exceptions.ConnectionRefusedError("unauthorized: missing auth.token")
        ms = auth.get("batchMs")
        if isinstance(ms, int) and ms > 0:
            if ms not in batches:
                batches[ms] = {}
                asyncio.get_running_loop().create_task(flush(ms))
            await sio.enter_room(sid, f"batch:{ms}")
        else:
            await sio.enter_room(sid, "live")

    async def positions(request: web.Request) -> web.Response:
        if request.headers.get("Authorization") != f"Bearer {args.secret}":
            return web.json_response({"title": "unauthorized"}, status=401)
        body = await request.json()
        position, device = body["position"], body["device"]
        fix = datetime.fromisoformat(position["fixTime"])
        compact = {
            "driverId": device["uniqueId"],
            "lat": position["latitude"],
            "lng": position["longitude"],
            "speed": position["speed"] * 1.852,
            "heading": position["course"],
            "activity": "moving" if position["speed"] > 0 else "stopped",
            "fixTime": int(fix.timestamp() * 1000),
            "late": False,
        }
        await sio.emit("driver-position", compact, room="live")
        for latest in batches.values():
            latest[compact["driverId"]] = compact
        return web.Response(text="ok")

    async def live(_: web.Request) -> web.Response:
        return web.Response(text="ok")

    app.router.add_post("/api/traccar/positions", positions)
    app.router.add_get("/health/live", live)
    web.run_app(app, host="127.0.0.1", port=args.port, print=None, access_log=None)


if __name__ == "__main__":
    main()
