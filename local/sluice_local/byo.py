"""Bring your own model, locally: host a route's model, check its artifact, add a route.

  hosting_of      what the local endpoint serves for one variant: its handler and model dir
  check           the pre-deploy check: pack the artifact, install it in an environment holding
                  only the target image's packages, offline, and answer a sample request that
                  respects the batching contract (N instances in, N predictions out)
  main            `make check-model ROUTE=...` and `make new-route NAME=... MODEL=... KIND=...`

The packers themselves are model/byo.py (the stack packs the same artifacts at synth).
"""

from __future__ import annotations

import argparse
import hashlib
import importlib.util
import json
import os
import shutil
import subprocess
import sys
import sysconfig
import tarfile
import tempfile
import time
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from types import ModuleType
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
SERVING = ROOT / ".sluice" / "serving"
ARTIFACTS = ROOT / ".sluice" / "artifacts"
DEFAULT_HANDLER = ROOT / "model" / "inference.py"
# Texts every check sends; a route's own samples can replace them (--sample).
SAMPLES = (
    "Hi, I am John Smith (john.smith@example.com) and I still have not received my new card",
    "Please close my account, I am moving abroad",
    "great service, thank you",
)

# The script the check runs inside the image-like environment: the container's own calls, in order.
SERVE = r"""
import json, sys, warnings
root, texts = sys.argv[1], json.loads(sys.argv[2])
sys.path.insert(0, root + "/code")
try:  # a pickle from another scikit-learn is refused, not served with a warning
    from sklearn.exceptions import InconsistentVersionWarning
    warnings.simplefilter("error", InconsistentVersionWarning)
except ImportError:
    pass
import inference

def refuse(reason):
    print(json.dumps({"ok": False, "reason": reason}))
    sys.exit(3)

model = inference.model_fn(root)
answers = []
for batch in (texts, texts[:1]):
    data = inference.input_fn(json.dumps({"instances": [{"text": t} for t in batch]}), "application/json")
    if not isinstance(data, list) or len(data) != len(batch):
        refuse(f"input_fn returned {type(data).__name__} of {len(data) if hasattr(data, '__len__') else '?'} "
               f"for {len(batch)} instances: the batching contract needs a list of {len(batch)}")
    prediction = inference.predict_fn(data, model)
    if not isinstance(prediction, list) or len(prediction) != len(batch):
        refuse(f"predict_fn returned {len(prediction) if hasattr(prediction, '__len__') else '?'} outputs "
               f"for {len(batch)} inputs: the batching contract needs one per input, in order")
    result = inference.output_fn(prediction, "application/json")
    body, content_type = result if isinstance(result, tuple) else (result, "application/json")
    body = body.encode() if isinstance(body, str) else bytes(body)
    try:
        parsed = json.loads(body)
    except ValueError:
        refuse("output_fn did not answer JSON")
    predictions = parsed.get("predictions") if isinstance(parsed, dict) else None
    if not isinstance(predictions, list) or len(predictions) != len(batch):
        refuse('output_fn must answer {"predictions": [...]} with one prediction per instance')
    answers.append({"bytes": len(body), "content_type": content_type, "answer": parsed})
print(json.dumps({"ok": True, "answers": answers}))
"""


@cache
def packer() -> ModuleType:
    """model/byo.py as a module (model/ is the SageMaker source dir, not a package)."""
    spec = importlib.util.spec_from_file_location("sluice_model_byo", ROOT / "model" / "byo.py")
    if spec is None or spec.loader is None:
        raise ImportError("model/byo.py is missing")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # its dataclasses look the module up
    spec.loader.exec_module(module)
    return module


def source_of(model: Any) -> Any:
    """A config ModelSource as model/byo.py's Source (paths relative to the repository)."""
    return packer().Source(kind=model.kind, path=(ROOT / model.path).resolve(), task=model.task)


def hosting_of(route: str, variant: str, model: Any, default_model_dir: Path) -> tuple[Path, Path]:
    """(handler, model dir) the local endpoint serves for one variant: each its own model."""
    if model is None:
        return DEFAULT_HANDLER, default_model_dir
    if model.kind == "intent":  # another version of the default model: its own trained dir
        return DEFAULT_HANDLER, (ROOT / model.path).resolve()
    source = source_of(model)
    byo = packer()
    problems = byo.validate(source)
    if problems:
        raise SystemExit(f"route {route}, variant {variant}: {'; '.join(problems)}")
    return byo.handler_for(source), byo.stage_model(source, SERVING / route / variant)


# --- the pre-deploy check ------------------------------------------------------------------------


@dataclass(frozen=True)
class CheckResult:
    ok: bool
    reason: str
    answers: list[dict[str, Any]]
    artifact_bytes: int


