"""The limit of the framework: a trivial FastAPI app in the same venv, served the way `cybercrisis serve` serves.

`python -m bench.trivial --port N`: one uvicorn worker, the same log level and proxy settings as ours, one route.
The core suite measures our /healthz against its /healthz in the same run.
"""

from __future__ import annotations

import argparse

from fastapi import FastAPI

app = FastAPI()


@app.get("/healthz")
async def healthz() -> dict[str, str]:
    return {"status": "ok"}


def main() -> None:
    import uvicorn

    p = argparse.ArgumentParser(prog="python -m bench.trivial")
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, required=True)
    args = p.parse_args()
    uvicorn.run("bench.trivial:app", host=args.host, port=args.port, log_level="warning", proxy_headers=False)


if __name__ == "__main__":
    main()
