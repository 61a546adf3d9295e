"""Sends bodies over the model server's limit with real Python clients and prints what each saw as JSON.

Python's urllib (http.client) and tritonclient[http] (geventhttpclient) write the whole body before
reading the answer: a server that answers 413 and closes at once makes them see a reset or a broken
pipe instead. Each result is the status and the error message the client surfaced, or the exception
class when the client saw no answer at all.

usage: oversize.py HOST:PORT ROWS
"""
import json
import sys
import urllib.error
import urllib.request

import numpy as np
import tritonclient.http as httpclient

hostport, rows = sys.argv[1], int(sys.argv[2])
x = np.ones((rows, 16), dtype=np.float32)
body = json.dumps({"inputs": [{"name": "input", "shape": [rows, 16], "datatype": "FP32", "data": x.flatten().tolist()}]}).encode()
out = {"bytes": len(body)}


def via_urllib(chunked):
    req = urllib.request.Request(f"http://{hostport}/v2/models/fraud/infer", method="POST", headers={"Content-Type": "application/json"})
    # An iterable body is sent chunked (no Content-Length): the server learns the size only while reading.
    data = (body[i : i + 65536] for i in range(0, len(body), 65536)) if chunked else body
    try:
        with urllib.request.urlopen(req, data=data, timeout=60) as r:
            return {"status": r.status}
    except urllib.error.HTTPError as e:
        return {"status": e.code, "error": json.loads(e.read())["error"], "connection": e.headers.get("Connection")}
    except Exception as e:  # ConnectionResetError, BrokenPipeError, RemoteDisconnected: what #25 reported
        return {"exception": type(e).__name__, "detail": str(e)}


out["urllib"] = via_urllib(False)
out["urllib_chunked"] = via_urllib(True)

for binary in (False, True):
    c = httpclient.InferenceServerClient(url=hostport, network_timeout=60.0)
    inp = httpclient.InferInput("input", [rows, 16], "FP32")
    inp.set_data_from_numpy(x, binary_data=binary)
    key = "triton_binary" if binary else "triton_json"
    try:
        c.infer("fraud", [inp])
        out[key] = {"status": 200}
    except Exception as e:
        status = e.status() if hasattr(e, "status") else None
        if status is not None:
            out[key] = {"status": int(status), "error": e.message()}
        else:
            out[key] = {"exception": type(e).__name__, "detail": str(e)}
    c.close()
print(json.dumps(out))
