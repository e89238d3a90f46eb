"""The lifecycle bucket's layout, one place for the stack's constructs and grants to agree on.

- `datacapture/`: the real-time endpoints' DataCapture (expires after 30 days);
- `baselines/<model_version>/baseline.json`: each served version's drift baseline;
- `data/base/<route>/` (train.csv, test.csv) and `data/feedback/<route>/`: training inputs;
- `models/<route>/current/model.tar.gz`: the artifact in service, the gate's incumbent;
- `runs/<route>/`: pipeline outputs (candidates, evaluations); `rollouts/`: the rollout ledger.

The stack seeds `data/base/`, an empty file under `data/feedback/` (so the pipeline's feedback input
is never an empty prefix), `models/` and the first version's baseline (`infra/lifecycle_seed.py`);
the deploy function keeps `models/` and `baselines/` current as versions roll out.
"""

CAPTURE_PREFIX = "datacapture"
BASELINE_PREFIX = "baselines"
BASE_DATA_PREFIX = "data/base"
FEEDBACK_PREFIX = "data/feedback"
MODELS_PREFIX = "models"
RUNS_PREFIX = "runs"
ROLLOUT_PREFIX = "rollouts"
INCUMBENT_ARCHIVE = "current/model.tar.gz"


def incumbent_key(route: str) -> str:
    return f"{MODELS_PREFIX}/{route}/{INCUMBENT_ARCHIVE}"
