# Carrier Portal — `make help` lists the targets.
export GOTOOLCHAIN := go1.27.3
SHELL := /bin/bash

PORT ?= 8080
DB_NAME ?= portal
STATICCHECK_VERSION ?= v0.8.2
GOVULNCHECK_VERSION ?= v1.9.0
# The Go vulnerability database as the golang.org/x/vulndb module holds it
# (its data/osv files), indexed locally: govulncheck runs without network
# access to vuln.go.dev.
VULNDB_VERSION ?= v0.0.0-20261105234957-e22db6528018
VULNDB := .data/vulndb-$(VULNDB_VERSION)

.DEFAULT_GOAL := help

.PHONY: help run test generate lint audit bench microbench migrate seed db-start db-stop build fuzz

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-10s %s\n", $$1, $$2}'

build: ## build bin/portal
	go build -o bin/portal ./cmd/portal

db-start: ## start the private PostgreSQL cluster under .data/ (unless DATABASE_URL is set)
	@if [ -z "$$DATABASE_URL" ]; then .ci/postgres.sh start $(DB_NAME); else echo "$$DATABASE_URL"; fi

db-stop: ## stop the private PostgreSQL cluster
	@.ci/postgres.sh stop

migrate: ## apply database migrations
	@url=$${DATABASE_URL:-$$(.ci/postgres.sh start $(DB_NAME))}; DATABASE_URL=$$url go run ./cmd/portal migrate

seed: ## load the demo data (idempotent)
	@url=$${DATABASE_URL:-$$(.ci/postgres.sh start $(DB_NAME))}; DATABASE_URL=$$url go run ./cmd/portal seed --demo

run: build ## start Postgres, migrate, seed the demo data and serve on http://localhost:$(PORT)
	@url=$${DATABASE_URL:-$$(.ci/postgres.sh start $(DB_NAME))}; \
	export DATABASE_URL=$$url PORT=$(PORT); \
	./bin/portal migrate && ./bin/portal seed --demo && exec ./bin/portal serve

test: ## bring up Postgres, Mailpit and Chromium, then run every test with -race
	@url=$$(.ci/postgres.sh start portal_test); \
	eval "$$(.ci/mailpit.sh start)"; \
	chromium=$$(.ci/chromium.sh); \
	export TEST_DATABASE_URL=$$url MAILPIT_SMTP MAILPIT_API CHROMIUM_PATH=$$chromium; \
	go test -race -count=1 -timeout 20m ./...

generate: ## regenerate templ components
	go tool templ generate

lint: ## gofmt check, go vet, staticcheck, and generated files up to date
	@test -z "$$(gofmt -l $$(git ls-files '*.go'))" || { gofmt -l $$(git ls-files '*.go'); exit 1; }
	go vet ./...
	go run honnef.co/go/tools/cmd/staticcheck@$(STATICCHECK_VERSION) ./...
	go tool templ generate && git diff --exit-code -- '*_templ.go'

audit: ## govulncheck on every package, against the vulnerability database of golang.org/x/vulndb (indexed once under .data/)
	@if [ ! -f $(VULNDB)/index/db.json ]; then \
	  echo "indexing the vulnerability database $(VULNDB_VERSION)"; \
	  dir=$$(cd "$$(mktemp -d)" && go mod download -json golang.org/x/vulndb@$(VULNDB_VERSION) | sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$$/\1/p'); \
	  test -d "$$dir/data/osv" || { echo "no data/osv in golang.org/x/vulndb@$(VULNDB_VERSION)"; exit 1; }; \
	  mkdir -p .data && rm -rf $(VULNDB).tmp && \
	  go run golang.org/x/vulndb/cmd/indexdb@$(VULNDB_VERSION) -vulns "$$dir/data/osv" -out $(VULNDB).tmp && \
	  mv $(VULNDB).tmp $(VULNDB); \
	fi
	go run golang.org/x/vuln/cmd/govulncheck@$(GOVULNCHECK_VERSION) -db file://$(CURDIR)/$(VULNDB) ./...

fuzz: ## run each fuzz test for a short while
	@for pkg in $$(go list ./...); do \
	  for f in $$(go test -list '^Fuzz' $$pkg 2>/dev/null | grep '^Fuzz'); do \
	    go test -run '^$$' -fuzz "^$$f$$" -fuzztime 20s $$pkg || exit 1; \
	  done; \
	done

LARGE_DB ?= portal_large
SEED_FLAGS ?=
BENCH_FLAGS ?=

bench: ## seed the large data set once (SEED_FLAGS), then measure the targets (BENCH_FLAGS); table + .data/bench.json
	@url=$$(.ci/postgres.sh start $(LARGE_DB)); \
	export DATABASE_URL=$$url; \
	go run ./cmd/portal seed --large $(SEED_FLAGS) && go run ./cmd/portal-bench $(BENCH_FLAGS)

microbench: ## run the Go micro-benchmarks (compare runs with benchstat)
	@url=$$(.ci/postgres.sh start portal_test); TEST_DATABASE_URL=$$url go test -run '^$$' -bench . -benchmem ./...
