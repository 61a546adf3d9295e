"""Trains real scikit-learn, XGBoost and LightGBM models on scikit-learn's bundled datasets, exports
them to ONNX with their converters' default options (and zipmap=False), and records what the
frameworks themselves predict, for test/model-server/frameworks.test.ts.

  frameworks.py train OUTDIR           -> OUTDIR/manifest.json (+ one .onnx per case)
  frameworks.py triton HOST:PORT OUTDIR -> JSON: per case, tritonclient's answers (JSON and binary)

PyTorch is not here: it does not install CPU-only from PyPI. Checked on 2026-12-02 with
`pip install --dry-run --report - torch` in the peers' venv (Python 3.11, x86_64): torch 2.15.0's
only Linux wheel requires 17 CUDA packages (cuda-toolkit 13.2.2, nvidia-cudnn-cu13 9.26,
nvidia-cublas 13.4, nvidia-nccl-cu13, nvidia-cusparselt-cu13, nvidia-nvshmem-cu13, cuda-bindings,
triton 3.9, ...), several GB of CUDA wheels, which the peers must not install. The CPU-only builds
are on download.pytorch.org, which does not resolve from the machines these tests run on (only the
package registries are reachable); PyPI's torch-cpu-for-poetry only points Poetry at that index. torch.onnx's flatten pattern is covered in
graph.test.ts, built op by op with onnxruntime as the oracle.
"""
import json
import sys
import warnings

import numpy as np

warnings.filterwarnings("ignore")


def f32(x):
    """What the ONNX model sees: float32 values (the frameworks predict on the same values)."""
    return np.asarray(x, dtype=np.float32).astype(np.float64)


