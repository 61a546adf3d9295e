"""Table files as pandas/pyarrow write and read them, for test/batch/predict.test.ts.

  tables.py convert IN.csv OUT.(parquet|arrow|jsonl)  -> pandas writes the CSV's rows in that format
  tables.py read FILE                                  -> JSON: {"columns", "dtypes", "rows", "metadata"}
  tables.py oracle MODEL.onnx IN.csv FEATURES_JSON     -> JSON: onnxruntime's outputs for the CSV's rows
"""
import json
import sys

import numpy as np
import pandas as pd
import pyarrow.feather as feather
import pyarrow.parquet as pq


def convert(src, dst):
    df = pd.read_csv(src, keep_default_na=True)
    if dst.endswith(".parquet"):
        df.to_parquet(dst, row_group_size=37)  # several row groups
    elif dst.endswith(".arrow"):
        feather.write_feather(df, dst, chunksize=41)  # several record batches, LZ4 (pyarrow's default)
    else:
        df.to_json(dst, orient="records", lines=True)


def read(path):
    if path.endswith(".parquet"):
        t = pq.read_table(path)
        meta = {k.decode(): v.decode() for k, v in (pq.read_metadata(path).metadata or {}).items()}
    elif path.endswith(".arrow"):
        t = feather.read_table(path)
        meta = {k.decode(): v.decode() for k, v in (t.schema.metadata or {}).items()}
    elif path.endswith(".jsonl"):
        df = pd.read_json(path, lines=True, dtype=False)
        return {"columns": list(df.columns), "dtypes": {c: str(d) for c, d in df.dtypes.items()}, "rows": json.loads(df.to_json(orient="records")), "metadata": {}}
    else:
        df = pd.read_csv(path, keep_default_na=False, na_values=[""], dtype=str)
        return {"columns": list(df.columns), "dtypes": {}, "rows": json.loads(df.to_json(orient="records")), "metadata": {}}
    df = t.to_pandas()
    return {"columns": list(df.columns), "dtypes": {f.name: str(f.type) for f in t.schema}, "rows": json.loads(df.to_json(orient="records")), "metadata": meta}


def oracle(model, src, features):
    import onnxruntime as ort

    df = pd.read_csv(src)
    s = ort.InferenceSession(model)
    inputs = s.get_inputs()
    if len(inputs) == 1 and features:
        feeds = {inputs[0].name: df[features].to_numpy(np.float32)}
    else:
        feeds = {}
        for i in inputs:
            col = df[[i.name]]
            feeds[i.name] = col.astype(str).to_numpy() if i.type == "tensor(string)" else col.to_numpy(np.float32)
    out = {}
    for o, v in zip(s.get_outputs(), s.run(None, feeds)):
        if isinstance(v, list):  # ZipMap: one {label: p} per row
            labels = list(v[0].keys())
            out[o.name] = {"labels": [str(l) for l in labels], "data": [[float(r[l]) for l in labels] for r in v]}
        else:
            a = np.asarray(v)
            out[o.name] = {"data": a.tolist() if a.dtype.kind != "f" else np.where(np.isnan(a), None, a).tolist()}
    print(json.dumps(out))


if __name__ == "__main__":
    cmd = sys.argv[1]
    if cmd == "convert":
        convert(sys.argv[2], sys.argv[3])
    elif cmd == "read":
        print(json.dumps(read(sys.argv[2])))
    elif cmd == "oracle":
        oracle(sys.argv[2], sys.argv[3], json.loads(sys.argv[4]))
