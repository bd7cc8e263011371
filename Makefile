# Kakunin: `make run` runs the main job, `make test` runs the checks. Both install what they need.
SHELL := /bin/bash
PYTHON ?= python3
UV_VERSION := 0.13.8
TOOLS := .tools
UV := $(TOOLS)/bin/uv
VENV := .venv
SRC := $(wildcard plugins dev dags tests)
BIN := $(VENV)/bin
export UV_PYTHON_DOWNLOADS := never
export UV_PROJECT_ENVIRONMENT := $(VENV)
DEMO_HOME := var/demo
DEMO_OUT := var/demo-out
AIRFLOW_ENV := AIRFLOW_HOME=$(CURDIR)/.airflow AIRFLOW__CORE__DAGS_FOLDER=$(CURDIR)/dags \
	AIRFLOW__CORE__PLUGINS_FOLDER=$(CURDIR)/plugins AIRFLOW__CORE__LOAD_EXAMPLES=False
DEMO_ENV = KAKUNIN_HOME=$(CURDIR)/$(DEMO_HOME) KAKUNIN_HMAC_KEY=$$(cat $(DEMO_HOME)/.hmac-key) \
	KAKUNIN_SIGNING_KEY=$$(cat $(DEMO_HOME)/.signing-key)

.PHONY: install run run-s3 airflow serve test lint format schemas bench chaos cluster-test clean browser
N ?= 1000000
CHAOS_SAMPLE ?=

## install: bootstrap uv (pinned) and sync .venv from uv.lock, nothing else
# Our own modules too (only what changed since is recompiled): a `kakunin lineage trace` imports ~40 of
# them, and without cached bytecode every command recompiled them all (measured: ~0.25 CPU-s of a trace).
install: $(VENV)/.synced
	@$(BIN)/python -m compileall -q plugins dags dev

$(UV):
	$(PYTHON) -m venv $(TOOLS)
	$(TOOLS)/bin/python -m pip install --quiet --disable-pip-version-check "uv==$(UV_VERSION)"

# --compile-bytecode: where PYTHONDONTWRITEBYTECODE is set (CI, containers) nothing would ever cache the .pyc files, and
# every process would recompile GX and Airflow on import (measured: `import great_expectations` 17.9 s instead of 6.5 s).
$(VENV)/.synced: $(UV) pyproject.toml uv.lock
	$(UV) sync --locked --compile-bytecode --python $(PYTHON)
	touch $@

