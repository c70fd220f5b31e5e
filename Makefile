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
	chromium fonts-noto-cjk valgrind
# Node.js runs the negentropy interop test against nostr-tools; a machine
# that already has node and npm (from any source) keeps them.
NODE_PACKAGES = nodejs npm

.PHONY: all deps interop-deps web-deps build test demo bench valgrind clean

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

# Benchmarks (BENCHMARKS.md): `make bench` is the import benchmark (about a
# minute); BENCH=sim|neg|repair|http|all picks others; N=... sizes import and
# repair.  Figures are meant from a release build:
#   make bench BUILD=build-release MESON_FLAGS=--buildtype=release
BENCH ?= import
bench: build
	@case "$(BENCH)" in \
	import|sim|neg|repair|http|all) ;; \
	*) echo "BENCH must be import, sim, neg, repair, http or all"; exit 2 ;; \
	esac
	@if [ "$(BENCH)" = import ] || [ "$(BENCH)" = all ]; then tests/bench/run.sh $(BUILD) || exit 1; fi
	@if [ "$(BENCH)" = sim ] || [ "$(BENCH)" = all ]; then $(BUILD)/tests/bench/bench_sim || exit 1; fi
	@if [ "$(BENCH)" = neg ] || [ "$(BENCH)" = all ]; then $(BUILD)/tests/bench/bench_neg || exit 1; fi
	@if [ "$(BENCH)" = repair ] || [ "$(BENCH)" = all ]; then tests/bench/bench_repair.py $(BUILD) || exit 1; fi
	@if [ "$(BENCH)" = http ] || [ "$(BENCH)" = all ]; then tests/bench/bench_http.py $(BUILD) || exit 1; fi

# The suite under valgrind's memcheck (issue 12 item 12): the unit tests,
# every fuzz corpus, the simulator and the transport's programs, then the
# integration tests that run daemons with each daemon under memcheck
# (WATCHMESH_DAEMON_WRAPPER, tests/integration/test_mesh.py); any memory
# error or a definite leak fails the test (a daemon's exit status is then
# 99).  Slow: tens of minutes on two cores.  The CLI commands the Python
# tests run are not wrapped, nor the tests that measure time.
VALGRIND = valgrind --leak-check=full --errors-for-leak-kinds=definite --error-exitcode=99 --num-callers=30
VALGRIND_DAEMON_TESTS = mesh_line mesh_restart mesh_sighup mesh_forged mesh_wrongnet http_api http_mesh \
	ops_status_sync disk_full
valgrind: build
	meson test -C $(BUILD) --print-errorlogs --timeout-multiplier 20 --wrapper "$(VALGRIND)" \
		--suite unit --suite fuzz --suite sim
	meson test -C $(BUILD) --print-errorlogs --timeout-multiplier 20 --wrapper "$(VALGRIND)" \
		transport_links transport_raw
	WATCHMESH_DAEMON_WRAPPER="$(VALGRIND)" meson test -C $(BUILD) --print-errorlogs \
		--timeout-multiplier 5 $(VALGRIND_DAEMON_TESTS)

clean:
	rm -rf $(BUILD) demo
