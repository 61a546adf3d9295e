"""Trains an XGBoost classifier as a ghosteam container step and exports it to ONNX.

The I/O contract (docs/components.md): every path and param comes from the environment, the same
locally (`ghosteam run`) and in the Argo template.
  GHOSTEAM_INPUT_TRAIN, GHOSTEAM_INPUT_TEST    upstream datasets (Arrow IPC / Feather v2: pandas reads them)
  GHOSTEAM_OUTPUT_MODEL                        the ONNX model (what `register` records and the model server loads)
  GHOSTEAM_OUTPUT_METRICS                      {"metrics": {...}}: what `gate` checks and `register` records
  GHOSTEAM_OUTPUT_PREDICTIONS                  XGBoost's own probabilities for the first test rows (a check for the served model)
  GHOSTEAM_OUTPUT_PARAMS_DIR/<name>            output params: auc, rows, features
  GHOSTEAM_PARAM_LABEL, _ROUNDS, _MAX_DEPTH, _LEARNING_RATE, _SEED
"""
import json
import os

import numpy as np
import pandas as pd
import xgboost as xgb
from onnxmltools.convert import convert_xgboost
from onnxmltools.convert.common.data_types import FloatTensorType



def roc_auc(y, p):
    """Mann-Whitney U over average ranks (ties share a rank), as sklearn's roc_auc_score."""
    ranks = pd.Series(p).rank().to_numpy()
    pos = y == 1
    n1, n0 = pos.sum(), (~pos).sum()
    return (ranks[pos].sum() - n1 * (n1 + 1) / 2) / (n0 * n1)


env = os.environ
label = env["GHOSTEAM_PARAM_LABEL"]
rounds = int(env["GHOSTEAM_PARAM_ROUNDS"])
max_depth = int(env["GHOSTEAM_PARAM_MAX_DEPTH"])
learning_rate = float(env["GHOSTEAM_PARAM_LEARNING_RATE"])
seed = int(env["GHOSTEAM_PARAM_SEED"])

train = pd.read_feather(env["GHOSTEAM_INPUT_TRAIN"])
test = pd.read_feather(env["GHOSTEAM_INPUT_TEST"])
features = [c for c in train.columns if c != label and pd.api.types.is_numeric_dtype(train[c])]
print(f"train {len(train)} rows, test {len(test)} rows, {len(features)} features", flush=True)

model = xgb.XGBClassifier(n_estimators=rounds, max_depth=max_depth, learning_rate=learning_rate, random_state=seed, n_jobs=1, tree_method="hist")
model.fit(train[features].to_numpy(np.float32), train[label].to_numpy().astype(int))

x_test = test[features].to_numpy(np.float32)
y_test = test[label].to_numpy().astype(int)
prob = model.predict_proba(x_test)[:, 1]
clipped = np.clip(prob, 1e-15, 1 - 1e-15)
auc = float(roc_auc(y_test, prob))
metrics = {
    "auc": auc,
    "rocAuc": auc,
    "accuracy": float(np.mean((prob >= 0.5) == (y_test == 1))),
    "logLoss": float(-np.mean(y_test * np.log(clipped) + (1 - y_test) * np.log(1 - clipped))),
    "rows": int(len(test)),
}
print(f"::ghosteam::progress {json.dumps({'fraction': 1, 'message': 'trained'})}", flush=True)

onnx_model = convert_xgboost(model, initial_types=[("input", FloatTensorType([None, len(features)]))], target_opset=15)
with open(env["GHOSTEAM_OUTPUT_MODEL"], "wb") as f:
    f.write(onnx_model.SerializeToString())
with open(env["GHOSTEAM_OUTPUT_METRICS"], "w") as f:
    json.dump({"metrics": metrics, "task": "binary", "features": features, "label": label}, f, indent=2, sort_keys=True)
with open(env["GHOSTEAM_OUTPUT_PREDICTIONS"], "w") as f:
    json.dump({"rows": x_test[:32].tolist(), "probability": prob[:32].tolist()}, f)

params = env["GHOSTEAM_OUTPUT_PARAMS_DIR"]
for name, value in {"auc": metrics["auc"], "rows": len(train), "features": features}.items():
    with open(os.path.join(params, name), "w") as f:
        f.write(json.dumps(value))
print(f"auc {metrics['auc']:.4f} on {len(test)} test rows; wrote ONNX ({len(features)} inputs)", flush=True)
