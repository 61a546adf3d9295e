"""Optuna as the oracle for ghosteam's search algorithms (bench/tuning.ts, test/tuning/optuna.test.ts).

Reads one JSON request on stdin, writes one JSON answer on stdout:
  {"cmd": "search", "functions": [{"name": F, "space": {...}, "data": {...}}, ...],
   "samplers": ["tpe" | "tpe-independent" | "random", ...], "seeds": [...], "trials": N}
      -> {"best": {F: {sampler: [best value per seed]}}}
  {"cmd": "overhead", "trials": N, "sampler": ...}  -> {"msPerTrial": ..., "seconds": ...}
  {"cmd": "prune", "pruner": {...}, "direction": D, "curves": [[v at step 1, 2, ...], ...], "stepOffset": k}
      -> {"stoppedAt": [the step each trial was pruned at, or null]}
  {"cmd": "evaluate", "points": [{"function": F, "params": {...}}, ...], "data": {...}} -> {"values": [...]}
The objective functions mirror bench/tuning-functions.ts exactly (same formulas, same data).
"""
import json
import math
import sys
import time

import numpy as np
import optuna

optuna.logging.set_verbosity(optuna.logging.WARNING)


def branin(p, _data):
    x1, x2 = p["x1"], p["x2"]
    a, b, c, r, s, t = 1.0, 5.1 / (4 * math.pi**2), 5 / math.pi, 6.0, 10.0, 1 / (8 * math.pi)
    return a * (x2 - b * x1**2 + c * x1 - r) ** 2 + s * (1 - t) * math.cos(x1) + s


QUAD_CENTRE = [0.5, -0.3, 1.1, 0.0]


def pseudo_noise(xs):
    z = math.sin(12.9898 * xs[0] + 78.233 * xs[1] + 37.719 * xs[2] + 4.581 * xs[3]) * 43758.5453
    return 0.2 * (z - math.floor(z)) - 0.1


def noisy_quadratic(p, _data):
    xs = [p["x0"], p["x1"], p["x2"], p["x3"]]
    return sum((x - c) ** 2 for x, c in zip(xs, QUAD_CENTRE)) + pseudo_noise(xs)


def logreg(p, data):
    """Logistic regression by full-batch gradient descent (learning rate, L2, epochs); held-out log loss."""
    xs, ys, xt, yt = (np.asarray(data[k], dtype=np.float64) for k in ("x", "y", "xTest", "yTest"))
    w = np.zeros(xs.shape[1])
    b = 0.0
    lr, l2, epochs = p["learningRate"], p["l2"], int(p["epochs"])
    n = len(xs)
    for _ in range(epochs):
        e = sigmoid(xs @ w + b) - ys
        w = w - lr * (xs.T @ e / n + l2 * w)
        b -= lr * e.sum() / n
    q = np.clip(sigmoid(xt @ w + b), 1e-12, 1 - 1e-12)
    return float(-(yt * np.log(q) + (1 - yt) * np.log(1 - q)).mean())


def sigmoid(z):
    return 1 / (1 + np.exp(-np.clip(z, -30.0, 30.0)))


FUNCTIONS = {"branin": branin, "noisy-quadratic": noisy_quadratic, "logreg": logreg}


def suggest(trial, name, d):
    kind = d["kind"]
    if kind == "uniform":
        return trial.suggest_float(name, d["low"], d["high"])
    if kind == "loguniform":
        return trial.suggest_float(name, d["low"], d["high"], log=True)
    if kind == "int":
        return trial.suggest_int(name, d["low"], d["high"], step=d.get("step", 1), log=d.get("log", False))
    if kind == "categorical":
        return trial.suggest_categorical(name, d["choices"])
    raise ValueError(f"unknown dimension kind {kind}")


def sampler_of(kind, seed):
    if kind == "tpe":
        return optuna.samplers.TPESampler(seed=seed)
    if kind == "tpe-independent":
        return optuna.samplers.TPESampler(seed=seed, multivariate=False)
    if kind == "random":
        return optuna.samplers.RandomSampler(seed=seed)
    raise ValueError(f"unknown sampler {kind}")


def search(req):
    out = {}
    for fn in req["functions"]:
        f = FUNCTIONS[fn["name"]]
        space = fn["space"]
        data = fn.get("data")
        for sampler in req["samplers"]:
            best = []
            for seed in req["seeds"]:
                study = optuna.create_study(direction="minimize", sampler=sampler_of(sampler, seed))
                study.optimize(lambda t: f({n: suggest(t, n, d) for n, d in space.items()}, data), n_trials=req["trials"])
                best.append(study.best_value)
            out.setdefault(fn["name"], {})[sampler] = best
    return {"best": out}


def overhead(req):
    space = {"x": {"kind": "uniform", "low": -1, "high": 1}, "lr": {"kind": "loguniform", "low": 1e-4, "high": 1e-1}}
    study = optuna.create_study(direction="minimize", sampler=sampler_of(req["sampler"], 1))
    t0 = time.perf_counter()
    study.optimize(lambda t: sum(abs(suggest(t, n, d)) for n, d in space.items()), n_trials=req["trials"])
    seconds = time.perf_counter() - t0
    return {"msPerTrial": seconds * 1000 / req["trials"], "seconds": seconds}


def prune(req):
    spec = req["pruner"]
    if spec["kind"] == "asha":
        pruner = optuna.pruners.SuccessiveHalvingPruner(
            min_resource=spec["minResource"], reduction_factor=spec["reductionFactor"], min_early_stopping_rate=spec["minEarlyStoppingRate"]
        )
    else:
        pruner = optuna.pruners.MedianPruner(n_startup_trials=spec["startupTrials"], n_warmup_steps=spec["warmupSteps"])
    offset = req.get("stepOffset", 0)
    study = optuna.create_study(direction=req["direction"], pruner=pruner, sampler=optuna.samplers.RandomSampler(seed=0))
    stopped = []
    for curve in req["curves"]:
        trial = study.ask()
        at = None
        for i, v in enumerate(curve):
            step = i + 1
            trial.report(v, step + offset)
            if trial.should_prune():
                at = step
                break
        if at is None:
            study.tell(trial, curve[-1])
        else:
            study.tell(trial, state=optuna.trial.TrialState.PRUNED)
        stopped.append(at)
    return {"stoppedAt": stopped}


def qmc(req):
    """scipy.stats.qmc's Halton sequence (plain), and centred L2 discrepancies: of the given point sets, of
    scipy's scrambled Halton and of uniform random points (seeds 0..seeds-1), all n points in d dimensions."""
    import numpy as np
    from scipy.stats import qmc as sqmc

    d, n, seeds = req["d"], req["n"], req["seeds"]
    disc = lambda pts: float(sqmc.discrepancy(np.asarray(pts, dtype=float)))
    return {
        "plain": sqmc.Halton(d, scramble=False).random(n).tolist(),
        "ours": [disc(pts) for pts in req["points"]],
        "scipyScrambled": [disc(sqmc.Halton(d, scramble=True, rng=np.random.default_rng(s)).random(n)) for s in range(seeds)],
        "random": [disc(np.random.default_rng(s).random((n, d))) for s in range(seeds)],
    }


def evaluate(req):
    return {"values": [FUNCTIONS[x["function"]](x["params"], req.get("data")) for x in req["points"]]}


def main():
    req = json.load(sys.stdin)
    out = {"search": search, "overhead": overhead, "prune": prune, "evaluate": evaluate, "qmc": qmc}[req["cmd"]](req)
    json.dump(out, sys.stdout)


if __name__ == "__main__":
    main()
