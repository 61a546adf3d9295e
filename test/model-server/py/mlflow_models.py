"""MLflow's own clients around ghosteam, for test/model-server/mlflow-models.test.ts.

  mlflow_models.py log TRACKING_URI NAME     -> JSON {run_id, version, rows, label, proba}: a
      scikit-learn LogisticRegression exported by skl2onnx (default options: a ZipMap output),
      logged with mlflow.onnx.log_model in a run, registered as NAME, alias 'champion'
  mlflow_models.py pyfunc TRACKING_URI MODEL_URI ROWS_JSON -> JSON: what mlflow.pyfunc.load_model
      answers on the rows (a model ghosteam registered)
"""
import json
import sys
import warnings

warnings.filterwarnings("ignore")


def log(uri, name):
    import mlflow
    import numpy as np
    from mlflow import MlflowClient
    from skl2onnx import to_onnx
    from sklearn.datasets import load_iris
    from sklearn.linear_model import LogisticRegression

    mlflow.set_tracking_uri(uri)
    X, y = load_iris(return_X_y=True)
    X = X.astype(np.float32)
    clf = LogisticRegression(max_iter=500).fit(X, y)
    onx = to_onnx(clf, X[:1])
    with mlflow.start_run() as run:
        info = mlflow.onnx.log_model(onx, name="model", registered_model_name=name)
    client = MlflowClient()
    version = client.search_model_versions(f"name='{name}'")[0].version
    client.set_registered_model_alias(name, "champion", version)
    t = X[::15].astype(np.float64)
    print(json.dumps({"run_id": run.info.run_id, "version": str(version), "rows": t.tolist(),
                      "label": clf.predict(t).tolist(), "proba": clf.predict_proba(t).tolist()}))


def pyfunc(uri, model_uri, rows):
    import mlflow
    import numpy as np

    mlflow.set_tracking_uri(uri)
    m = mlflow.pyfunc.load_model(model_uri)
    x = np.array(json.loads(rows), dtype=np.float32)
    out = m.predict(x)
    # mlflow.onnx's pyfunc answers a DataFrame (one column per output) or a dict of arrays.
    if hasattr(out, "to_dict"):
        res = {k: np.asarray(list(v.values())).tolist() for k, v in out.to_dict().items()}
    else:
        res = {k: np.asarray(v).tolist() for k, v in out.items()}
    print(json.dumps({"flavors": sorted(m.metadata.flavors.keys()), "outputs": res}))


if __name__ == "__main__":
    if sys.argv[1] == "log":
        log(sys.argv[2], sys.argv[3])
    else:
        pyfunc(sys.argv[2], sys.argv[3], sys.argv[4])
