"""bench:data's baseline: DuckDB reading and aggregating the same file (all cores), and the
generator of the bench files. Prints one JSON line."""
import json, resource, sys, time

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

if __name__ == "__main__":
    if sys.argv[1] == "generate":
        generate(int(sys.argv[2]), sys.argv[3], sys.argv[4])
        print(json.dumps({"generated": True}))
    else:
        r = aggregate(sys.argv[2])
        r["peakRssMb"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)
        r["version"] = duckdb.__version__
        print(json.dumps(r))