def _image_like_environment(path: Path, image_env: Path) -> Path:
    """A fresh venv that sees the image's packages (installed once in `image_env`) and nothing else."""
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(path)], check=True)  # noqa: S603
    image_site = next((image_env / "lib").glob("python3.*/site-packages"))
    site = Path(sysconfig.get_path("purelib", vars={"base": str(path), "platbase": str(path)}))
    (site / "_image_packages.pth").write_text(f"{image_site}\n")
    return path / "bin" / "python"


def offline(*argv: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    """Run with no network at all: a network namespace of its own (util-linux unshare)."""
    unshare = shutil.which("unshare")
    if unshare is None:
        raise RuntimeError("util-linux unshare is needed to cut the network")
    return subprocess.run(  # noqa: S603 - fixed argv
        [unshare, "--net", *argv],
        cwd=cwd,
        capture_output=True,
        text=True,
        env={
            "PATH": "/usr/bin:/bin",
            "HF_HUB_OFFLINE": "1",
            "PIP_NO_INDEX": "1",
            "PIP_CONFIG_FILE": "/dev/null",
        },
        check=False,
    )


class _StartFailed(Exception):
    pass


CHECK_ENVIRONMENTS = ROOT / ".build" / "check-environments"


def _started_container(unpacked: Path, image_env: Path, work: Path) -> Path:
    """The image's environment after the container's start-up step (`pip install -r
    code/requirements.txt`, offline). Kept per set of wheels in .build/: installing the
    transformers wheels takes most of a minute, and the same wheels install the same way."""
    requirements = unpacked / "code" / "requirements.txt"
    if not requirements.exists():
        return _image_like_environment(work / "image", image_env)
    digest = hashlib.sha256(str(image_env.resolve()).encode() + requirements.read_bytes())
    for wheel in sorted((unpacked / "code" / "wheels").glob("*.whl")):
        digest.update(wheel.name.encode() + str(wheel.stat().st_size).encode())
    cached = CHECK_ENVIRONMENTS / digest.hexdigest()[:16]
    if not (cached / ".installed").exists():
        CHECK_ENVIRONMENTS.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(dir=CHECK_ENVIRONMENTS))
        python = _image_like_environment(staging, image_env)
        install = offline(str(python), "-m", "pip", "install", "--quiet", "-r", str(requirements), cwd=work)
        if install.returncode != 0:
            shutil.rmtree(staging, ignore_errors=True)
            raise _StartFailed(f"code/requirements.txt does not install offline: {install.stderr[-800:]}")
        (staging / ".installed").touch()
        try:  # only bin/python is used, a link to the base interpreter: the venv may move
            staging.rename(cached)
        except OSError:  # another test worker installed the same wheels first
            shutil.rmtree(staging, ignore_errors=True)
    return cached / "bin" / "python"


def check(
    model: Any, *, work: Path, samples: tuple[str, ...] = SAMPLES, max_bytes: int | None = None
) -> CheckResult:
    """Pack `model` (a config ModelSource) as synth does, then serve `samples` from it offline in
    an environment of the target image's packages only."""
    byo = packer()
    source = source_of(model)
    image_env = byo.IMAGE_ENVIRONMENTS[source.image]
    if not (image_env / ".installed").exists():
        raise RuntimeError(f"{image_env.name} is missing: `make setup` builds it")
    version = f"{sys.version_info.major}.{sys.version_info.minor}"
    limits = {} if max_bytes is None else {"max_bytes": max_bytes}
    try:  # the wheels for this interpreter, not the image's 3.12: they must install here
        # Fast compression: the check reads the archive once; synth packs at level 9.
        archive = byo.pack(source, work / "model.tar.gz", python_version=version, compresslevel=1, **limits)
    except byo.Refused as refusal:
        return CheckResult(False, str(refusal), [], 0)
    unpacked = work / "opt-ml-model"
    with tarfile.open(archive) as tar:
        tar.extractall(unpacked, filter="data")
    try:
        python = _started_container(unpacked, image_env, work)
    except _StartFailed as failure:
        return CheckResult(False, str(failure), [], 0)
    served = offline(str(python), "-c", SERVE, str(unpacked), json.dumps(list(samples)), cwd=work)
    lines = served.stdout.strip().splitlines()
    report = json.loads(lines[-1]) if lines and lines[-1].startswith("{") else None
    if report is None:
        return CheckResult(False, f"the model failed to load or serve: {served.stderr.strip()[-800:]}", [], 0)
    if not report["ok"]:
        return CheckResult(False, report["reason"], [], 0)
    largest = max(answer["bytes"] for answer in report["answers"])
    if largest > byo.MAX_RESPONSE_BYTES:
        return CheckResult(
            False, f"a {len(samples)}-text answer is {largest} bytes, over InvokeEndpoint's 6 MB", [], 0
        )
    return CheckResult(True, "", report["answers"], archive.stat().st_size)