## run: a fresh store and Airflow home; sample batches submitted; kakunin_intake run by Airflow; the outcome
run: install
	rm -rf $(DEMO_HOME) .airflow
	mkdir -p $(DEMO_HOME) .airflow
	umask 077 && $(BIN)/python -c "import secrets; print(secrets.token_hex(32))" > $(DEMO_HOME)/.hmac-key
	umask 077 && $(BIN)/kakunin lineage keygen --public-key-out $(DEMO_HOME)/public-key > $(DEMO_HOME)/.signing-key
	$(DEMO_ENV) $(BIN)/kakunin demo seed
	@echo "airflow db migrate (SQLite in .airflow/) ..."
	@$(AIRFLOW_ENV) $(BIN)/airflow db migrate > .airflow/db-migrate.log 2>&1 || (tail -20 .airflow/db-migrate.log; exit 1)
	@echo "airflow dags test kakunin_intake ..."
	@$(DEMO_ENV) $(AIRFLOW_ENV) $(BIN)/airflow dags test kakunin_intake > .airflow/dags-test.log 2>&1 \
		|| (tail -40 .airflow/dags-test.log; exit 1)
	@grep -q "DagRun Finished: dag_id=kakunin_intake.*state=success" .airflow/dags-test.log \
		|| (echo "kakunin_intake did not succeed; see .airflow/dags-test.log"; tail -40 .airflow/dags-test.log; exit 1)
	@echo "kakunin_intake: success (task log: .airflow/dags-test.log); its report task said:"
	@sed -n 's/.*kakunin notify (log): \(.*\) \[kakunin_airflow.notify\].*/  \1/p' .airflow/dags-test.log
	@echo "kakunin hold add (a litigation hold on the cp932 sample batch) ..."
	@$(DEMO_ENV) $(BIN)/kakunin hold add --dataset jp_customer_leads \
		--batch $$($(DEMO_ENV) $(BIN)/kakunin batches --json | $(BIN)/python -c \
		"import json,sys; print([b['batch_id'] for b in json.load(sys.stdin) if b['document_id'].endswith('900002')][0])") \
		--reason "demo: litigation hold on the cp932 batch" --by legal-team
	@AS_OF=$$($(BIN)/python -c "from kakunin.clock import today; from kakunin.durations import add_months; print(add_months(today(), 24))"); \
		echo "airflow dags test kakunin_retention (as of $$AS_OF, two years from now) ..."; \
		$(DEMO_ENV) $(AIRFLOW_ENV) $(BIN)/airflow dags test kakunin_retention -c "{\"as_of\": \"$$AS_OF\", \"allow_future\": true}" \
		> .airflow/retention-test.log 2>&1 || (tail -40 .airflow/retention-test.log; exit 1)
	@grep -q "DagRun Finished: dag_id=kakunin_retention.*state=success" .airflow/retention-test.log \
		|| (echo "kakunin_retention did not succeed; see .airflow/retention-test.log"; exit 1)
	@echo "kakunin_retention: success (task log: .airflow/retention-test.log)"
	@grep -o "checkpoint [0-9]* of [^ ]* signed by key [0-9a-f]*" .airflow/retention-test.log | head -1 \
		| sed 's/^/kakunin_retention: /' || true
	@echo "Data subjects: one person (花子) sent by two providers under two customer numbers ..."
	@$(DEMO_ENV) $(BIN)/kakunin demo people --out $(DEMO_HOME)/people
	@for batch in first second; do $(DEMO_ENV) $(BIN)/kakunin provenance submit $(DEMO_HOME)/people/$$batch > /dev/null || exit 1; done
	@$(DEMO_ENV) $(BIN)/kakunin intake run > /dev/null
	echo hanako.kakuu@example.invalid | $(DEMO_ENV) $(BIN)/kakunin subject find --email -
	$(DEMO_ENV) $(BIN)/kakunin erasure request --phone "+81 90-1111-2222" --reason "demo: REQ-2026-0042" --now
	@$(DEMO_ENV) $(BIN)/kakunin provenance submit $(DEMO_HOME)/people/resent > /dev/null
	$(DEMO_ENV) $(BIN)/kakunin intake run
	echo hanako.kakuu@example.invalid | $(DEMO_ENV) $(BIN)/kakunin subject find --email -
	$(DEMO_ENV) $(BIN)/kakunin lineage checkpoint --out $(DEMO_HOME)/checkpoint.json
	@echo
	$(DEMO_ENV) $(BIN)/kakunin demo report --checkpoint $(DEMO_HOME)/checkpoint.json --public-key $(DEMO_HOME)/public-key
	@echo
	@echo "Insider controls: an export for one purpose (持ち出し), one refused, the day reviewed, the evidence pack ..."
	@rm -rf $(DEMO_OUT) && mkdir -p $(DEMO_OUT)
	$(DEMO_ENV) $(BIN)/kakunin export --dataset jp_customer_leads --purpose marketing_email \
		--requested-by mkt-staff-07 --out $(DEMO_OUT)/marketing_email.csv
	@echo '$(BIN)/kakunin export --dataset jp_customer_leads --purpose marketing_email --columns customer_no,email,birth_date ...'
	@$(DEMO_ENV) $(BIN)/kakunin export --dataset jp_customer_leads --purpose marketing_email \
		--columns customer_no,email,birth_date --requested-by mkt-staff-07 --out $(DEMO_OUT)/refused.csv; \
		rc=$$?; test $$rc -eq 1 && test ! -e $(DEMO_OUT)/refused.csv \
		&& echo "  refused (exit $$rc), no file written: birth dates are not for email marketing (目的外利用)" \
		|| (echo "the refused export was not refused (exit $$rc)"; exit 1)
	@DAY=$$($(BIN)/python -c "from kakunin.clock import today; print(today())"); \
		echo "airflow dags test kakunin_audit (the review of $$DAY: every chain verified, anomalies flagged) ..."; \
		$(DEMO_ENV) $(AIRFLOW_ENV) $(BIN)/airflow dags test kakunin_audit -c "{\"day\": \"$$DAY\"}" \
		> .airflow/audit-test.log 2>&1 || (tail -40 .airflow/audit-test.log; exit 1)
	@grep -q "DagRun Finished: dag_id=kakunin_audit.*state=success" .airflow/audit-test.log \
		|| (echo "kakunin_audit did not succeed; see .airflow/audit-test.log"; exit 1)
	$(DEMO_ENV) $(BIN)/kakunin audit reviews
	@REPORT=$$($(DEMO_ENV) $(BIN)/kakunin audit reviews --json | $(BIN)/python -c \
		"import json,sys; print(json.load(sys.stdin)['reviews'][-1]['report_id'])"); \
		echo "$(BIN)/kakunin audit sign-off $$REPORT --by audit-lead-01 --note ..."; \
		$(DEMO_ENV) $(BIN)/kakunin audit sign-off $$REPORT --by audit-lead-01 --note "demo: read the day's review"
	@FROM=$$($(BIN)/python -c "from kakunin.clock import today; print(today().replace(day=1))"); \
		TO=$$($(BIN)/python -c "from kakunin.clock import today; print(today())"); \
		echo "$(BIN)/kakunin audit report --from $$FROM --to $$TO --out $(DEMO_OUT)/evidence-pack"; \
		$(DEMO_ENV) $(BIN)/kakunin audit report --from $$FROM --to $$TO --out $(DEMO_OUT)/evidence-pack
	@if command -v chromium > /dev/null; then \
		$(BIN)/python -m kakunin_dev.screenshot $(DEMO_OUT)/evidence-pack/report.html $(DEMO_OUT)/evidence-pack.png; \
	else echo "(no chromium: \`make browser\` installs it; then open $(DEMO_OUT)/evidence-pack/report.html)"; fi
	@echo; echo "The web app on this store: \`make serve\` (prints http://localhost:$(AIRFLOW_PORT)/kakunin/ and a login per role)"

