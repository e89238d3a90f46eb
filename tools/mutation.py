"""`make mutation`: mutation testing (mutmut 3) of the modules that guard tenants, budgets,
idempotency, personal data, retries and exactly-once accounting, against the fast suites only.

mutmut names a mutant after its file's module path and only knows sources under `./`, `src/` or
`source/`, while the library lives in `layers/`. So the run happens in a staging directory,
`.mutation/`, where `src` links to `layers` and `tests` to `tests`, and this script writes the
mutmut configuration there from GROUPS below. mutmut copies both into `.mutation/mutants/`,
runs the selected tests once to learn which tests reach which function, then runs each mutant
against only those tests, in at most two forked workers (the machine is shared).

    tools/mutation.py run [--group NAME ...] [--keep]   # mutate, test, then report
    tools/mutation.py report                            # the report of the last run again

The report (`.mutation/report.md`, and a summary on stdout) gives the score per module and every
surviving mutant as a diff; docs/mutation.md explains the survivors that cannot change behaviour.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import time
from collections import Counter, defaultdict
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
STAGE = ROOT / ".mutation"
MUTANTS = STAGE / "mutants"
MUTMUT = Path(sys.executable).parent / "mutmut"
MAX_CHILDREN = 2


@dataclass(frozen=True)
class Group:
    """Modules mutated together, and the fast tests that exercise them."""

    modules: tuple[str, ...]
    tests: tuple[str, ...]


PII_REQUEST_PATH = "tests/functional/test_pii_on_the_request_path.py"
API_TESTS = (
    "tests/unit/test_contracts.py",
    "tests/unit/test_route_limits.py",
    "tests/functional/test_api_requests.py",
    "tests/functional/test_hostile_input.py",
    PII_REQUEST_PATH,
    "tests/functional/test_pii_budget_overrun.py",
    "tests/functional/test_cost_on_the_request_path.py",
)
WORKER_TESTS = (
    "tests/functional/test_worker_failures.py",
    "tests/functional/test_fault_accounting.py",
    "tests/functional/test_async_flow.py",
    "tests/functional/test_routing_faults.py",
)

# Paths under layers/sluice, most important first. Each group's tests are the fast ones that can
# reach its modules (the union is what mutmut runs once to learn which test calls which
# function); each mutant then runs only the tests that called its function, stopping at the
# first failure.
GROUPS: dict[str, Group] = {
    "serving": Group(
        modules=("serving/api.py", "serving/service.py", "serving/idempotency.py"), tests=API_TESTS
    ),
    "pii": Group(
        modules=(
            "pii/input_redactor.py",
            "pii/detection.py",
            "pii/redaction.py",
            "pii/policy.py",
            "pii/spans.py",
            "pii/normalize.py",
            "pii/keys.py",
            "pii/vault.py",
            "pii/logging.py",
        ),
        tests=("tests/unit/pii", PII_REQUEST_PATH),
    ),
    "adapters": Group(
        modules=("adapters/dynamodb_jobs.py",),
        tests=("tests/functional/test_api_requests.py", *WORKER_TESTS, "tests/functional/test_redrive.py"),
    ),
    "routing": Group(
        modules=("routing/breaker.py",),
        tests=("tests/unit/test_breaker.py", "tests/functional/test_routing_faults.py"),
    ),
    "uploads": Group(
        modules=("uploads/batches.py", "uploads/reader.py"),
        tests=("tests/functional/test_batch_ingestion.py",),
    ),
    "jobs": Group(modules=("jobs/worker.py",), tests=WORKER_TESTS),
    "cost": Group(
        modules=("cost/budgets.py",),
        tests=(
            "tests/functional/test_cost_budgets_concurrency.py",
            "tests/functional/test_cost_on_the_request_path.py",
        ),
    ),
    "lifecycle": Group(modules=("lifecycle/gate.py",), tests=("tests/unit/lifecycle/test_golden_gate.py",)),
}


def write_config(groups: list[str]) -> None:
    """The staging directory: links to the sources and tests, and mutmut's configuration."""
    STAGE.mkdir(exist_ok=True)
    for name, target in (("src", "../layers"), ("tests", "../tests")):
        link = STAGE / name
        if not link.is_symlink():
            link.symlink_to(target, target_is_directory=True)
    # Tests find fixtures and sample events from their own path (`tests/..`): inside mutants/ that
    # is mutants/, so every other top-level entry of the project is linked there, read-only use.
    MUTANTS.mkdir(exist_ok=True)
    for entry in ROOT.iterdir():
        if entry.name in ("tests", ".git", ".mutation", "pyproject.toml") or entry.name.startswith(".venv"):
            continue
        link = MUTANTS / entry.name
        if not link.is_symlink() and not link.exists():
            link.symlink_to(entry)
    modules = [f"src/sluice/{module}" for group in groups for module in GROUPS[group].modules]
    tests = list(dict.fromkeys(test for group in groups for test in GROUPS[group].tests))
    lines = [
        "# Written by tools/mutation.py: edit GROUPS there, not this file.",
        "[mutmut]",
        "source_paths = src/sluice",
        "only_mutate =",
        *(f"    {module}" for module in modules),
        "pytest_add_cli_args_test_selection =",
        *(f"    {test}" for test in tests),
        # Prose only: a message line, a log line, a metric name. Tests check the stable code and
        # status of an error, not its wording (docs/mutation.md, "What is not mutated").
        "do_not_mutate_patterns =",
        r"    ^\s*f?\"[^\"]*\"\s*[,)]?\s*$",
        r"    logger\.(debug|info|warning|error|exception)\(",
        r"    metrics\.add_metric\(",
        # A mutant that hangs is stopped after (its tests' time + 1 s) x 8 CPU seconds.
        "timeout_multiplier = 4.0",
        "pytest_add_cli_args =",
        "    -p",
        "    no:cacheprovider",
        "    -W",
        "    ignore::DeprecationWarning",
        "",
        # pytest reads its options from here once mutmut has copied this file into mutants/.
        "[tool:pytest]",
        "addopts = --strict-markers",
        "markers =",
        "    e2e: starts the local platform on 127.0.0.1",
        "",
    ]
    (STAGE / "setup.cfg").write_text("\n".join(lines))


