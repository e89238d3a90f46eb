"""The model artifact serves inside the SageMaker PyTorch image, offline, as it is shipped.

The endpoint runs with network isolation and the image pip-installs code/requirements.txt at start,
so an artifact that needs the index (sentence-transformers is not in the image) never starts. This
packs model.tar.gz as synth does, unpacks it into an environment holding only the image's own
packages (model/container/*.txt, built by `make test`), installs what the artifact carries with no
index and no network (a network namespace of its own), then runs the handler on a request.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import sysconfig
import tarfile
from pathlib import Path

import pytest

from infra.bundling import model_packager

ROOT = Path(__file__).resolve().parents[2]
MODEL_DIR = ROOT / ".sluice" / "model"
IMAGE_ENV = ROOT / ".venv-container"

SERVE = """
import json, sys
sys.path.insert(0, sys.argv[1] + "/code")
import inference
model = inference.model_fn(sys.argv[1])
body = json.dumps({"instances": [{"text": "I still have not received my new card"}], "top_k": 3})
data = inference.input_fn(body, "application/json")
answer, content_type = inference.output_fn(inference.predict_fn(data, model), "application/json")
print(json.dumps({"content_type": content_type, "answer": json.loads(answer)}))
"""


def _image_like_environment(path: Path) -> Path:
    """A fresh interpreter environment that sees the image's packages and nothing else.

    The image's packages are installed once in .venv-container; a .pth file lends them to a new,
    empty venv, so each run installs the artifact's wheels into a clean environment of its own.
    """
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(path)], check=True)  # noqa: S603
    image_site = next((IMAGE_ENV / "lib").glob("python3.*/site-packages"))
    site = Path(sysconfig.get_path("purelib", vars={"base": str(path), "platbase": str(path)}))
    (site / "_image_packages.pth").write_text(f"{image_site}\n")
    return path / "bin" / "python"


def _offline(*argv: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    """Run with no network at all: a network namespace with only a loopback that is down."""
    unshare = shutil.which("unshare")
    assert unshare, "util-linux unshare is needed to cut the network"
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


def _pip_install(python: Path, requirements: Path, *, cwd: Path) -> subprocess.CompletedProcess[str]:
    """The container's start-up step, `pip install -r code/requirements.txt`, offline."""
    return _offline(str(python), "-m", "pip", "install", "--quiet", "-r", str(requirements), cwd=cwd)


@pytest.fixture(scope="module")
def unpacked(tmp_path_factory: pytest.TempPathFactory) -> Path:
    if not (MODEL_DIR / "metrics.json").exists() or not (IMAGE_ENV / ".installed").exists():
        pytest.fail("needs the trained model and .venv-container: run `make test`, which builds both")
    packager = model_packager()
    version = f"{sys.version_info.major}.{sys.version_info.minor}"
    wheels = packager.wheel_cache(version)
    if not wheels.exists():
        pytest.fail(f"no artifact wheels for Python {version} in .build/: run `make test`")
    # Given the artifact packed as synth packs it, with wheels for this interpreter instead of 3.12
    work = tmp_path_factory.mktemp("artifact")
    archive = packager.package(
        MODEL_DIR, work / "model.tar.gz", packager.stage_code(work / "staging", wheels)
    )
    model = work / "opt-ml-model"
    with tarfile.open(archive) as tar:
        tar.extractall(model, filter="data")
    return model


def test_the_artifact_carries_its_dependencies_and_asks_no_index(unpacked: Path) -> None:
    requirements = (unpacked / "code" / "requirements.txt").read_text().splitlines()
    assert "--no-index" in requirements
    assert any(line.startswith("sentence-transformers==") for line in requirements)
    assert list((unpacked / "code" / "wheels").glob("sentence_transformers-*.whl"))


def test_the_artifact_installs_and_serves_offline_in_the_images_environment(
    unpacked: Path, tmp_path: Path
) -> None:
    python = _image_like_environment(tmp_path / "image")
    # When the container's start-up step runs (pip install -r code/requirements.txt), from another cwd
    install = _pip_install(python, unpacked / "code" / "requirements.txt", cwd=tmp_path)
    assert install.returncode == 0, install.stderr[-3000:]
    # And the toolkit loads the handler and serves one request: model_fn, input_fn, predict_fn, output_fn
    served = _offline(str(python), "-c", SERVE, str(unpacked), cwd=tmp_path)
    assert served.returncode == 0, served.stderr[-3000:]
    result = json.loads(served.stdout.strip().splitlines()[-1])

    # Then it answers JSON with the card-arrival intent first, as the local endpoint does
    assert result["content_type"] == "application/json"
    (prediction,) = result["answer"]["predictions"]
    assert prediction["intents"][0]["label"] == "card_arrival"


def test_without_its_wheels_the_artifact_cannot_start(unpacked: Path, tmp_path: Path) -> None:
    # The check has teeth: the same install with the wheels missing fails, as it would on the endpoint
    stripped = tmp_path / "model"
    shutil.copytree(
        unpacked / "code", stripped / "code", ignore=shutil.ignore_patterns("sentence_transformers-*")
    )
    python = _image_like_environment(tmp_path / "image")
    install = _pip_install(python, stripped / "code" / "requirements.txt", cwd=tmp_path)
    assert install.returncode != 0
    assert (
        "sentence-transformers" in install.stderr.lower() or "sentence_transformers" in install.stderr.lower()
    )