## run-s3: `make run` with the store on S3: a loopback moto server (started and stopped here), a versioned
## bucket, KAKUNIN_STORAGE=s3://$(S3_DEMO_BUCKET)/demo; ends with `kakunin lineage verify` on that store
S3_DEMO_BUCKET := kakunin-demo
S3_DEMO := var/s3-demo
run-s3: install
	@rm -rf $(S3_DEMO) && mkdir -p $(S3_DEMO)
	@echo "starting moto_server on 127.0.0.1 (log: $(S3_DEMO)/moto.log), bucket $(S3_DEMO_BUCKET) ..."
	@$(BIN)/python tests/s3server.py --bucket $(S3_DEMO_BUCKET) --env-file $(S3_DEMO)/env --log $(S3_DEMO)/moto.log \
		> /dev/null & server=$$!; \
	trap 'kill -TERM $$server 2>/dev/null; wait $$server 2>/dev/null; echo "moto_server stopped"' EXIT; \
	for _ in $$(seq 300); do test -s $(S3_DEMO)/env && break; kill -0 $$server 2>/dev/null || break; sleep 0.1; done; \
	test -s $(S3_DEMO)/env || { echo "moto_server did not start; see $(S3_DEMO)/moto.log"; exit 1; }; \
	set -a; . ./$(S3_DEMO)/env; set +a; export KAKUNIN_STORAGE=s3://$(S3_DEMO_BUCKET)/demo; \
	echo "store: $$KAKUNIN_STORAGE at $$AWS_ENDPOINT_URL"; \
	$(MAKE) --no-print-directory run && \
	echo && echo "kakunin lineage verify (on $$KAKUNIN_STORAGE) ..." && \
	$(DEMO_ENV) $(BIN)/kakunin lineage verify

