"""The baseline: a hello-world FastAPI POST endpoint served exactly like the gateway."""

from __future__ import annotations

from fastapi import FastAPI, Request, Response

app = FastAPI()


@app.post("/hello")
async def hello(request: Request) -> Response:
    await request.body()
    return Response(b'{"hello":"world"}', 202, media_type="application/json")
