"""onnxruntime's own optimization tools as the oracle for test/optimize/optimize.test.ts.

  oracle.py make DIR        -> JSON: a LogisticRegression's coefficients on the same data; and a scikit-learn MLPClassifier exported by skl2onnx (MatMul + Add, ZipMap)
                               as DIR/mlp.onnx, its validation table DIR/valid.csv (f0..f19, y),
                               onnxruntime.quantization.quantize_dynamic's INT8 model DIR/mlp.ort-int8.onnx
  oracle.py score MODEL CSV -> JSON: onnxruntime's positive-class probabilities and ROC AUC (scikit-learn)
  oracle.py weights MODEL   -> JSON: every int8 initializer (values) and float scalar initializer, by name,
                               and the model's node op types, initializer types and io types
"""
import json
import sys

import numpy as np
import onnx
import onnxruntime as ort
import pandas as pd
from onnx import numpy_helper


def make(d):
    from sklearn.datasets import make_classification
    from sklearn.neural_network import MLPClassifier
    from skl2onnx import to_onnx
    from onnxruntime.quantization import QuantType, quantize_dynamic

    x, y = make_classification(n_samples=6000, n_features=20, n_informative=8, flip_y=0.08, random_state=3)
    x = x.astype(np.float32)
    clf = MLPClassifier(hidden_layer_sizes=(64, 32), max_iter=300, random_state=0).fit(x[:4000], y[:4000])
    m = to_onnx(clf, x[:1], options={"zipmap": True}, target_opset=17)
    onnx.save(m, f"{d}/mlp.onnx")
    cols = [f"f{i}" for i in range(20)]
    df = pd.DataFrame(x[4000:], columns=cols)
    df["y"] = y[4000:]
    df.to_csv(f"{d}/valid.csv", index=False, float_format="%.9g")
    quantize_dynamic(f"{d}/mlp.onnx", f"{d}/mlp.ort-int8.onnx", weight_type=QuantType.QInt8)
    from sklearn.linear_model import LogisticRegression

    lr = LogisticRegression().fit(x[:4000], y[:4000])
    print(json.dumps({"features": cols, "lrCoef": [float(c) for c in lr.coef_[0]], "lrIntercept": float(lr.intercept_[0])}))


def score(model, csv):
    from sklearn.metrics import roc_auc_score

    df = pd.read_csv(csv)
    s = ort.InferenceSession(model, providers=["CPUExecutionProvider"])
    name = s.get_inputs()[0].name
    x = df[[c for c in df.columns if c != "y"]].to_numpy(np.float32)
    out = s.run(None, {name: x})
    # skl2onnx: [label, ZipMap list of {class: p}]; ghosteam: one [N, 1] probability
    zipmap = [o for o in out if isinstance(o, list)]
    probs = np.array([[r[0], r[1]] for r in zipmap[0]], dtype=np.float32) if zipmap else next(o for o in out if o.dtype.kind == "f")
    p = probs[:, 1] if probs.ndim == 2 and probs.shape[1] == 2 else probs.reshape(-1)
    print(json.dumps({"p": [float(v) for v in p], "auc": float(roc_auc_score(df["y"], p))}))


def weights(model):
    m = onnx.load(model)
    out = {"int8": {}, "scalars": {}, "ops": [n.op_type for n in m.graph.node]}
    for t in m.graph.initializer:
        a = numpy_helper.to_array(t)
        if a.dtype == np.int8 and a.ndim >= 1:
            out["int8"][t.name] = {"dims": list(a.shape), "values": a.reshape(-1).tolist()}
        elif a.dtype == np.float32 and a.ndim == 0:
            out["scalars"][t.name] = float(a)
    out["initializerTypes"] = {t.name: int(t.data_type) for t in m.graph.initializer}
    out["io"] = {v.name: int(v.type.tensor_type.elem_type) for v in list(m.graph.input) + list(m.graph.output) if v.type.HasField("tensor_type")}
    onnx.checker.check_model(m)
    print(json.dumps(out))


if __name__ == "__main__":
    {"make": make, "score": score, "weights": weights}[sys.argv[1]](*sys.argv[2:])
