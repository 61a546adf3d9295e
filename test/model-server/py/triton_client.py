"""Drives the ghosteam model server with the real tritonclient (HTTP) and prints what it saw as JSON.

usage: triton_client.py HOST:PORT TOKEN ROWS_JSON
"""
import json
import sys

import numpy as np
import tritonclient.http as httpclient

url, token, rows = sys.argv[1], sys.argv[2], json.loads(sys.argv[3])
# tritonclient writes Inference-Header-Content-Length into the headers dict it is given, so each call
# gets a fresh one (a reused dict would carry a stale length into the next request).
def hdrs():
    return {"Authorization": f"Bearer {token}"} if token else None


c = httpclient.InferenceServerClient(url=url)
out = {
    "live": c.is_server_live(),
    "ready": c.is_server_ready(),
    "server": c.get_server_metadata(headers=hdrs()),
    "model_ready": c.is_model_ready("fraud", headers=hdrs()),
    "model_ready_v1": c.is_model_ready("fraud", "1", headers=hdrs()),
    "model_ready_v9": c.is_model_ready("fraud", "9", headers=hdrs()),
    "metadata": c.get_model_metadata("fraud", headers=hdrs()),
}

x = np.array(rows, dtype=np.float32)
inp = httpclient.InferInput("input", list(x.shape), "FP32")
inp.set_data_from_numpy(x, binary_data=False)
req_out = httpclient.InferRequestedOutput("probability", binary_data=False)
res = c.infer("fraud", [inp], outputs=[req_out], request_id="triton-1", headers=hdrs())
out["infer"] = {"id": res.get_response()["id"], "version": res.get_response()["model_version"], "probability": res.as_numpy("probability").tolist()}
res2 = c.infer("fraud", [inp], model_version="1", headers=hdrs())
out["infer_v1"] = res2.as_numpy("probability").tolist()

# tritonclient's defaults: the binary tensor data extension for inputs and outputs
inb = httpclient.InferInput("input", list(x.shape), "FP32")
inb.set_data_from_numpy(x)
out["infer_binary"] = c.infer("fraud", [inb], outputs=[httpclient.InferRequestedOutput("probability")], headers=hdrs()).as_numpy("probability").tolist()
out["infer_binary_all_outputs"] = c.infer("fraud", [inb], headers=hdrs()).as_numpy("probability").tolist()

# other datatypes through identity models, as JSON and as binary
for binary in (False, True):
    for dt, np_dt, vals in [("INT64", np.int64, [[1, -2], [3, 9007199254740991]]), ("BOOL", np.bool_, [[True, False], [False, True]]), ("BYTES", np.object_, [[b"a", b"bc"], [b"", b"xyz"]]), ("FP64", np.float64, [[0.1, -1e300], [2.5, 3]])]:
        arr = np.array(vals, dtype=np_dt)
        i = httpclient.InferInput("x", list(arr.shape), dt)
        i.set_data_from_numpy(arr, binary_data=binary)
        r = c.infer(f"id-{dt.lower()}", [i], outputs=[httpclient.InferRequestedOutput("y", binary_data=binary)], headers=hdrs())
        y = r.as_numpy("y")
        key = f"identity_{dt}" + ("_binary" if binary else "")
        if dt == "BYTES":  # JSON carries strings; tritonclient hands them back as str (binary: bytes)
            norm = lambda a: [v.decode() if isinstance(v, bytes) else v for v in a.flatten().tolist()]
            out[key] = y.shape == arr.shape and norm(y) == norm(arr)
        else:
            out[key] = bool(y.shape == arr.shape and np.array_equal(y.astype(arr.dtype), arr))

# a client mistake surfaces as an InferenceServerException with our message
try:
    bad = httpclient.InferInput("input", [1, 3], "FP32")
    bad.set_data_from_numpy(np.zeros((1, 3), dtype=np.float32), binary_data=False)
    c.infer("fraud", [bad], headers=hdrs())
    out["bad"] = None
except Exception as e:  # tritonclient.utils.InferenceServerException
    out["bad"] = {"status": str(e.status()), "message": e.message()}
print(json.dumps(out))
