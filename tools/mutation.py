"""`make mutation`: mutation testing (mutmut 3) of the modules that guard tenants, budgets,
idempotency, personal data, retries and exactly-once accounting, against the fast suites only.

mutmut names a mutant after its file's module path and only knows sources under `./`, `src/` or
`source/`, while the library lives in `layers/`. So each group of GROUPS below runs in a staging
directory of its own, `.mutation/<group>/`, where `src` links to `layers` and `tests` to `tests`,
with the mutmut configuration this script writes there. mutmut copies both into `mutants/`, runs
the group's tests once to learn which test reaches which function, then runs each mutant against
only those tests (stopping at the first failure), in at most two forked workers (the machine is
shared). Groups run one after another, each timed.

    tools/mutation.py run [--group NAME ...] [--keep]   # mutate, test, then report
    tools/mutation.py report                            # the report of the last run again

The report (`.mutation/report.md`, and a summary on stdout) gives the score per module and every
surviving mutant as a diff; docs/mutation.md explains the survivors that cannot change behaviour.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import subprocess
import sys
import time
from collections import Counter, defaultdict
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
STAGES = ROOT / ".mutation"
# Mutants judged equivalent (they cannot change behaviour), each pinned to the hash mutmut gives
# its function's source. See `seed_equivalents`.
EQUIVALENTS = ROOT / "tools" / "mutation_equivalents.json"
# mutmut's own code for a mutant it does not run ("skipped", 🔇); here: judged equivalent.
EQUIVALENT = 34
MUTMUT = Path(sys.executable).parent / "mutmut"
MAX_CHILDREN = 2


@dataclass(frozen=True)
class Group:
    """Modules mutated together, and the fast tests that exercise them."""

    modules: tuple[str, ...]
    tests: tuple[str, ...]


PII_REQUEST_PATH = "tests/functional/test_pii_on_the_request_path.py"
# Minutes of CPU per run (inputs up to 256 KB redacted in full, four times): a mutant reaching
# detection would run them again and again. The budget tests below overrun on purpose instead.
HEAVY = ("--deselect", f"{PII_REQUEST_PATH}::test_every_input_the_intent_route_accepts_is_redacted_in_time")
API_TESTS = (
    "tests/unit/test_contracts.py",
    "tests/unit/test_route_limits.py",
    "tests/unit/test_api_tenant_rules.py",
    "tests/unit/test_openapi_route_schema.py",
    "tests/functional/test_api_requests.py",
    "tests/functional/test_hostile_input.py",
    PII_REQUEST_PATH,
    "tests/functional/test_pii_budget_overrun.py",
    "tests/functional/test_cost_on_the_request_path.py",
    "tests/functional/test_idempotency_in_progress.py",
    "tests/functional/test_idempotency_ttl.py",
    "tests/functional/test_openapi_document.py",
    "tests/functional/test_openapi_request_schema.py",
    # What the request path audits and which correlation id it carries.
    "tests/functional/observability/test_audit_trail.py",
    "tests/functional/observability/test_correlation.py",
    # What it records besides the answer: metrics, job records, charges, the inference log; the
    # output guardrails and review on sync answers; the fallback route and variants.
    "tests/functional/test_request_accounting.py",
    "tests/functional/review/test_output_guardrails.py",
    "tests/functional/review/test_human_review.py",
    "tests/functional/lifecycle/test_feedback_api.py",
    "tests/functional/lifecycle/test_ab_report.py::test_a_sync_answer_through_the_api_is_logged_with_its_latency_and_confidence",
    "tests/functional/test_routing_faults.py",
    *HEAVY,
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
        tests=("tests/unit/pii", PII_REQUEST_PATH, "tests/functional/test_pii_budget_overrun.py", *HEAVY),
    ),
    "adapters": Group(
        modules=("adapters/dynamodb_jobs.py",),
        tests=(
            # The store's contract on moto: every function's mutants in milliseconds.
            "tests/unit/adapters/test_dynamodb_job_store.py",
            "tests/functional/test_api_requests.py",
            *WORKER_TESTS,
            "tests/functional/test_redrive.py",
            # The batch writes of ingestion, and the hand-over and sweep of asynchronous jobs.
            "tests/functional/test_batch_ingestion.py",
            "tests/functional/test_async_endpoints.py",
            "tests/functional/test_cost_async_jobs.py",
        ),
    ),
    "routing": Group(
        modules=("routing/breaker.py",),
        tests=("tests/unit/test_breaker.py", "tests/functional/test_routing_faults.py"),
    ),
    "uploads": Group(
        modules=("uploads/batches.py", "uploads/reader.py"),
        tests=("tests/unit/test_upload_reader.py", "tests/functional/test_batch_ingestion.py"),
    ),
    "jobs": Group(
        modules=("jobs/worker.py",),
        # The worker's unit tests first: each delivery's outcome on the real store, in milliseconds.
        tests=("tests/unit/jobs/test_job_worker.py", *WORKER_TESTS),
    ),
    "cost": Group(
        modules=("cost/budgets.py",),
        tests=(
            # Every function's mutants in milliseconds; the concurrency test took 110 s per survivor.
            "tests/unit/test_cost_budget_guard.py",
            "tests/functional/test_cost_budgets_concurrency.py",
            "tests/functional/test_cost_on_the_request_path.py",
        ),
    ),
    "lifecycle": Group(modules=("lifecycle/gate.py",), tests=("tests/unit/lifecycle/test_golden_gate.py",)),
}


def write_config(group: str, load: float) -> Path:
    """The group's staging directory: links to the sources and tests, and mutmut's configuration."""
    stage = STAGES / group
    mutants = stage / "mutants"
    mutants.mkdir(parents=True, exist_ok=True)
    for name, target in (("src", ROOT / "layers"), ("tests", ROOT / "tests")):
        link = stage / name
        if not link.is_symlink():
            link.symlink_to(target, target_is_directory=True)
    # Tests find fixtures and sample events from their own path (`tests/..`): inside mutants/ that
    # is mutants/, so every other top-level entry of the project is linked there, read-only use.
    for entry in ROOT.iterdir():
        if entry.name in ("tests", ".git", ".mutation", "pyproject.toml") or entry.name.startswith(".venv"):
            continue
        link = mutants / entry.name
        if not link.is_symlink() and not link.exists():
            link.symlink_to(entry)
    lines = [
        "# Written by tools/mutation.py: edit GROUPS there, not this file.",
        "[mutmut]",
        "source_paths = src/sluice",
        "only_mutate =",
        *(f"    src/sluice/{module}" for module in GROUPS[group].modules),
        "pytest_add_cli_args_test_selection =",
        *(f"    {test}" for test in GROUPS[group].tests),
        # Prose only: a message line, a log line, a metric name. Tests check the stable code and
        # status of an error, not its wording (docs/mutation.md, "What is not mutated").
        "do_not_mutate_patterns =",
        r"    ^\s*f?\"[^\"]*\"\s*[,)]?\s*$",
        r"    logger\.(debug|info|warning|error|exception)\(",
        r"    metrics\.add_metric\(",
        # The OpenAPI document's prose: a route's summary, a parameter's or a response's description.
        r"    ^\s*(summary|description)=",
        r"    ^\s*\d*:?\s*\{?\"description\": \"[^\"]*\",?\s*$",
        # A mutant is stopped as hanging after (its tests' time + constant) x 4 CPU seconds, or
        # half that in wall time. mutmut times only the test bodies, not their fixtures (a moto
        # platform is 0.3 CPU s per test), and on a shared machine at nice 15 a mutant gets a
        # fraction of a core: with 60 s, survivors running a hundred API tests were stopped
        # after 141 s of wall time and counted as caught. So a busy machine gets 300 s; an idle
        # one 60 s, where a real hang (`j = 1` in a loop) would otherwise hold a worker 10 min.
        f"timeout_constant = {timeout_constant(load)}",
        "timeout_multiplier = 2.0",
        # A mutant that strict mypy refuses (the project's own gate, pyproject.toml) could never be
        # committed: mutmut counts it as caught without running a test. `unused-ignore` only
        # concerns mutmut's own generated lines.
        "type_check_command =",
        f"    {sys.executable}",
        "    -m",
        "    mypy",
        "    --config-file",
        f"    {ROOT / 'pyproject.toml'}",
        "    --cache-dir",
        f"    {STAGES / group / 'mypy-cache'}",
        "    --disable-error-code",
        "    unused-ignore",
        "    --output",
        "    json",
        *(f"    src/sluice/{module}" for module in GROUPS[group].modules),
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
    (stage / "setup.cfg").write_text("\n".join(lines))
    return stage


def timeout_constant(load: float) -> float:
    """60 s where less than half the machine was busy when the run began (`load`, the one-minute
    load average then, before this run's own work), 300 s where more was."""
    return 60.0 if load < (os.cpu_count() or 1) / 2 else 300.0


def seed_equivalents(stage: Path, modules: tuple[str, ...]) -> int:
    """Give mutmut the verdicts already made, so that it does not run those mutants again.

    An equivalent mutant survives every test by definition, and a survivor is the dearest mutant
    there is: it runs every test that reaches its function (a survivor of the request guards,
    157 API tests, about 45 CPU seconds). The verdict holds for the code it was made on, so each
    is pinned to mutmut's hash of its function: a function that changed is mutated and tested
    afresh, and its survivors need a verdict again. mutmut's own way, `# pragma: no mutate`,
    skips every mutant of a line (the killable ones too) and never notices that the line changed.

    The seed is a mutmut result file (`<module>.meta`) holding only these functions' hashes and
    verdicts. mutmut generates the mutants, keeps the result of each mutant whose function hash
    is unchanged, and runs only mutants without one. Returns how many verdicts were seeded.
    """
    verdicts = _verdicts()
    seeded = 0
    for module in modules:
        dotted = "sluice." + module.removesuffix(".py").replace("/", ".")
        hashes: dict[str, str] = {}
        codes: dict[str, int] = {}
        for function, verdict in verdicts.items():
            owner, _, name = function.rpartition(".")
            if owner != dotted:
                continue
            hashes[name] = verdict["hash"]
            codes |= {f"{function}__mutmut_{number}": EQUIVALENT for number in verdict["equivalent"]}
        if not codes:
            continue
        meta = stage / "mutants" / "src" / "sluice" / f"{module}.meta"
        meta.parent.mkdir(parents=True, exist_ok=True)
        meta.write_text(
            json.dumps(
                {
                    "exit_code_by_key": codes,
                    "hash_by_function_name": hashes,
                    "type_check_error_by_key": {},
                    "durations_by_key": {},
                    "estimated_durations_by_key": {},
                }
            )
        )
        seeded += len(codes)
    return seeded


def run(groups: list[str], keep: bool, mutants: list[str]) -> int:
    worst = 0
    load_at_start = os.getloadavg()[0]
    for group in groups:
        stage = STAGES / group
        killers = stage / "killers.jsonl"
        if not keep and not mutants:
            # A fresh run by default: results kept from older code or tests would mislead.
            if (stage / "mutants").exists():
                shutil.rmtree(stage / "mutants")
            killers.unlink(missing_ok=True)
        write_config(group, load_at_start)
        seeded = 0 if keep or mutants else seed_equivalents(stage, GROUPS[group].modules)
        modules = ", ".join(GROUPS[group].modules)
        print(
            f"==> {group}: mutmut over {modules} ({MAX_CHILDREN} workers, hang limit "
            f"{timeout_constant(load_at_start):.0f} s + the tests' time; {seeded} mutants judged "
            "equivalent before, not run again unless their function changed)",
            flush=True,
        )
        started = time.monotonic()
        load_before = os.getloadavg()[0]
        cpu_before = _children_cpu()
        env = {
            **os.environ,
            "PYTHONDONTWRITEBYTECODE": "1",
            "HF_HUB_OFFLINE": "1",
            "TRANSFORMERS_OFFLINE": "1",
            # tests/mutation_plugin.py: warm the fork server once, run a mutant's likely killers
            # first (the tests that killed its function's earlier mutants, recorded here).
            "SLUICE_MUTATION": "1",
            "SLUICE_MUTATION_KILLERS": str(killers),
        }
        code = subprocess.run(  # noqa: S603 (mutmut from this venv, fixed arguments)
            [str(MUTMUT), "run", "--max-children", str(MAX_CHILDREN), *mutants],
            cwd=stage,
            env=env,
            check=False,
        ).returncode
        elapsed = time.monotonic() - started
        cpu = _children_cpu() - cpu_before
        load = (load_before + os.getloadavg()[0]) / 2
        (stage / "last-run.json").write_text(
            json.dumps(
                {"seconds": round(elapsed), "cpu_seconds": round(cpu), "load": round(load, 1), "exit": code}
            )
        )
        print(
            f"==> {group}: mutmut exited {code} after {elapsed / 60:.1f} min, {cpu / 60:.1f} CPU min "
            f"(load average about {load:.1f}; alone on 2 cores: about {cpu / MAX_CHILDREN / 60:.1f} min)",
            flush=True,
        )
        worst = worst or code
    report()
    return worst


def _children_cpu() -> float:
    """CPU seconds of every finished child: mutmut, its fork server and each mutant's process.
    Under load the wall time says more about the neighbours than about the run."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


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
    EQUIVALENT: "equivalent",
    35: "suspicious",
    36: "timeout",
    37: "caught by type check",
    -11: "segfault",
    None: "not checked",
}


def report() -> None:
    """Score per module and every survivor with its diff, from mutmut's result files."""
    results: dict[str, Counter[str]] = defaultdict(Counter)
    survivors: dict[str, list[tuple[Path, str]]] = defaultdict(list)
    statuses: dict[str, str] = {}
    timings: list[str] = []
    for group in GROUPS:
        stage = STAGES / group
        mutants = stage / "mutants"
        if (stage / "last-run.json").exists():
            last = json.loads((stage / "last-run.json").read_text())
            cpu = (
                f", {last['cpu_seconds'] / 60:.1f} CPU min at load {last['load']}"
                if "cpu_seconds" in last
                else ""
            )
            timings.append(f"{group} {last['seconds'] / 60:.1f} min{cpu} (exit {last['exit']})")
        for meta in sorted(mutants.rglob("*.py.meta")) if mutants.exists() else ():
            module = str(meta.relative_to(mutants / "src" / "sluice"))[: -len(".meta")]
            data = json.loads(meta.read_text())
            for name, exit_code in data["exit_code_by_key"].items():
                status = STATUS.get(exit_code, f"exit {exit_code}")
                statuses[name] = status
                results[module][status] += 1
                if status in ("survived", "no tests", "suspicious", "not checked"):
                    survivors[module].append((stage, name))
    lines = [
        "# Mutation testing: last run",
        "",
        f"Time per group: {'; '.join(timings) or 'none run'}.",
        "",
        "| module | mutants | killed | mypy | timeout | equivalent | survived | no tests | not checked "
        "| score | tests only |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for module, counts in sorted(results.items()):
        total = sum(counts.values())
        caught = counts["killed"] + counts["timeout"] + counts["caught by type check"]
        # The score leaves out what no test could kill: mutants judged equivalent.
        checked = total - counts["not checked"] - counts["equivalent"]
        score = f"{100 * caught / checked:.0f}%" if checked else "-"
        # Without mypy's refusals: what the tests themselves catch.
        tested = checked - counts["caught by type check"]
        by_tests = counts["killed"] + counts["timeout"]
        tests_only = f"{100 * by_tests / tested:.0f}%" if tested else "-"
        lines.append(
            f"| {module} | {total} | {counts['killed']} | {counts['caught by type check']} "
            f"| {counts['timeout']} | {counts['equivalent']} | {counts['survived']} "
            f"| {counts['no tests']} | {counts['not checked']} | {score} | {tests_only} |"
        )
    print("\n".join(lines[2:]), flush=True)
    verdicts = _verdicts()
    contradicted = _contradicted_verdicts(verdicts, statuses)
    if contradicted:
        print(
            f"==> {len(contradicted)} mutants judged equivalent were caught this run (their function "
            f"changed, and its mutants were numbered anew, or the verdict was wrong): "
            f"{', '.join(sorted(contradicted))}. Update {EQUIVALENTS.relative_to(ROOT)}.",
            flush=True,
        )
    lines += ["", "## Survivors", ""]
    diffs: dict[str, str] = {}
    for stage in {stage for found in survivors.values() for stage, _ in found}:
        diffs |= _diffs(stage, [name for found in survivors.values() for s, name in found if s == stage])
    for module, found in sorted(survivors.items()):
        lines += [f"### {module}", ""]
        for _, name in found:
            lines += [f"`{name}`", "", "```diff", diffs.get(name, "").strip(), "```", ""]
    lines += ["## Judged equivalent (not run again while their function is unchanged)", ""]
    for function, verdict in sorted(verdicts.items()):
        for number, why in verdict["equivalent"].items():
            name = f"{function}__mutmut_{number}"
            if statuses.get(name) == "equivalent":
                lines.append(f"- `{name}`: {why}")
    STAGES.mkdir(exist_ok=True)
    (STAGES / "report.md").write_text("\n".join(lines))
    count = sum(len(found) for found in survivors.values())
    print(
        f"==> {count} survivors or untested mutants, each with its diff: {STAGES / 'report.md'}", flush=True
    )


def _verdicts() -> dict[str, Any]:
    """tools/mutation_equivalents.json: per function, its hash and its equivalent mutants' reasons."""
    return json.loads(EQUIVALENTS.read_text()) if EQUIVALENTS.exists() else {}


def _contradicted_verdicts(verdicts: dict[str, Any], statuses: dict[str, str]) -> set[str]:
    """Mutants judged equivalent that the last run caught: a test, mypy or a timeout stopped them."""
    caught = ("killed", "timeout", "caught by type check")
    return {
        name
        for function, verdict in verdicts.items()
        for number in verdict["equivalent"]
        if statuses.get(name := f"{function}__mutmut_{number}") in caught
    }


# One interpreter per stage for all its diffs (`mutmut show` would start one per mutant).
_DIFFS = """
import json, sys
from mutmut.__main__ import find_mutant, get_diff_for_mutant
print(json.dumps({name: get_diff_for_mutant(name, path=find_mutant(name).path) for name in sys.argv[1:]}))
"""


def _diffs(stage: Path, names: list[str]) -> dict[str, str]:
    done = subprocess.run(  # noqa: S603 (this venv's interpreter, mutant names mutmut listed)
        [sys.executable, "-c", _DIFFS, *names], cwd=stage, capture_output=True, text=True, check=False
    )
    if done.returncode != 0:
        return {name: f"(no diff: {done.stderr.strip().splitlines()[-1:]})" for name in names}
    diffs: dict[str, str] = json.loads(done.stdout.strip().splitlines()[-1])
    return diffs


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    commands = parser.add_subparsers(dest="command", required=True)
    run_command = commands.add_parser("run", help="mutate, test, report")
    run_command.add_argument("--group", action="append", choices=sorted(GROUPS), help="default: all")
    run_command.add_argument("--keep", action="store_true", help="resume: keep the last run's results")
    run_command.add_argument(
        "--mutant",
        action="append",
        default=[],
        help="(again) only these mutants, by name or glob, e.g. 'sluice.serving.api.x_caller_of*'; "
        "keeps the other results",
    )
    commands.add_parser("report", help="the report of the last run")
    args = parser.parse_args()
    if args.command == "report":
        report()
        return 0
    return run(args.group or list(GROUPS), args.keep, args.mutant)


if __name__ == "__main__":
    sys.exit(main())
