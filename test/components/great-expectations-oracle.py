"""Runs a suite with the real Great Expectations (pandas engine) on an Arrow/Feather file and prints
its results as JSON: the oracle the data-quality test compares ghosteam's expectations against.
Usage: python great-expectations-oracle.py DATA.arrow SUITE.json"""
import json
import logging
import os
import sys
import warnings

warnings.filterwarnings("ignore")
logging.disable(logging.CRITICAL)
os.environ.setdefault("GX_ANALYTICS_ENABLED", "false")
os.environ["TQDM_DISABLE"] = "1"

import great_expectations as gx  # noqa: E402
import pandas as pd  # noqa: E402
from great_expectations.expectations.expectation_configuration import ExpectationConfiguration  # noqa: E402

data_path, suite_path = sys.argv[1], sys.argv[2]
df = pd.read_feather(data_path)
with open(suite_path) as f:
    suite_json = json.load(f)

context = gx.get_context(mode="ephemeral")
batch = (
    context.data_sources.add_pandas("ghosteam")
    .add_dataframe_asset("data")
    .add_batch_definition_whole_dataframe("whole")
    .get_batch(batch_parameters={"dataframe": df})
)
suite = context.suites.add(
    gx.ExpectationSuite(
        name=suite_json.get("name") or "ghosteam",
        expectations=[ExpectationConfiguration(type=e["type"], kwargs=e["kwargs"], meta={"ghosteam_index": i}).to_domain_obj()
            for i, e in enumerate(suite_json["expectations"])],
    )
)
validated = batch.validate(suite, result_format="SUMMARY").to_json_dict()
# GE does not keep the suite's order in its results; each carries its index in meta.
out = [None] * len(suite_json["expectations"])
for r in validated["results"]:
    if r.get("exception_info", {}).get("raised_exception"):
        raise SystemExit(f"{r['expectation_config']['type']}: {r['exception_info']['exception_message']}")
    out[int(r["expectation_config"]["meta"]["ghosteam_index"])] = {"type": r["expectation_config"]["type"], "success": r["success"], "result": r["result"]}

def plain(o):
    if hasattr(o, "item"):
        return o.item()
    if hasattr(o, "tolist"):
        return o.tolist()
    return str(o)


print(json.dumps({"gx": gx.__version__, "success": validated["success"], "statistics": validated["statistics"], "results": out}, default=plain))
