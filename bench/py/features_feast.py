"""Feast's side of `npm run bench:features` (bench/features.ts), in the peers' Python.

  features_feast.py gen DIR ROWS        write the bench data (Parquet): 3 feature views and the entity rows
  features_feast.py join DIR K          Feast's get_historical_features on its file offline store, timed, and its
                                        result compared row for row with ghosteam's (DIR/ghosteam.arrow), K features of each view
  features_feast.py online DIR END sqlite
  features_feast.py online DIR END redis HOST:PORT
                                        a Feast repo (DIR/feast-repo-sqlite, -redis) with that online store, materialized
                                        up to END (timed), ready for `feast serve`; prints the repo and the feature service's name
Every command prints one JSON line on stdout.
"""
import contextlib
import json
import os
import sys
import time
import warnings
from datetime import datetime, timedelta, timezone

warnings.filterwarnings("ignore")
os.environ.setdefault("FEAST_USAGE", "False")

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import pyarrow as pa  # noqa: E402
from feast import Entity, FeatureService, FeatureStore, FeatureView, Field, FileSource, RepoConfig, ValueType  # noqa: E402
from feast.types import Float64  # noqa: E402

T0 = datetime(2026, 11, 1, tzinfo=timezone.utc)
DRIVERS = 10_000
STEPS = 20  # rows per driver per view
SPAN_MS = 48 * 3600 * 1000
VIEWS = {"stats_a": 20, "stats_b": 20, "stats_c": 10}  # 50 features in all
TTL = timedelta(days=7)


def gen(d, rows):
    rng = np.random.default_rng(18)
    drivers = np.repeat(np.arange(1, DRIVERS + 1, dtype=np.int64), STEPS)
    for v, nf in VIEWS.items():
        # Each driver's first row is at T0, so no entity row (all after T0 + 1 h) falls before a driver's rows: Feast's file
        # store drops such rows, ghosteam keeps them with nulls (test/features/feast-oracle.test.ts compares that case).
        off = rng.integers(1, SPAN_MS, size=len(drivers))
        off[::STEPS] = 0
        df = pd.DataFrame({"driver_id": drivers, "event_timestamp": pd.to_datetime(T0) + pd.to_timedelta(off, unit="ms")})
        for j in range(nf):
            df[f"{v}_f{j}"] = np.round(rng.random(len(drivers)) * 100, 3)
        df = df.sample(frac=1.0, random_state=int(rng.integers(1 << 30))).reset_index(drop=True)
        df.to_parquet(os.path.join(d, f"{v}.parquet"), index=False)
    ent = pd.DataFrame(
        {
            "row_id": np.arange(rows, dtype=np.int64),
            "driver_id": rng.integers(1, DRIVERS + 1, size=rows).astype(np.int64),
            "event_timestamp": pd.to_datetime(T0) + pd.to_timedelta(rng.integers(3_600_000, SPAN_MS + 3_600_000, size=rows), unit="ms"),
        }
    )
    # Feast's file store keeps one of several entity rows with the same key and time (it deduplicates on them after each
    # view's join); ghosteam keeps every row. Move such rows a millisecond apart, so both answer for every row.
    while True:
        dup = ent.duplicated(["driver_id", "event_timestamp"])
        if not dup.any():
            break
        ent.loc[dup, "event_timestamp"] += pd.Timedelta(milliseconds=1)
    ent.to_parquet(os.path.join(d, "entities.parquet"), index=False)
    print(json.dumps({"views": VIEWS, "drivers": DRIVERS, "rowsPerView": DRIVERS * STEPS, "entityRows": rows}))


def repo(d, data, online):
    cfg = RepoConfig(
        project="bench",
        registry=os.path.join(d, "registry.db"),
        provider="local",
        offline_store={"type": "file"},
        online_store=online,
        entity_key_serialization_version=3,
    )
    store = FeatureStore(config=cfg, repo_path=d)
    driver = Entity(name="driver", join_keys=["driver_id"], value_type=ValueType.INT64)
    views = []
    for v, nf in VIEWS.items():
        views.append(
            FeatureView(
                name=v,
                entities=[driver],
                ttl=TTL,
                schema=[Field(name=f"{v}_f{j}", dtype=Float64) for j in range(nf)],
                source=FileSource(path=os.path.join(data, f"{v}.parquet"), timestamp_field="event_timestamp"),
                online=True,
            )
        )
    service = FeatureService(name="bench", features=views)
    store.apply([driver, *views, service])
    return store, views


