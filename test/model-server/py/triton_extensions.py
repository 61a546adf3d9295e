"""Drives the ghosteam model server's FP16 support and model repository extension with the real
tritonclient (HTTP) and prints what it saw as JSON.

usage: triton_extensions.py HOST:PORT TOKEN
"""
import json
import sys

import ml_dtypes
import numpy as np
import tritonclient.http as httpclient
from tritonclient.utils import InferenceServerException

url, token = sys.argv[1], sys.argv[2]


def hdrs():
    return {"Authorization": f"Bearer {token}"}


def err(fn):
    try:
        fn()
        return None
    except InferenceServerException as e:
        return {"status": str(e.status()), "message": e.message()}


c = httpclient.InferenceServerClient(url=url)
out = {}

# FP16: numpy rounds the float64 values to half; the model's x32 output is the exact value it got,
# y = x * w + b computed by onnxruntime. JSON and binary, in both directions.
rng = np.random.default_rng(7)
x64 = (rng.random((5, 3)) - 0.5) * 200
x16 = x64.astype(np.float16)
out["x16"] = x16.astype(np.float64).tolist()
for binary in (False, True):
    i = httpclient.InferInput("x", list(x16.shape), "FP16")
    i.set_data_from_numpy(x16, binary_data=binary)
    outs = [httpclient.InferRequestedOutput(n, binary_data=binary) for n in ("y", "x32", "y32")]
    r = c.infer("affine16", [i], outputs=outs, headers=hdrs())
    y = r.as_numpy("y")
    key = "fp16_binary" if binary else "fp16_json"
    out[key] = {
        "y_dtype": str(y.dtype),
        "y": y.astype(np.float64).tolist(),
        "x32": r.as_numpy("x32").astype(np.float64).tolist(),
        "y32": r.as_numpy("y32").astype(np.float64).tolist(),
        "datatype": r.get_output("y")["datatype"],
    }
# numpy's own half arithmetic, as a reference the test compares against within one half ulp
w = np.array([0.5, -3, 1.25], dtype=np.float16)
b = np.array([0.1, 2, -7], dtype=np.float16)
out["numpy_y"] = (x16.astype(np.float32) * w.astype(np.float32) + b.astype(np.float32)).astype(np.float16).astype(np.float64).tolist()

# BF16 (tritonclient sends it as binary only, from ml_dtypes.bfloat16 arrays)
xb = ((rng.random((4, 2)) - 0.5) * 1000).astype(ml_dtypes.bfloat16)
ib = httpclient.InferInput("x", list(xb.shape), "BF16")
ib.set_data_from_numpy(xb, binary_data=True)
rb = c.infer("scale16", [ib], outputs=[httpclient.InferRequestedOutput("y", binary_data=True), httpclient.InferRequestedOutput("x32", binary_data=False)], headers=hdrs())
yb = rb.as_numpy("y")
out["bf16"] = {
    "x": xb.astype(np.float64).tolist(),
    "y_dtype": str(yb.dtype),
    "y": yb.astype(np.float64).tolist(),
    "x32": rb.as_numpy("x32").astype(np.float64).tolist(),
    "numpy_y": (xb.astype(np.float32) * np.array([0.5, -3], dtype=np.float32)).astype(ml_dtypes.bfloat16).astype(np.float64).tolist(),
}

# Model repository extension
out["index0"] = c.get_model_repository_index(headers=hdrs())
c.unload_model("fraud", headers=hdrs())
out["ready_after_unload"] = c.is_model_ready("fraud", headers=hdrs())
out["index_unloaded"] = c.get_model_repository_index(headers=hdrs())
c.load_model("fraud", headers=hdrs())
out["ready_after_load"] = c.is_model_ready("fraud", headers=hdrs())
# tritonclient's load_model sends only config/files; with config it must get our 400
out["load_config"] = err(lambda: c.load_model("fraud", headers=hdrs(), config=json.dumps({"backend": "onnxruntime"})))
out["load_unknown"] = err(lambda: c.load_model("nope", headers=hdrs()))
out["unload_unknown"] = err(lambda: c.unload_model("nope", headers=hdrs()))
out["index_no_token"] = err(lambda: c.get_model_repository_index())
out["index_final"] = c.get_model_repository_index(headers=hdrs())
print(json.dumps(out))