def train(out):
    import lightgbm as lgb
    import onnx
    import pandas as pd
    import xgboost as xgb
    from onnxmltools import convert_lightgbm, convert_xgboost
    from onnxmltools.convert.common.data_types import FloatTensorType as MlFloat
    from skl2onnx import to_onnx, convert_sklearn
    from skl2onnx.common.data_types import FloatTensorType, StringTensorType
    from sklearn.compose import ColumnTransformer
    from sklearn.datasets import load_breast_cancer, load_diabetes, load_iris, load_wine
    from sklearn.ensemble import GradientBoostingRegressor, IsolationForest, RandomForestClassifier
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import OneHotEncoder, StandardScaler

    cases = []

    def save(name, model_proto, rows, expect, inputs=None, note=""):
        path = f"{out}/{name}.onnx"
        with open(path, "wb") as f:
            f.write(model_proto.SerializeToString())
        cases.append({"name": name, "path": path, "rows": rows, "expect": expect, "inputs": inputs, "note": note})

    def tolist(a):
        return np.asarray(a).tolist()

    # LogisticRegression, iris (3 classes, int labels)
    X, y = load_iris(return_X_y=True)
    X = f32(X)
    lr = LogisticRegression(max_iter=500).fit(X, y)
    t = X[::10]
    exp = {"label": tolist(lr.predict(t)), "proba": tolist(lr.predict_proba(t)), "classes": tolist(lr.classes_)}
    save("logreg", to_onnx(lr, X[:1].astype(np.float32)), tolist(t), exp)
    save("logreg-nozipmap", to_onnx(lr, X[:1].astype(np.float32), options={"zipmap": False}), tolist(t), exp)

    # RandomForest, breast cancer (binary)
    X, y = load_breast_cancer(return_X_y=True)
    X = f32(X)
    rf = RandomForestClassifier(n_estimators=30, max_depth=6, random_state=0).fit(X, y)
    t = X[::25]
    exp = {"label": tolist(rf.predict(t)), "proba": tolist(rf.predict_proba(t)), "classes": tolist(rf.classes_)}
    save("forest", to_onnx(rf, X[:1].astype(np.float32)), tolist(t), exp)
    save("forest-nozipmap", to_onnx(rf, X[:1].astype(np.float32), options={"zipmap": False}), tolist(t), exp)

    # Pipeline: ColumnTransformer over numeric columns and a string column; string class labels
    iris = load_iris(as_frame=True)
    df = iris.frame.drop(columns=["target"]).astype(np.float32)
    df.columns = ["sepal_length", "sepal_width", "petal_length", "petal_width"]
    df["size"] = np.where(df["sepal_length"] > 6.0, "large", np.where(df["sepal_length"] > 5.2, "medium", "small"))
    labels = np.array(iris.target_names)[iris.target]
    num = ["sepal_length", "sepal_width", "petal_length", "petal_width"]
    pipe = Pipeline([
        ("prep", ColumnTransformer([("num", StandardScaler(), num), ("cat", OneHotEncoder(handle_unknown="ignore"), ["size"])])),
        ("clf", LogisticRegression(max_iter=500)),
    ]).fit(df, labels)
    init = [(c, FloatTensorType([None, 1])) for c in num] + [("size", StringTensorType([None, 1]))]
    t = df.iloc[::10]
    exp = {"label": tolist(pipe.predict(t)), "proba": tolist(pipe.predict_proba(t)), "classes": tolist(pipe.classes_)}
    records = [{k: (float(v) if k != "size" else v) for k, v in r.items()} for r in t.to_dict("records")]
    save("pipeline", convert_sklearn(pipe, initial_types=init), records, exp, inputs="columns")
    save("pipeline-nozipmap", convert_sklearn(pipe, initial_types=init, options={id(pipe): {"zipmap": False}}), records, exp, inputs="columns")

    # GradientBoosting regressor, diabetes
    X, y = load_diabetes(return_X_y=True)
    X = f32(X)
    gbr = GradientBoostingRegressor(n_estimators=50, random_state=0).fit(X, y)
    t = X[::20]
    save("gbr", to_onnx(gbr, X[:1].astype(np.float32)), tolist(t), {"value": tolist(gbr.predict(t))})

    # IsolationForest, wine
    X, _ = load_wine(return_X_y=True)
    X = f32(X)
    iso = IsolationForest(n_estimators=40, random_state=0).fit(X)
    t = X[::9]
    onx = to_onnx(iso, X[:1].astype(np.float32), target_opset={"": 17, "ai.onnx.ml": 3})
    save("iforest", onx, tolist(t), {"label": tolist(iso.predict(t)), "scores": tolist(iso.decision_function(t))})

    # XGBoost, breast cancer, with missing values
    X, y = load_breast_cancer(return_X_y=True)
    X = f32(X)
    Xm = X.copy()
    rng = np.random.default_rng(0)
    Xm[rng.random(Xm.shape) < 0.1] = np.nan
    xc = xgb.XGBClassifier(n_estimators=40, max_depth=4, random_state=0).fit(Xm, y)
    t = Xm[::25]
    exp = {"label": tolist(xc.predict(t)), "proba": tolist(xc.predict_proba(t)), "classes": [0, 1]}
    onx = convert_xgboost(xc, initial_types=[("input", MlFloat([None, X.shape[1]]))], target_opset=15)
    save("xgboost", onx, [[None if np.isnan(v) else float(v) for v in r] for r in t], exp, note="missing values as null")

    # LightGBM, iris (multiclass); onnxmltools' default ends with a ZipMap
    X, y = load_iris(return_X_y=True)
    X = f32(X)
    lc = lgb.LGBMClassifier(n_estimators=30, verbose=-1, random_state=0).fit(X, y)
    t = X[::10]
    exp = {"label": tolist(lc.predict(t)), "proba": tolist(lc.predict_proba(t)), "classes": tolist(lc.classes_)}
    init = [("input", MlFloat([None, X.shape[1]]))]
    save("lightgbm", convert_lightgbm(lc, initial_types=init, target_opset=15), tolist(t), exp)
    save("lightgbm-nozipmap", convert_lightgbm(lc, initial_types=init, zipmap=False, target_opset=15), tolist(t), exp)

    # Native files the server must refuse with the converter to use.
    import joblib
    joblib.dump(lr, f"{out}/model.joblib")
    xc.save_model(f"{out}/model.ubj")
    lc.booster_.save_model(f"{out}/model.txt")

    with open(f"{out}/manifest.json", "w") as f:
        json.dump({"cases": cases, "versions": {"onnx": onnx.__version__, "xgboost": xgb.__version__, "lightgbm": lgb.__version__}}, f)


def triton(url, out):
    import tritonclient.http as http

    manifest = json.load(open(f"{out}/manifest.json"))
    c = http.InferenceServerClient(url)
    result = {}
    for case in manifest["cases"]:
        if case["inputs"] == "columns":
            continue
        name = case["name"]
        meta = c.get_model_metadata(name)
        x = np.array([[np.nan if v is None else v for v in r] for r in case["rows"]], dtype=np.float32)
        got = {"config": c.get_model_config(name)}
        for binary in (False, True):
            inp = http.InferInput(meta["inputs"][0]["name"], list(x.shape), "FP32")
            inp.set_data_from_numpy(x, binary_data=binary)
            outs = [http.InferRequestedOutput(o["name"], binary_data=binary) for o in meta["outputs"]]
            r = c.infer(name, [inp], outputs=outs)
            got["binary" if binary else "json"] = {o["name"]: r.as_numpy(o["name"]).tolist() for o in meta["outputs"]}
        stats = c.get_inference_statistics(name)
        got["stats"] = stats
        result[name] = got
    print(json.dumps(result, default=lambda o: o.decode() if isinstance(o, bytes) else str(o)))


if __name__ == "__main__":
    if sys.argv[1] == "train":
        train(sys.argv[2])
    elif sys.argv[1] == "triton":
        triton(sys.argv[2], sys.argv[3])
