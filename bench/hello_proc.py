"""The baseline of the API overhead benchmark: a bare FastAPI hello-world, served like mjapi.

``python -m bench.hello_proc --port P`` runs it with the arguments ``mjapi serve`` gives uvicorn
(``uvicorn.run(app, host=..., port=..., log_config=None)``: same event loop, same HTTP parser).
``GET /hello`` answers a constant JSON object; ``POST /hello`` parses the JSON body it is sent
and answers a constant JSON object.
"""

from __future__ import annotations

import argparse
from typing import Any

import uvicorn
from fastapi import FastAPI, Request

app = FastAPI()


@app.get("/hello")
async def hello() -> dict[str, str]:
    return {"message": "Hello World"}


@app.post("/hello")
async def hello_post(request: Request) -> dict[str, Any]:
    body = await request.json()
    return {"message": "Hello World", "fields": len(body)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--port", type=int, required=True)
    args = parser.parse_args()
    uvicorn.run(app, host="127.0.0.1", port=args.port, log_config=None)


if __name__ == "__main__":
    main()
