# Quad — every day-to-day command. `make` alone lists them.
.DEFAULT_GOAL := help
SHELL := /bin/sh

.PHONY: help preflight install build typecheck typecheck-loadtests lint format test test-unit test-cluster test-rules test-observability test-compose up down logs dev deps tools migrate loadtest loadtest-ci clean web e2e screenshot

help: ## List the targets
	@awk 'BEGIN {FS = ":.*## "} /^[a-z-]+:.*## / {printf "  make %-13s %s\n", $$1, $$2}' $(MAKEFILE_LIST)

# npm ci: exactly the lock file's versions, and it never rewrites package-lock.json, so a fresh
# clone stays unmodified. The lock lists every platform's optional packages (Biome, esbuild,
# msgpackr-extract), as npm records them whichever platform installs; after changing
# package.json, run `npm install` once and commit the lock it writes.
node_modules: package.json package-lock.json
	npm ci --no-audit --no-fund
	@touch node_modules

install: node_modules ## Install npm dependencies at the lock file's versions

# make dev and make test need the same system programs (the tests run the native stack too):
# when one is missing this installs it (scripts/deps.sh) as root or with a working sudo, or stops
# with the one command to run.
preflight: ## Check the system packages make dev and make test need; install missing ones if possible
	scripts/check-deps.sh --install

build: node_modules ## Compile TypeScript to dist/
	npm run build

typecheck: node_modules ## Type-check everything (strict)
	npm run typecheck

lint: node_modules ## Lint and format-check (Biome)
	npm run lint

format: node_modules ## Apply Biome formatting and safe fixes
	npm run format

test: preflight typecheck typecheck-loadtests lint test-rules ## Typecheck, lint, alert-rule tests, then unit + integration tests against real Redis/PostgreSQL
	npm test

# The k6 scripts in loadtests/k6/ are for institutions' own k6 (AGPL-licensed: never installed or
# run here). Their types, @types/k6, are a project of their own (one package, its lock file), so
# the server's install stays as it is.
loadtests/k6/node_modules: loadtests/k6/package.json loadtests/k6/package-lock.json
	cd loadtests/k6 && npm ci --no-audit --no-fund
	@touch loadtests/k6/node_modules

typecheck-loadtests: node_modules loadtests/k6/node_modules ## Type-check the k6 scripts against @types/k6 (k6 itself is never run here)
	npx tsc -p loadtests/k6/tsconfig.json

test-rules: ## Check the Prometheus alert rules and run their unit tests (promtool)
	scripts/test-rules.sh

test-observability: preflight node_modules ## Prove every dashboard panel, one trace and alert delivery on a live native stack
	scripts/test-observability.sh

test-unit: node_modules ## Unit tests only (no servers)
	npm run test:unit

# QUAD_TEST_REDIS=cluster is the one switch: test/run.ts starts a Redis Cluster per role
# (redis-server with cluster-enabled, joined by redis-cli --cluster create) and runs the cluster
# suite (test/run.ts lists it).
test-cluster: preflight node_modules ## Integration tests that touch Redis, on a local 3-master/3-replica Redis Cluster
	QUAD_TEST_REDIS=cluster npm test

test-compose: node_modules ## Build local images and run the compose stack end to end, optional profiles included (needs docker.io, docker-compose, debootstrap, make tools)
	scripts/test-compose.sh

up: ## Deploy with Docker Compose: create .env with new secrets if missing, start, wait until healthy
	scripts/up.sh

down: ## Stop the compose stack (data volumes are kept)
	scripts/down.sh

logs: ## Follow the compose stack's logs
	scripts/logs.sh

dev: preflight node_modules web ## Run the whole stack natively (no Docker); restarts crashed parts; Ctrl-C stops it
	scripts/dev.sh

# The web client and the end-to-end suite are npm projects of their own (web/, e2e/, each with
# its lock file): Vite, Preact, Playwright and axe stay out of the server's node_modules, its
# image and `make install`, and are installed only by the targets that use them.
web/node_modules: web/package.json web/package-lock.json
	cd web && npm ci --no-audit --no-fund
	@touch web/node_modules

web/dist/index.html: web/node_modules web/index.html web/vite.config.ts web/tsconfig.json $(wildcard web/src/*)
	cd web && npm run build

web: web/dist/index.html ## Build the web client into web/dist (the edge serves it)

e2e/node_modules: e2e/package.json e2e/package-lock.json
	cd e2e && PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 npm ci --no-audit --no-fund
	@touch e2e/node_modules

e2e: preflight node_modules web e2e/node_modules ## Playwright suite in Chromium against a make dev stack it starts and stops
	scripts/check-deps.sh --e2e >/dev/null 2>&1 || scripts/deps.sh --e2e
	cd e2e && npx tsc -p tsconfig.json --noEmit
	scripts/e2e.sh

screenshot: preflight node_modules web e2e/node_modules ## Regenerate docs/images/conversation.png (the README's picture) from the suite
	scripts/check-deps.sh --e2e >/dev/null 2>&1 || scripts/deps.sh --e2e
	E2E_SCREENSHOT=1 scripts/e2e.sh --grep screenshot

deps: ## Install redis-server, PostgreSQL and Prometheus from Debian/Ubuntu packages (make dev/test do it when needed)
	scripts/deps.sh

tools: ## Build pinned livekit-server, jaeger and centrifugo into tools/bin (Go module proxy)
	scripts/build-tools.sh

migrate: node_modules ## Apply PostgreSQL migrations using .env
	set -a; . ./.env; set +a; npm run migrate

# The load runner here is Artillery (loadtests/package.json, its own lock: about 460 MB that
# stay out of `make install`); its Playwright engine's browser download is skipped, and npm runs
# no install scripts of its dependencies. Both targets start their own native stack, seed it
# (`quad seed`), run loadtests/scenarios.json and stop it (scripts/loadtest.sh).
loadtests/node_modules: loadtests/package.json loadtests/package-lock.json
	cd loadtests && PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 npm ci --no-audit --no-fund
	@touch loadtests/node_modules

loadtest: preflight node_modules web loadtests/node_modules ## Load scenarios on a 2,000-person seed (kept in .data/loadtest), summary table and resources
	scripts/loadtest.sh full

loadtest-ci: preflight node_modules web loadtests/node_modules ## Short load run on a fresh stack, thresholds enforced (what CI runs)
	scripts/loadtest.sh ci

clean: ## Remove build output (keeps .env and .data)
	rm -rf dist web/dist
