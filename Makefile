# The two commands a newcomer needs: `make test` and `make demo`.
# Both install what is missing (as root, with apt-get; otherwise they print
# the exact apt-get line and stop), configure, build, then run.

BUILD       ?= build
MESON_FLAGS ?=
# Debian 12 packages the build, the tests and the demo need (chromium and
# the CJK fonts for the web app's browser tests).
DEB_PACKAGES = gcc pkg-config meson ninja-build libuv1-dev libsodium-dev \
	libmsgpack-dev libsqlite3-dev libjansson-dev libcmocka-dev libgnutls28-dev \
	libmicrohttpd-dev libqrencode-dev \
	python3 python3-nacl python3-msgpack python3-cryptography libxml2-utils \
	libcurl4-gnutls-dev openssl \
	chromium fonts-noto-cjk
# Node.js runs the negentropy interop test against nostr-tools; a machine
# that already has node and npm (from any source) keeps them.
NODE_PACKAGES = nodejs npm

.PHONY: all deps interop-deps web-deps build test demo bench bench-quick clean

all: build

deps:
	@missing=""; \
	for p in $(DEB_PACKAGES); do \
		dpkg-query -W -f='$${Status}' $$p 2>/dev/null | grep -q 'ok installed' || missing="$$missing $$p"; \
	done; \
	command -v node >/dev/null && command -v npm >/dev/null || missing="$$missing $(NODE_PACKAGES)"; \
	if [ -n "$$missing" ]; then \
		if [ "$$(id -u)" = 0 ]; then \
			echo "installing:$$missing"; \
			apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq$$missing >/dev/null || exit 1; \
		else \
			echo "watchmesh needs these Debian packages; run:"; \
			echo "  sudo apt-get install -y$$missing"; \
			exit 1; \
		fi; \
	fi

# The interop test's packages (nostr-tools, pinned by the lock file), only
# for `make test`: building and the demo never need the network.  Offline
# and not cached, the interop test is reported as skipped.
interop-deps:
	@if [ -f tests/interop/package-lock.json ] && [ ! -d tests/interop/node_modules ]; then \
		echo "installing the Node.js packages of the interop tests (npm ci)"; \
		npm ci --prefix tests/interop --no-audit --no-fund --loglevel=error || \
		echo "npm ci failed (offline?): the negentropy interop test will be skipped"; \
	fi

# The web app's packages (esbuild, its libraries, playwright-core for the
# browser tests; pinned by node/web/package-lock.json), only for `make
# test`.  meson builds the app when they are there, so a build configured
# before them is configured again.  Offline and not cached, the node builds
# without the app and the browser tests are reported as skipped.
web-deps:
	@if [ ! -d node/web/node_modules ]; then \
		echo "installing the Node.js packages of the web app (npm ci)"; \
		if npm ci --prefix node/web --prefer-offline --no-audit --no-fund --loglevel=error; then \
			if [ -f $(BUILD)/build.ninja ]; then meson setup --reconfigure $(BUILD) >/dev/null; fi; \
		else \
			echo "npm ci failed (offline?): the web app is not built, its browser tests will be skipped"; \
		fi; \
	fi

$(BUILD)/build.ninja:
	meson setup $(BUILD) $(MESON_FLAGS)

build: deps $(BUILD)/build.ninja
	ninja -C $(BUILD)

test: deps web-deps build interop-deps
	meson test -C $(BUILD) --print-errorlogs

demo: build
	examples/demo.sh $(BUILD)/node/cli/watchmesh

# Benchmarks (BENCHMARKS.md): `make bench` runs every benchmark at the sizes
# of issue 11 (about an hour and a half on 2 cores, 1M-event stores) and
# writes their figures into BENCHMARKS.md (tests/bench/run.py);
# `make bench-quick` the same small, in a few minutes.  BENCH=import|sim|neg|
# repair|reads|http (several, space-separated) picks some; RUNS=N repeats;
# WORK=DIR keeps the generated stores for the next run.  Figures are meant
# from a release build:
#   make bench BUILD=build-rel MESON_FLAGS=--buildtype=release
BENCH ?=
bench: build
	ONLY="$(BENCH)" tests/bench/run.py $(BUILD) full
bench-quick: build
	ONLY="$(BENCH)" tests/bench/run.py $(BUILD) quick

clean:
	rm -rf $(BUILD) demo
