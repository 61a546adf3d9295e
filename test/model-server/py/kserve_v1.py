"""Drives the ghosteam model server's KServe V1 endpoints with KServe's own Python REST client
(kserve.InferenceRESTClient, protocol v1) and prints what it saw as JSON.

usage: kserve_v1.py BASE_URL TOKEN
"""
import asyncio
import json
import sys

import httpx
from kserve import InferenceRESTClient, RESTConfig

base, token = sys.argv[1], sys.argv[2]
H = {"Authorization": f"Bearer {token}"}


async def main():
    c = InferenceRESTClient(RESTConfig(protocol="v1", timeout=30))
    out = {
        "live": await c.is_server_live(base),
        "ready_two": await c.is_model_ready(base, "two", headers=H),
        "rows": await c.infer(base, {"instances": [{"features": [0.5, 1], "offset": [1]}, {"features": [2, -3], "offset": [-4]}]}, model_name="two", headers=H),
        "rows_detailed": await c.infer(base, {"instances": [{"features": [0.5, 1], "offset": [1]}, {"features": [2, -3], "offset": [-4]}], "parameters": {"detailed": True}}, model_name="two", headers=H),
        "columns": await c.infer(base, {"inputs": {"features": [[0.5, 1], [2, -3]], "offset": [[1], [-4]]}}, model_name="two", headers=H),
    }
    try:
        await c.infer(base, {"instances": [{"features": [0.5, 1]}]}, model_name="two", headers=H)
        out["bad"] = None
    except httpx.HTTPStatusError as e:
        out["bad"] = {"status": e.response.status_code, "error": e.response.json()["error"]}
    async with httpx.AsyncClient() as h:
        out["list"] = (await h.get(f"{base}/v1/models", headers=H)).json()
    await c.close()
    print(json.dumps(out))


asyncio.run(main())
