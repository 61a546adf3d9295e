"""bench:batch's Python side: the input file and the loop users write today.

  batch_loop.py make OUT.(parquet|csv) ROWS K           -> a table of ROWS rows: id (int64) and f0..f{K-1}
                                                           (float64, standard normal, seeded), Parquet in
                                                           1M-row groups (pandas/pyarrow's default)
  batch_loop.py loop MODEL IN OUT BATCH THREADS FEATURES -> streams IN through MODEL with pandas +
                                                           onnxruntime a batch at a time into OUT (id,
                                                           probability, label); prints JSON {rows,
                                                           seconds, peakRssMb}
  batch_loop.py compare A B N                           -> JSON: max |probability| difference and label
                                                           mismatches over the first N rows of two outputs

The loop is what a pandas user writes for a file larger than memory: pyarrow's iter_batches (or
pandas' read_csv chunksize), DataFrame -> float32 matrix -> InferenceSession.run -> columns
appended -> ParquetWriter.write_table (or to_csv in append mode).
"""
import json
import resource
import sys
import time

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq


def make(out, rows, k):
    rg = 1 << 20
    rng = np.random.default_rng(1)
    schema = pa.schema([("id", pa.int64())] + [(f"f{j}", pa.float64()) for j in range(k)])
    w = pq.ParquetWriter(out, schema) if out.endswith(".parquet") else None
    first = True
    for s in range(0, rows, rg):
        m = min(rg, rows - s)
        cols = {"id": np.arange(s, s + m, dtype=np.int64)}
        for j in range(k):
            cols[f"f{j}"] = rng.standard_normal(m)
        t = pa.table(cols, schema=schema)
        if w is not None:
            w.write_table(t)
        else:
            t.to_pandas().to_csv(out, mode="w" if first else "a", header=first, index=False)
        first = False
    if w is not None:
        w.close()


def loop(model, src, dst, batch, threads, features):
    import onnxruntime as ort

    opts = ort.SessionOptions()
    opts.intra_op_num_threads = threads
    sess = ort.InferenceSession(model, opts, providers=["CPUExecutionProvider"])
    name = sess.get_inputs()[0].name
    t0 = time.perf_counter()
    rows = 0
    if src.endswith(".parquet"):
        chunks = (b.to_pandas() for b in pq.ParquetFile(src).iter_batches(batch_size=batch))
    else:
        chunks = pd.read_csv(src, chunksize=batch)
    writer = None
    first = True
    for df in chunks:
        p = sess.run(None, {name: df[features].to_numpy(np.float32)})[0].reshape(-1)
        out = pd.DataFrame({"id": df["id"], "probability": p, "label": np.where(p >= 0.5, "fraud", "ok")})
        if dst.endswith(".parquet"):
            t = pa.Table.from_pandas(out, preserve_index=False)
            if writer is None:
                writer = pq.ParquetWriter(dst, t.schema)
            writer.write_table(t)
        else:
            out.to_csv(dst, mode="w" if first else "a", header=first, index=False)
        first = False
        rows += len(df)
    if writer is not None:
        writer.close()
    seconds = time.perf_counter() - t0
    print(json.dumps({"rows": rows, "seconds": seconds, "peakRssMb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))


def read_head(path, n):
    if path.endswith(".parquet"):
        f = pq.ParquetFile(path)
        return next(f.iter_batches(batch_size=n, columns=["id", "probability", "label"])).to_pandas()
    return pd.read_csv(path, nrows=n)


def compare(a, b, n):
    x, y = read_head(a, n), read_head(b, n)
    m = min(len(x), len(y))
    ids = int((x["id"].to_numpy()[:m].astype(np.int64) != y["id"].to_numpy()[:m].astype(np.int64)).sum())
    diff = float(np.max(np.abs(x["probability"].to_numpy()[:m] - y["probability"].to_numpy()[:m])))
    labels = int((x["label"].astype(str).to_numpy()[:m] != y["label"].astype(str).to_numpy()[:m]).sum())
    print(json.dumps({"rows": m, "maxProbabilityDiff": diff, "labelMismatches": labels, "idMismatches": ids}))


if __name__ == "__main__":
    cmd = sys.argv[1]
    if cmd == "make":
        make(sys.argv[2], int(sys.argv[3]), int(sys.argv[4]))
    elif cmd == "loop":
        loop(sys.argv[2], sys.argv[3], sys.argv[4], int(sys.argv[5]), int(sys.argv[6]), json.loads(sys.argv[7]))
    elif cmd == "compare":
        compare(sys.argv[2], sys.argv[3], int(sys.argv[4]))
    else:
        sys.exit(f"unknown command {cmd}")
