# Mutation testing (issue 19): mutmut 3 over the modules that guard tenants, budgets, idempotency,
# personal data, retries and exactly-once accounting, against the fast suites only. On demand,
# never in CI: it is CPU heavy, and runs two workers at most (the machine is shared).
# tools/mutation.py holds the module groups and their tests; docs/mutation.md the scores and the
# survivors that cannot change behaviour.
MUTATION_GROUPS ?=

.PHONY: mutation mutation-report

mutation: install  ## mutation testing of the guard modules (fast suites, 2 workers); MUTATION_GROUPS="serving pii" for a part
	@$(PY) tools/mutation.py run $(foreach group,$(MUTATION_GROUPS),--group $(group))

mutation-report: install  ## the last mutation run's scores and survivors again (.mutation/report.md)
	@$(PY) tools/mutation.py report