def configured_models(config: Any) -> dict[str, Any]:
    """`route` or `route/variant` -> the ModelSource each BYO variant serves."""
    models = {}
    for route in config.routes:
        variants = route.endpoint.production_variants
        for variant in variants:
            model = route.endpoint.model_of(variant)
            if model is not None and model.kind != "intent":
                models[route.name if len(variants) == 1 else f"{route.name}/{variant.name}"] = model
    return models


# --- make check-model / make new-route -----------------------------------------------------------

CDK_JSON = ROOT / "cdk.json"
# Where each image runs by default: the PyTorch models on the GPU instance the default route uses,
# a joblib pipeline on a CPU instance (the scikit-learn image is CPU only).
DEFAULT_INSTANCE = {"pytorch": "ml.g5.xlarge", "sklearn": "ml.m5.large"}
# The SDK's name for the scikit-learn image Sluice packs for (model/container/ lists its packages).
SKLEARN_IMAGE = {"framework": "sklearn", "version": "1.4-2-py312", "py_version": "py3"}


class Refusal(Exception):
    """What new-route or check-model will not do, said plainly (exit status 2)."""


def guess_kind(path: Path) -> tuple[str, str | None]:
    """The kind (and task) a model directory's files say it is."""
    if (path / "inference.py").is_file():
        return "pytorch", None
    if (path / "model.joblib").is_file():
        return "sklearn", None
    config = path / "config.json"
    if config.is_file():
        architectures = json.loads(config.read_text()).get("architectures") or []
        if any(name.endswith("ForSequenceClassification") for name in architectures):
            return "transformers", "text-classification"
        if any(name.endswith("ForTokenClassification") for name in architectures):
            return "transformers", "token-classification"
        return "transformers", "feature-extraction"
    raise Refusal(
        f"{path}: unknown format: expected inference.py (pytorch), model.joblib (sklearn) or "
        "config.json with weights (transformers); or name KIND"
    )


def route_entry(name: str, model: Any, version: str) -> dict[str, Any]:
    """The route new-route writes into cdk.json."""
    image = "sklearn" if model.kind == "sklearn" else "pytorch"
    endpoint: dict[str, Any] = {
        "instance_type": DEFAULT_INSTANCE[image],
        "initial_instance_count": 1,
        "variant_name": "primary",
        "model": model.model_dump(exclude_none=True),
    }
    if image == "sklearn":
        endpoint["image"] = SKLEARN_IMAGE
    what = model.task or model.kind
    return {
        "name": name,
        "description": f"{what} model from {model.path} ({version}), added by make new-route",
        "endpoint": endpoint,
    }


def _relative(path: Path) -> str:
    resolved = path.resolve()
    if not resolved.is_relative_to(ROOT):
        raise Refusal(f"{path} is outside this checkout: put the model directory under the repository")
    return resolved.relative_to(ROOT).as_posix()


def new_route(
    name: str,
    path: Path,
    *,
    kind: str | None,
    task: str | None,
    cdk_json: Path = CDK_JSON,
    replace: bool = False,
    smoke: bool = True,
    sample: str = SAMPLES[0],
    echo: Any = print,
) -> dict[str, Any]:
    """Validate, pack, check, write the route into `cdk_json`, then (smoke) serve it locally
    through the API and return what the model answered."""
    from sluice.config import DeploymentConfig, ModelSource
    from sluice_local.platform import _merged

    byo = packer()
    if not path.is_dir():
        raise Refusal(f"{path} is not a directory")
    if kind is None:
        kind, guessed_task = guess_kind(path)
        task = task or guessed_task
    if kind not in byo.KINDS[1:]:
        raise Refusal(f"unknown kind {kind!r}: expected one of {', '.join(byo.KINDS[1:])}")
    try:
        model = ModelSource(kind=kind, path=_relative(path), task=task)  # type: ignore[arg-type]
    except ValueError as error:
        raise Refusal(str(error).splitlines()[-1] if "\n" in str(error) else str(error)) from None
    source = source_of(model)
    problems = byo.validate(source)
    if problems:
        raise Refusal(f"{path} cannot be served: " + "; ".join(problems))
    context = json.loads(cdk_json.read_text())
    routes = context["context"]["sluice"].setdefault("routes", [])
    if any(route["name"] == name for route in routes) and not replace:
        raise Refusal(f"route {name} exists in {cdk_json.name}: choose another NAME (or --replace)")
    version = byo.model_version(source)
    entry = route_entry(name, model, version)
    sluice = _merged(context["context"]["sluice"], {"routes": [entry]})
    try:  # the same model synth validates cdk.json with
        DeploymentConfig.model_validate(sluice)
    except ValueError as error:
        raise Refusal(f"the route does not fit the deployment config: {error}") from None

    echo(f"==> {name}: a {kind} model{f' ({task})' if task else ''} from {model.path}, version {version}")
    artifact = byo.pack(source, ARTIFACTS / name / "model.tar.gz")
    image = byo.IMAGES[source.image]
    echo(
        f"    packed {artifact.relative_to(ROOT)} ({artifact.stat().st_size / 1e6:.1f} MB) for the "
        f"{image['framework']} {image['version']} image (Python {image['python']})"
    )
    with tempfile.TemporaryDirectory() as work:
        result = check(model, work=Path(work), samples=(sample, *SAMPLES[1:]))
    if not result.ok:
        raise Refusal(f"the pre-deploy check failed: {result.reason}")
    echo("    pre-deploy check: loads offline with only the image's packages and answers a batch")
    context["context"]["sluice"] = sluice
    cdk_json.write_text(json.dumps(context, indent=2) + "\n")
    echo(f"    wrote route {name} into {cdk_json.name}")
    if not smoke:
        return {"route": name, "model_version": version}
    return smoke_request(entry, sample=sample, echo=echo)