def run(groups: list[str], keep: bool) -> int:
    if not keep and MUTANTS.exists():
        # A fresh run by default: results kept from older code or tests would mislead.
        shutil.rmtree(MUTANTS)
    write_config(groups)
    print(f"==> mutmut over {', '.join(groups)} ({MAX_CHILDREN} workers); progress below", flush=True)
    started = time.monotonic()
    env = {**os.environ, "PYTHONDONTWRITEBYTECODE": "1", "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1"}
    code = subprocess.run(  # noqa: S603 (mutmut from this venv, fixed arguments)
        [str(MUTMUT), "run", "--max-children", str(MAX_CHILDREN)], cwd=STAGE, env=env, check=False
    ).returncode
    elapsed = time.monotonic() - started
    (STAGE / "last-run.json").write_text(json.dumps({"groups": groups, "seconds": round(elapsed)}))
    print(f"==> mutmut exited {code} after {elapsed / 60:.1f} min", flush=True)
    report()
    return code


# mutmut's exit codes per mutant (mutmut/models), as the report names them.
STATUS = {
    1: "killed",
    3: "killed",
    -24: "timeout",
    24: "timeout",
    -9: "timeout",
    0: "survived",
    5: "no tests",
    33: "no tests",
    34: "skipped",
    35: "suspicious",
    36: "timeout",
    37: "caught by type check",
    -11: "segfault",
    None: "not checked",
}


def report() -> None:
    """Score per module and every survivor with its diff, from mutmut's result files."""
    results: dict[str, Counter[str]] = defaultdict(Counter)
    survivors: dict[str, list[str]] = defaultdict(list)
    for meta in sorted(MUTANTS.rglob("*.py.meta")):
        module = str(meta.relative_to(MUTANTS / "src" / "sluice"))[: -len(".meta")]
        data = json.loads(meta.read_text())
        for name, exit_code in data["exit_code_by_key"].items():
            status = STATUS.get(exit_code, f"exit {exit_code}")
            results[module][status] += 1
            if status in ("survived", "no tests", "suspicious"):
                survivors[module].append(name)
    last = json.loads((STAGE / "last-run.json").read_text()) if (STAGE / "last-run.json").exists() else {}
    lines = [
        "# Mutation testing: last run",
        "",
        f"Groups: {', '.join(last.get('groups', []))}; {last.get('seconds', 0) / 60:.1f} min.",
        "",
        "| module | mutants | killed | timeout | survived | no tests | score |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for module, counts in sorted(results.items()):
        total = sum(counts.values())
        caught = counts["killed"] + counts["timeout"] + counts["caught by type check"]
        lines.append(
            f"| {module} | {total} | {counts['killed']} | {counts['timeout']} | {counts['survived']} "
            f"| {counts['no tests']} | {100 * caught / total:.0f}% |"
        )
    print("\n".join(lines[4:]), flush=True)
    lines += ["", "## Survivors", ""]
    for module, names in sorted(survivors.items()):
        lines += [f"### {module}", ""]
        for name in names:
            diff = subprocess.run(  # noqa: S603 (mutmut from this venv, a mutant name it listed)
                [str(MUTMUT), "show", name], cwd=STAGE, capture_output=True, text=True, check=False
            ).stdout
            lines += [f"`{name}`", "", "```diff", diff.strip(), "```", ""]
    (STAGE / "report.md").write_text("\n".join(lines))
    count = sum(len(names) for names in survivors.values())
    print(f"==> {count} survivors, each with its diff: {STAGE / 'report.md'}", flush=True)


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    commands = parser.add_subparsers(dest="command", required=True)
    run_command = commands.add_parser("run", help="mutate, test, report")
    run_command.add_argument("--group", action="append", choices=sorted(GROUPS), help="default: all")
    run_command.add_argument("--keep", action="store_true", help="resume: keep the last run's results")
    commands.add_parser("report", help="the report of the last run")
    args = parser.parse_args()
    if args.command == "report":
        report()
        return 0
    return run(args.group or list(GROUPS), args.keep)


if __name__ == "__main__":
    sys.exit(main())
