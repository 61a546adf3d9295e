"""Feast itself as the oracle for ghosteam's feature store (test/features/feast-oracle.test.ts).

Reads a JSON case (feature views with their rows, entity rows, requested features), builds a Feast
repo in a temp dir (local provider, file offline store over Parquet, SQLite online store), and
prints JSON: the historical features per entity row (`get_historical_features`) and, when asked,
the online features after `materialize` (`get_online_features`), from the SQLite online store and,
when the case names a Redis server (`online.redis`: host:port), from Feast's Redis online store too
(a second repo with the same objects, materialized over the same window).

  python feast_oracle.py case.json > result.json
"""
import contextlib
import json
import math
import os
import sys
import tempfile
import warnings
from datetime import datetime, timedelta, timezone

warnings.filterwarnings("ignore")
os.environ.setdefault("FEAST_USAGE", "False")

import pandas as pd  # noqa: E402
from feast import Entity, FeatureStore, FeatureView, Field, FileSource, RepoConfig, ValueType  # noqa: E402
from feast.types import Bool, Float64, Int64, String  # noqa: E402

DTYPES = {"float64": Float64, "int64": Int64, "string": String, "bool": Bool}
VALUE_TYPES = {"int64": ValueType.INT64, "string": ValueType.STRING}
PANDAS = {"float64": "float64", "int64": "Int64", "string": "string", "bool": "boolean"}


def cell(v):
    if v is None:
        return None
    if isinstance(v, float) and math.isnan(v):
        return None
    if v is pd.NA or v is pd.NaT:
        return None
    if isinstance(v, pd.Timestamp):
        return v.isoformat()
    if hasattr(v, "item"):
        return v.item()
    return v


def feast_objects(case, tmp):
    """The entities and feature views of the case, their rows written as Parquet under tmp."""
    entities = {}
    objects = []
    for view in case["views"]:
        for e in view["entities"]:
            key = e["joinKeys"][0]
            if e["name"] not in entities:
                entities[e["name"]] = Entity(name=e["name"], join_keys=[key["name"]], value_type=VALUE_TYPES[key["type"]])
    objects.extend(entities.values())
    for view in case["views"]:
        df = pd.DataFrame(view["rows"])
        src = view["source"]
        for col in [src["timestampField"]] + ([src["createdTimestampField"]] if src.get("createdTimestampField") else []):
            df[col] = pd.to_datetime(df[col], utc=True, format="ISO8601")
        for f in view["features"]:
            df[f["name"]] = df[f["name"]].astype(PANDAS[f["type"]])
        for e in view["entities"]:
            k = e["joinKeys"][0]
            df[k["name"]] = df[k["name"]].astype("int64" if k["type"] == "int64" else "string")
        file = os.path.join(tmp, view["name"] + ".parquet")
        df.to_parquet(file, index=False)
        objects.append(
            FeatureView(
                name=view["name"],
                entities=[entities[e["name"]] for e in view["entities"]],
                ttl=timedelta(seconds=view["ttlSeconds"]),
                schema=[Field(name=f["name"], dtype=DTYPES[f["type"]]) for f in view["features"]],
                source=FileSource(
                    path=file,
                    timestamp_field=src["timestampField"],
                    created_timestamp_column=src.get("createdTimestampField") or "",
                ),
                online=True,
            )
        )
    return objects


def online_values(store, case):
    on = case["online"]
    resp = store.get_online_features(features=case["features"], entity_rows=on["entityRows"], full_feature_names=case.get("fullFeatureNames", False)).to_dict()
    return {k: [cell(x) for x in v] for k, v in resp.items()}


def main(path):
    case = json.load(open(path))
    tmp = tempfile.mkdtemp(prefix="feast-oracle-")
    config = RepoConfig(
        project="oracle",
        registry=os.path.join(tmp, "registry.db"),
        provider="local",
        offline_store={"type": "file"},
        online_store={"type": "sqlite", "path": os.path.join(tmp, "online.db")},
        entity_key_serialization_version=3,
    )
    store = FeatureStore(config=config, repo_path=tmp)
    store.apply(feast_objects(case, tmp))

    out = {}
    entity_df = pd.DataFrame(case["entityRows"])
    entity_df["event_timestamp"] = pd.to_datetime(entity_df["event_timestamp"], utc=True, format="ISO8601")
    for view in case["views"]:
        for e in view["entities"]:
            k = e["joinKeys"][0]
            if k["name"] in entity_df:
                entity_df[k["name"]] = entity_df[k["name"]].astype("int64" if k["type"] == "int64" else "object")
    # created <= entity time as well (Feast's opt-in cutoff): what was known at each row's time, which ghosteam always enforces.
    result = store.get_historical_features(
        entity_df=entity_df,
        features=case["features"],
        full_feature_names=case.get("fullFeatureNames", False),
        filter_by_created_timestamp=True,
    ).to_df()
    cols = [c for c in result.columns]
    out["historical"] = [{c: cell(r[c]) for c in cols} for r in result.to_dict("records")]

    if case.get("online"):
        on = case["online"]
        start = datetime.fromisoformat(on["start"].replace("Z", "+00:00"))
        end = datetime.fromisoformat(on["end"].replace("Z", "+00:00"))
        # Feast prints progress on stdout, which carries the JSON answer.
        with contextlib.redirect_stdout(sys.stderr):
            store.materialize(start_date=start, end_date=end)
        out["online"] = online_values(store, case)
        if on.get("redis"):
            rtmp = tempfile.mkdtemp(prefix="feast-oracle-redis-")
            rconfig = RepoConfig(
                project="oracle",
                registry=os.path.join(rtmp, "registry.db"),
                provider="local",
                offline_store={"type": "file"},
                online_store={"type": "redis", "connection_string": on["redis"]},
                entity_key_serialization_version=3,
            )
            rstore = FeatureStore(config=rconfig, repo_path=rtmp)
            rstore.apply(feast_objects(case, rtmp))
            with contextlib.redirect_stdout(sys.stderr):
                rstore.materialize(start_date=start, end_date=end)
            out["onlineRedis"] = online_values(rstore, case)
    json.dump(out, sys.stdout)


if __name__ == "__main__":
    main(sys.argv[1])