def smoke_request(entry: dict[str, Any], *, sample: str, echo: Any = print) -> dict[str, Any]:
    """Start the local platform with the route and send one sync request through the API."""
    import httpx

    from sluice_local.launch import platform_process

    echo(f"==> starting the local platform with route {entry['name']} (a minute or so)")
    override = json.dumps({"routes": [entry]})
    with (
        platform_process("--config-override", override) as outputs,
        httpx.Client(base_url=outputs["ApiUrl"], timeout=60) as http,
    ):
        started = time.perf_counter()
        answer = http.post(
            "/v1/inferences",
            json={"route": entry["name"], "input": {"text": sample}, "mode": "sync"},
            headers={"x-api-key": outputs["ApiKey"]},
        )
        latency_ms = (time.perf_counter() - started) * 1000
    if answer.status_code != 200:
        raise Refusal(f"the smoke request answered {answer.status_code}: {answer.text[:500]}")
    body = answer.json()
    echo(
        f"    POST /v1/inferences -> 200 in {latency_ms:.0f} ms (variant {body.get('variant')}, model {body.get('model_version')})"
    )
    echo(f"    redacted before the model saw it: {body.get('pii') or 'nothing'}")
    echo(f"    the model answered: {json.dumps(body.get('output'))[:600]}")
    return {**body, "latency_ms": latency_ms}


def check_model(route: str, *, echo: Any = print) -> bool:
    from sluice_local.platform import load_config

    models = configured_models(load_config())
    chosen = sorted(models) if route in ("", "all") else [route]
    unknown = [name for name in chosen if name not in models]
    if unknown:
        raise Refusal(f"no packed model for {unknown}: routes with one are {sorted(models)}")
    ok = True
    for name in chosen:
        started = time.perf_counter()
        with tempfile.TemporaryDirectory() as work:
            result = check(models[name], work=Path(work))
        took = time.perf_counter() - started
        if result.ok:
            answer = json.dumps(result.answers[0]["answer"]["predictions"][0])
            echo(
                f"{name}: ok in {took:.0f} s ({result.artifact_bytes / 1e6:.1f} MB artifact); first answer {answer[:200]}"
            )
        else:
            ok = False
            echo(f"{name}: REFUSED: {result.reason}")
    return ok


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    commands = parser.add_subparsers(dest="command", required=True)
    checking = commands.add_parser("check-model", help="the pre-deploy check of a configured route's model")
    checking.add_argument("--route", default="all", help="route, route/variant, or all")
    adding = commands.add_parser("new-route", help="validate, pack, check and add a route, then smoke it")
    adding.add_argument("--name", required=True)
    adding.add_argument("--model", type=Path, required=True, help="the model directory (in this checkout)")
    adding.add_argument("--kind", help="transformers, sklearn or pytorch (default: from the files)")
    adding.add_argument("--task", help="a transformers model's task (default: from config.json)")
    adding.add_argument("--cdk-json", type=Path, default=CDK_JSON)
    adding.add_argument("--replace", action="store_true", help="replace a route of the same name")
    adding.add_argument("--no-smoke", action="store_true", help="skip the local platform's smoke request")
    adding.add_argument("--sample", default=SAMPLES[0], help="the smoke request's text")
    args = parser.parse_args(argv)
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    try:
        if args.command == "check-model":
            return 0 if check_model(args.route) else 1
        new_route(
            args.name,
            args.model,
            kind=args.kind or None,
            task=args.task or None,
            cdk_json=args.cdk_json,
            replace=args.replace,
            smoke=not args.no_smoke,
            sample=args.sample,
        )
    except Refusal as refusal:
        print(f"refused: {refusal}", file=sys.stderr)
        return 2
    except packer().Refused as refusal:
        print(f"refused: {refusal}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
