"""bench:data's baseline: DuckDB reading and aggregating the same file (all cores), the
generator of the bench files, and the native reference for an ingest: DuckDB and Apache Arrow's
own C++ writing the file as an Arrow IPC dataset. Prints one JSON line."""
import hashlib, json, os, resource, sys, time

import duckdb

def generate(rows: int, csv: str, parquet: str) -> None:
    con = duckdb.connect()
    # Deterministic columns from hash(i, k): the same files on every machine.
    nums = ",\n".join(
        f"CASE WHEN hash(i, {k}) % 50 = 0 THEN NULL ELSE (hash(i, {k + 100}) % 1000000) / 1000.0 END AS f{k}" for k in range(1, 15)
    )
    con.execute(f"""
        CREATE TABLE t AS SELECT
          i AS id,
          {nums},
          ['FR','US','DE','ES','IT'][(hash(i, 21) % 5)::INT + 1] AS country,
          'seg' || (hash(i, 22) % 12)::VARCHAR AS segment,
          ['web','store','phone'][(hash(i, 23) % 3)::INT + 1] AS channel,
          (hash(i, 24) % 2 = 0) AS flag,
          (hash(i, 25) % 10 = 0)::INT AS label
        FROM range({rows}) r(i) ORDER BY i
    """)
    con.execute(f"COPY t TO '{csv}' (HEADER, DELIMITER ',')")
    con.execute(f"COPY t TO '{parquet}' (FORMAT parquet)")

def aggregate(path: str) -> dict:
    con = duckdb.connect()
    src = f"read_csv('{path}')" if path.endswith('.csv') else f"read_parquet('{path}')"
    aggs = ", ".join(
        [f"avg(f{k}), min(f{k}), max(f{k}), count(f{k})" for k in range(1, 15)]
        + ["count(*)", "max(id)", "count(DISTINCT country)", "max(segment)", "count(DISTINCT channel)", "sum(flag::INT)", "sum(label)"]
    )
    t = time.perf_counter()
    row = con.execute(f"SELECT {aggs} FROM {src}").fetchone()
    secs = time.perf_counter() - t
    return {"seconds": secs, "rows": row[14 * 4], "threads": con.execute("SELECT current_setting('threads')").fetchone()[0]}

def native(path: str, out: str) -> dict:
    """What an ingest costs with no JavaScript at all: the file read into an Arrow table by DuckDB
    (its parallel conversion) and, apart, by Arrow's own readers (pyarrow.csv, pyarrow.parquet,
    multithreaded) — each the whole table in memory, faster than a stream and more memory than
    ingest may use —, written by pyarrow as an Arrow IPC file in 65,536-row batches (not fsynced:
    ingest's writer syncs in the background as it goes, a serial fsync at the end would cost this
    side seconds it need not), and hashed (SHA-256, as ingest's content address). The faster of the
    two is the floor of the goal on this machine, not a competitor."""
    import pyarrow as pa
    import pyarrow.csv as pcsv
    import pyarrow.ipc as ipc
    import pyarrow.parquet as pq

    def duck() -> "pa.Table":
        src = f"read_csv('{path}')" if path.endswith('.csv') else f"read_parquet('{path}')"
        return duckdb.connect().execute(f"SELECT * FROM {src}").to_arrow_table()

    def arrow() -> "pa.Table":
        return pcsv.read_csv(path) if path.endswith('.csv') else pq.read_table(path)

    runs = {}
    for via, read in (("duckdb", duck), ("pyarrow", arrow)):
        t0 = time.perf_counter()
        table = read()
        t1 = time.perf_counter()
        with pa.OSFile(out, "wb") as f:
            w = ipc.new_file(f, table.schema)
            w.write_table(table, max_chunksize=65536)
            w.close()
        t2 = time.perf_counter()
        h = hashlib.sha256()
        with open(out, "rb") as f:
            while chunk := f.read(1 << 22):
                h.update(chunk)
        t3 = time.perf_counter()
        runs[via] = {"seconds": t3 - t0, "readS": t1 - t0, "writeS": t2 - t1, "hashS": t3 - t2, "bytes": os.path.getsize(out), "rows": table.num_rows}
        del table
        os.unlink(out)
    best = min(runs, key=lambda k: runs[k]["seconds"])
    return {**runs[best], "via": best, "runs": runs}

if __name__ == "__main__":
    if sys.argv[1] == "generate":
        generate(int(sys.argv[2]), sys.argv[3], sys.argv[4])
        print(json.dumps({"generated": True}))
    elif sys.argv[1] == "native":
        r = native(sys.argv[2], sys.argv[3])
        r["peakRssMb"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)
        print(json.dumps(r))
    else:
        r = aggregate(sys.argv[2])
        r["peakRssMb"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)
        r["version"] = duckdb.__version__
        print(json.dumps(r))