## serve: Airflow (`airflow standalone`: scheduler, API server, DAG processor, triggerer) with Kakunin's web app at
## /kakunin, on the demo store `make run` made (or, when there is none, a fresh empty store in var/demo); one
## development user per role with random passwords kept in .airflow/kakunin-users.json; Ctrl-C stops it
AIRFLOW_PORT ?= 8080
SERVE_PASSWORDS := .airflow/kakunin-users.json
serve: install
	@mkdir -p $(DEMO_HOME) .airflow
	@if test -f $(DEMO_HOME)/.made-by-serve; then echo "Store: the empty store an earlier \`make serve\` made in $(DEMO_HOME) (\`make run\` replaces it with the demo)"; \
	elif test -f $(DEMO_HOME)/.hmac-key; then echo "Store: the demo store of \`make run\` ($(DEMO_HOME))"; else \
		echo "Store: no demo store yet (\`make run\` makes one): a fresh empty store in $(DEMO_HOME)"; \
		touch $(DEMO_HOME)/.made-by-serve && \
		(umask 077 && $(BIN)/python -c "import secrets; print(secrets.token_hex(32))" > $(DEMO_HOME)/.hmac-key) && \
		(umask 077 && $(BIN)/kakunin lineage keygen --public-key-out $(DEMO_HOME)/public-key > $(DEMO_HOME)/.signing-key) \
		|| exit 1; fi
	@test -f .airflow/airflow.db || { echo "airflow db migrate (SQLite in .airflow/) ..."; \
		$(AIRFLOW_ENV) $(BIN)/airflow db migrate > .airflow/db-migrate.log 2>&1 || { tail -20 .airflow/db-migrate.log; exit 1; }; }
	@echo "Starting airflow standalone (scheduler, API server, DAG processor, triggerer) ..."
	@users=$$($(BIN)/python -m kakunin_dev.serve users $(SERVE_PASSWORDS)) || exit 1; \
	setsid env $(DEMO_ENV) $(AIRFLOW_ENV) PATH="$(CURDIR)/$(BIN):$$PATH" AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS=$$users \
		AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE=$(CURDIR)/$(SERVE_PASSWORDS) \
		AIRFLOW__API__HOST=127.0.0.1 AIRFLOW__API__PORT=$(AIRFLOW_PORT) AIRFLOW__API__BASE_URL=http://localhost:$(AIRFLOW_PORT) \
		AIRFLOW__CORE__PARALLELISM=4 $(BIN)/airflow standalone > .airflow/standalone.log 2>&1 & group=$$!; \
		trap 'trap "" PIPE; kill -TERM -- -$$group 2>/dev/null; echo; echo "stopping Airflow ..."; \
			for _ in $$(seq 20); do kill -0 -- -$$group 2>/dev/null || break; sleep 1; done; \
			kill -KILL -- -$$group 2>/dev/null; echo "Airflow stopped"; exit 0' INT TERM HUP; \
		up=; for _ in $$(seq 240); do kill -0 $$group 2>/dev/null || break; \
			curl -sf -o /dev/null http://localhost:$(AIRFLOW_PORT)/api/v2/monitor/health && { up=1; break; }; sleep 1; done; \
		test -n "$$up" || { echo "Airflow did not come up; the end of .airflow/standalone.log:"; \
			tail -20 .airflow/standalone.log; kill -KILL -- -$$group 2>/dev/null; exit 1; }; \
		grep -q "Failed to import plugin" .airflow/standalone.log && { echo "the Kakunin plugin failed to load:"; \
			grep -A5 "Failed to import plugin" .airflow/standalone.log | head -20; }; \
		echo; $(BIN)/python -m kakunin_dev.serve show $(SERVE_PASSWORDS) http://localhost:$(AIRFLOW_PORT)/; \
		echo "Store: KAKUNIN_HOME=$(CURDIR)/$(DEMO_HOME); the server log is .airflow/standalone.log. Ctrl-C stops Airflow."; \
		while kill -0 $$group 2>/dev/null; do sleep 1; done

## airflow: the same as `make serve` (the Airflow UI is at the printed URL without /kakunin/)
airflow: serve

## browser: Debian's chromium and CJK fonts for the evidence pack's browser test (apt, as root); a no-op when present
browser:
	@command -v chromium > /dev/null || (apt-get update && apt-get install -y --no-install-recommends chromium fonts-noto-cjk)

## test: lint, type-check, schema freshness, then the test suite
test: install lint browser
	$(BIN)/python -m kakunin.schemas --check
	$(BIN)/pytest

lint: install
	$(BIN)/ruff format --check $(SRC)
	$(BIN)/ruff check $(SRC)
	$(BIN)/mypy

format: install
	$(BIN)/ruff format $(SRC)
	$(BIN)/ruff check --fix $(SRC)

## bench: intake against a floor measured in the same run (N rows, default 1,000,000); JSON in var/bench/
bench: install
	$(BIN)/python -m kakunin_dev.bench --rows $(N) --out var/bench

## chaos: kill intake and retention before every store operation in turn, rerun, check; then concurrent runs
## (CHAOS_SAMPLE=8 tries 8 kill points per scenario; the full run tries them all). Table in var/chaos/;
## then the tamper table (what verify catches in each mode).
chaos: install
	PYTHONPATH=plugins:. $(BIN)/python -m tests.chaos.campaign $(if $(CHAOS_SAMPLE),--sample $(CHAOS_SAMPLE)) \
		--json var/chaos/campaign.json
	@echo "Tamper table (tests/tamper/test_table.py checks every row):"
	@PYTHONPATH=plugins:. $(BIN)/python -m tests.tamper.table

## cluster-test: PostgreSQL, Redis and Airflow (CeleryExecutor, two workers) on loopback; kakunin_intake and
## kakunin_retention triggered through the REST API and checked; everything stopped at the end. Logs: var/cluster/logs/.
## CLUSTER_STORE=local keeps the store in a shared local folder instead of moto's S3 server (the default).
CLUSTER_STORE ?= s3
cluster-test: install
	$(BIN)/python -m kakunin_dev.cluster --store $(CLUSTER_STORE)

## schemas: regenerate the JSON Schemas under lineage/ from the models
schemas: install
	$(BIN)/python -m kakunin.schemas

clean:
	rm -rf $(VENV) $(TOOLS) var .mypy_cache .ruff_cache .pytest_cache .hypothesis