def join(d, per_view):
    work = os.path.join(d, "feast-offline")
    os.makedirs(work, exist_ok=True)
    store, views = repo(work, d, {"type": "sqlite", "path": os.path.join(work, "online.db")})
    ent = pd.read_parquet(os.path.join(d, "entities.parquet"))
    feats = [f"{v}:{v}_f{j}" for v, nf in VIEWS.items() for j in range(min(nf, per_view))]
    t = time.perf_counter()
    df = store.get_historical_features(entity_df=ent, features=feats).to_df()
    seconds = time.perf_counter() - t
    df = df.sort_values("row_id").reset_index(drop=True)
    with pa.memory_map(os.path.join(d, "ghosteam.arrow")) as src:
        ours = pa.ipc.open_file(src).read_all().to_pandas()
    ours = ours.sort_values("row_id").reset_index(drop=True)
    out = {"feastSeconds": seconds, "feastRows": len(df), "ghosteamRows": len(ours)}
    mismatches = 0
    first = None
    if len(df) != len(ours) or not (df["row_id"].to_numpy() == ours["row_id"].to_numpy()).all():
        mismatches = abs(len(df) - len(ours)) or 1
        lost = sorted(set(ours["row_id"].tolist()) - set(df["row_id"].tolist()))[:3]
        first = f"the rows differ: Feast {len(df)}, ghosteam {len(ours)}; row ids only ghosteam has: {lost}"
    else:
        for v, nf in VIEWS.items():
            for j in range(min(nf, per_view)):
                c = f"{v}_f{j}"
                a = df[c].to_numpy(dtype="float64", na_value=np.nan)
                b = ours[c].to_numpy(dtype="float64", na_value=np.nan)
                bad = ~((a == b) | (np.isnan(a) & np.isnan(b)))
                n = int(bad.sum())
                if n and first is None:
                    i = int(np.argmax(bad))
                    first = f"row_id {int(df['row_id'][i])} {c}: Feast {a[i]}, ghosteam {b[i]}"
                mismatches += n
    out["mismatches"] = mismatches
    out["firstMismatch"] = first
    out["nullShare"] = float(np.isnan(ours[[f"{v}_f0" for v in VIEWS]].to_numpy(dtype="float64", na_value=np.nan)).mean())
    print(json.dumps(out))


def online(d, end, kind, redis=None):
    """A Feast repo over the bench data with a SQLite or a Redis (host:port) online store, materialized, timed."""
    work = os.path.join(d, "feast-repo-" + kind)
    os.makedirs(work, exist_ok=True)
    if kind == "sqlite":
        store_cfg = {"type": "sqlite", "path": os.path.join(work, "online.db")}
        store_yaml = "  type: sqlite\n  path: %s\n" % store_cfg["path"]
    elif kind == "redis":
        store_cfg = {"type": "redis", "connection_string": redis}
        store_yaml = "  type: redis\n  connection_string: %s\n" % json.dumps(redis)
    else:
        raise SystemExit("features_feast.py online: the store is sqlite or redis, not %r" % kind)
    store, _ = repo(work, d, store_cfg)
    with open(os.path.join(work, "feature_store.yaml"), "w") as f:
        f.write(
            "project: bench\nregistry: %s\nprovider: local\nonline_store:\n%soffline_store:\n  type: file\nentity_key_serialization_version: 3\n"
            % (os.path.join(work, "registry.db"), store_yaml)
        )
    t = time.perf_counter()
    with contextlib.redirect_stdout(sys.stderr):
        store.materialize(start_date=T0 - timedelta(days=1), end_date=datetime.fromisoformat(end.replace("Z", "+00:00")))
    print(json.dumps({"repo": work, "materializeSeconds": time.perf_counter() - t, "service": "bench"}))


if __name__ == "__main__":
    cmd, d = sys.argv[1], sys.argv[2]
    if cmd == "gen":
        gen(d, int(sys.argv[3]))
    elif cmd == "join":
        join(d, int(sys.argv[3]))
    elif cmd == "online":
        online(d, sys.argv[3], sys.argv[4], *sys.argv[5:6])
