"""onnxruntime's own quantizer as the oracle for bench/optimize.ts (run in the peers' venv).

  optimize_oracle.py make DIR K H1 H2  -> JSON {"trainSeconds", "quantizeSeconds"}: a scikit-learn MLPClassifier
        (K features, hidden H1, H2) exported by skl2onnx (MatMul + Add, ZipMap) as DIR/mlp.onnx, its
        validation table DIR/valid.csv (f0..f{K-1}, y), and onnxruntime.quantization.quantize_dynamic's
        INT8 model (QInt8 weights, its defaults otherwise) as DIR/mlp.ort-int8.onnx
  optimize_oracle.py score CSV MODEL... -> JSON [{"model", "auc"}]: ROC AUC (scikit-learn) of each model's
        positive-class probability, run by onnxruntime Python
  optimize_oracle.py latency RUNS MODEL... -> JSON [{"model", "batch1", "batch64"}]: median session.run ms in
        onnxruntime Python (1 intra-op thread, ORT_ENABLE_ALL), models interleaved round by round
"""
import json
import sys
import time

import numpy as np
import onnx
import onnxruntime as ort
import pandas as pd


def make(d, k, h1, h2):
    from sklearn.datasets import make_classification
    from sklearn.neural_network import MLPClassifier
    from skl2onnx import to_onnx
    from onnxruntime.quantization import QuantType, quantize_dynamic

    k, h1, h2 = int(k), int(h1), int(h2)
    x, y = make_classification(n_samples=12000, n_features=k, n_informative=k // 2, flip_y=0.05, random_state=7)
    x = x.astype(np.float32)
    t0 = time.perf_counter()
    clf = MLPClassifier(hidden_layer_sizes=(h1, h2), max_iter=60, random_state=0).fit(x[:8000], y[:8000])
    t1 = time.perf_counter()
    m = to_onnx(clf, x[:1], options={"zipmap": True}, target_opset=17)
    onnx.save(m, f"{d}/mlp.onnx")
    cols = [f"f{i}" for i in range(k)]
    df = pd.DataFrame(x[8000:], columns=cols)
    df["y"] = y[8000:]
    df.to_csv(f"{d}/valid.csv", index=False, float_format="%.9g")
    t2 = time.perf_counter()
    quantize_dynamic(f"{d}/mlp.onnx", f"{d}/mlp.ort-int8.onnx", weight_type=QuantType.QInt8)
    print(json.dumps({"trainSeconds": t1 - t0, "quantizeSeconds": time.perf_counter() - t2}))


def _session(model):
    so = ort.SessionOptions()
    so.intra_op_num_threads = 1
    so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    return ort.InferenceSession(model, so, providers=["CPUExecutionProvider"])


def score(csv, *models):
    from sklearn.metrics import roc_auc_score

    df = pd.read_csv(csv)
    x = df[[c for c in df.columns if c != "y"]].to_numpy(np.float32)
    out = []
    for model in models:
        s = _session(model)
        res = s.run(None, {s.get_inputs()[0].name: x})
        zipmap = [o for o in res if isinstance(o, list)]
        p = np.array([r[1] for r in zipmap[0]], dtype=np.float32) if zipmap else next(o for o in res if o.dtype.kind == "f")[:, 1]
        out.append({"model": model, "auc": float(roc_auc_score(df["y"], p))})
    print(json.dumps(out))


def latency(runs, *models):
    runs = int(runs)
    sessions = [_session(m) for m in models]
    k = sessions[0].get_inputs()[0].shape[1]
    rng = np.random.default_rng(1)
    feeds = {b: rng.standard_normal((b, k)).astype(np.float32) for b in (1, 64)}
    times = {(i, b): [] for i in range(len(models)) for b in (1, 64)}
    for s in sessions:
        for b in (1, 64):
            for _ in range(20):
                s.run(None, {s.get_inputs()[0].name: feeds[b]})
    for _ in range(10):
        for i, s in enumerate(sessions):
            name = s.get_inputs()[0].name
            for b in (1, 64):
                for _ in range(runs // 10):
                    t0 = time.perf_counter()
                    s.run(None, {name: feeds[b]})
                    times[(i, b)].append((time.perf_counter() - t0) * 1000)
    print(json.dumps([{"model": m, "batch1": float(np.median(times[(i, 1)])), "batch64": float(np.median(times[(i, 64)]))} for i, m in enumerate(models)]))


if __name__ == "__main__":
    {"make": make, "score": score, "latency": latency}[sys.argv[1]](*sys.argv[2:])
