"""Seeded cohorts and lifelines 0.30.3's answers for them (DESIGN.md §11), as JSON on
stdout: onset's fitter and Kaplan-Meier are checked against these by
`cargo test --lib oracle -- --ignored` (see .ci/cox/run).

Cohorts: integer hours (many ties), continuous and categorical covariates (indicators),
one censored-heavy (about 85 % censored), sizes from 60 to 400. The proportional-hazards
test is lifelines' `proportional_hazard_test` on the rank of the event times with ties
averaged (R's cox.zph): lifelines' own "rank" numbers tied times in row order."""
import json
import sys

import numpy as np
import pandas as pd
from scipy.stats import rankdata
from lifelines import CoxPHFitter, KaplanMeierFitter
from lifelines.statistics import proportional_hazard_test


def average_rank(t, c, w):
    index = t.index
    t, c = np.asarray(t), np.asarray(c).astype(bool)
    ranks = np.zeros(len(t))
    ranks[c] = rankdata(t[c])
    return pd.Series(ranks, index=index)


def cohort(seed, n, censoring):
    rng = np.random.default_rng(seed)
    dose = np.round(rng.uniform(0.2, 1.0, n), 2)
    baseline = rng.integers(16, 40, n).astype(float)
    route = rng.choice(["iv", "im", "oral"], n, p=[0.5, 0.3, 0.2])
    hazard = np.exp(1.2 * dose - 0.04 * baseline + np.where(route == "im", 0.5, 0.0) + np.where(route == "oral", -0.4, 0.0))
    event_time = np.ceil(rng.exponential(40.0 / hazard))
    censor_time = np.ceil(rng.exponential(40.0 / censoring, n)) if censoring > 0 else np.full(n, np.inf)
    time = np.minimum(event_time, censor_time).clip(1, 2000)
    event = (event_time <= censor_time).astype(int)
    return pd.DataFrame({"T": time, "E": event, "dose": dose, "baseline": baseline, "route_im": (route == "im").astype(int), "route_oral": (route == "oral").astype(int)})


cases = []
for seed, n, censoring in [(1, 60, 0.3), (2, 150, 0.6), (3, 400, 0.2), (4, 300, 6.0), (5, 120, 1.0)]:
    df = cohort(seed, n, censoring)
    cph = CoxPHFitter().fit(df, "T", "E", fit_options={"precision": 1e-12})
    ph = proportional_hazard_test(cph, df, time_transform=average_rank)
    km = KaplanMeierFitter().fit(df["T"], df["E"])
    survival = km.survival_function_["KM_estimate"]
    band = km.confidence_interval_
    cases.append({
        "seed": seed,
        "times": df["T"].tolist(),
        "events": df["E"].astype(bool).tolist(),
        "x": df[["dose", "baseline", "route_im", "route_oral"]].values.tolist(),
        "coef": cph.params_.tolist(),
        "se": cph.standard_errors_.tolist(),
        "log_likelihood": cph.log_likelihood_,
        "concordance": cph.concordance_index_,
        "ph_statistic": [float(ph.summary.loc[name, "test_statistic"]) for name in cph.params_.index],
        "km_times": [float(t) for t in survival.index if t > 0],
        "km_survival": [float(survival.loc[t]) for t in survival.index if t > 0],
        "km_lower": [float(band.iloc[i, 0]) for i, t in enumerate(survival.index) if t > 0],
        "km_upper": [float(band.iloc[i, 1]) for i, t in enumerate(survival.index) if t > 0],
        "censored_share": float(1 - df["E"].mean()),
    })
json.dump(cases, sys.stdout)
