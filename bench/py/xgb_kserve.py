"""bench:serve's tree-ensemble case, Python side.

  xgb_kserve.py train OUTDIR               -> OUTDIR/model/model.json (XGBoost's own file, what xgbserver loads),
                                              OUTDIR/sklearn/model.joblib (the same fitted XGBClassifier, what
                                              sklearnserver loads), OUTDIR/xgb.onnx (onnxmltools, default
                                              options) and OUTDIR/case.json (a row and what XGBoost predicts for it)
  xgb_kserve.py serve DIR PORT             -> KServe's Python ModelServer serving DIR with xgbserver's model
  xgb_kserve.py serve-sklearn DIR PORT     -> KServe's Python ModelServer serving DIR with sklearnserver's model

KServe's xgbserver and sklearnserver are not published on PyPI (only the `kserve` package is), so
the servers here are KServe's own ModelServer from that package running the model classes of
KServe's python/xgbserver/xgbserver/model.py and python/sklearnserver/sklearnserver/model.py,
restated:
- XGBoostModel: an xgb.Booster loaded from the model directory with nthread, and predict =
  get_predict_input -> xgb.DMatrix -> booster.predict -> get_predict_response;
- SKLearnModel: joblib.load of the one .joblib/.pkl/.pickle file in the model directory, and predict =
  get_predict_input -> model.predict (model.predict_proba when PREDICT_PROBA=true) -> get_predict_response.
The scikit-learn arm serves the same fitted classifier (XGBoost's scikit-learn API, as sklearnserver
users serve XGBClassifier pipelines), with n_jobs=1 as the xgbserver arm's nthread=1.
"""
import json
import os
import sys


def train(out):
    import numpy as np
    import xgboost as xgb
    from onnxmltools import convert_xgboost
    from onnxmltools.convert.common.data_types import FloatTensorType
    from sklearn.datasets import load_breast_cancer

    X, y = load_breast_cancer(return_X_y=True)
    X = X.astype(np.float32)
    clf = xgb.XGBClassifier(n_estimators=200, max_depth=6, random_state=0).fit(X, y)
    # xgbserver takes the one .bst/.json/.ubj in its model directory: keep case.json out of it.
    os.makedirs(os.path.join(out, "model"), exist_ok=True)
    clf.get_booster().save_model(os.path.join(out, "model", "model.json"))
    onx = convert_xgboost(clf, initial_types=[("input", FloatTensorType([None, X.shape[1]]))], target_opset=15)
    with open(os.path.join(out, "xgb.onnx"), "wb") as f:
        f.write(onx.SerializeToString())
    # sklearnserver takes the one .joblib in its directory: the fitted estimator, predicting on one thread.
    import joblib
    os.makedirs(os.path.join(out, "sklearn"), exist_ok=True)
    joblib.dump(clf.set_params(n_jobs=1), os.path.join(out, "sklearn", "model.joblib"))
    row = X[7:8]
    json.dump({"row": row[0].tolist(), "label": int(clf.predict(row)[0]), "proba1": float(clf.predict_proba(row)[0][1]),
               "trees": len(clf.get_booster().get_dump())}, open(os.path.join(out, "case.json"), "w"))


def serve(model_dir, port):
    import xgboost as xgb
    from kserve import Model, ModelServer
    from kserve.errors import InferenceError
    from kserve.utils.utils import get_predict_input, get_predict_response

    class XGBoostModel(Model):
        def __init__(self, name, model_dir, nthread):
            super().__init__(name)
            self.model_dir = model_dir
            self.nthread = nthread

        def load(self):
            files = [os.path.join(self.model_dir, f) for f in os.listdir(self.model_dir) if f.endswith((".bst", ".json", ".ubj"))]
            self._booster = xgb.Booster(params={"nthread": self.nthread}, model_file=files[0])
            self.ready = True
            return self.ready

        def predict(self, payload, headers=None):
            try:
                instances = get_predict_input(payload)
                dmatrix = xgb.DMatrix(instances, nthread=self.nthread)
                result = self._booster.predict(dmatrix)
                return get_predict_response(payload, result, self.name)
            except Exception as e:
                raise InferenceError(str(e))

    m = XGBoostModel("xgb", model_dir, 1)
    m.load()
    ModelServer(http_port=port, workers=1, enable_grpc=False).start([m])


def serve_sklearn(model_dir, port):
    import joblib
    from kserve import Model, ModelServer
    from kserve.errors import InferenceError
    from kserve.utils.utils import get_predict_input, get_predict_response

    class SKLearnModel(Model):
        def __init__(self, name, model_dir):
            super().__init__(name)
            self.model_dir = model_dir

        def load(self):
            files = [os.path.join(self.model_dir, f) for f in os.listdir(self.model_dir) if f.endswith((".joblib", ".pkl", ".pickle"))]
            self._model = joblib.load(files[0])
            self.ready = True
            return self.ready

        def predict(self, payload, headers=None):
            try:
                instances = get_predict_input(payload)
                if os.environ.get("PREDICT_PROBA", "false").lower() == "true" and hasattr(self._model, "predict_proba"):
                    result = self._model.predict_proba(instances)
                else:
                    result = self._model.predict(instances)
                return get_predict_response(payload, result, self.name)
            except Exception as e:
                raise InferenceError(str(e))

    m = SKLearnModel("xgb", model_dir)
    m.load()
    ModelServer(http_port=port, workers=1, enable_grpc=False).start([m])


if __name__ == "__main__":
    if sys.argv[1] == "train":
        train(sys.argv[2])
    elif sys.argv[1] == "serve-sklearn":
        serve_sklearn(sys.argv[2], int(sys.argv[3]))
    else:
        serve(sys.argv[2], int(sys.argv[3]))
