# The two commands a newcomer needs: `make test` and `make demo`.
# Both install what is missing (as root, with apt-get; otherwise they print
# the exact apt-get line and stop), configure, build, then run.

BUILD       ?= build
MESON_FLAGS ?=
# Debian 12 packages the build, the tests and the demo need (chromium and
# the CJK fonts for the web app's browser tests).
DEB_PACKAGES = gcc pkg-config meson ninja-build libuv1-dev libsodium-dev \
	libmsgpack-dev libsqlite3-dev libjansson-dev libcmocka-dev libgnutls28-dev \
	libmicrohttpd-dev libqrencode-dev libunistring-dev \
	python3 python3-nacl python3-msgpack python3-cryptography libxml2-utils \
	libcurl4-gnutls-dev openssl scdoc man-db \
	chromium fonts-noto-cjk valgrind strace
# Node.js runs the negentropy interop test against nostr-tools; a machine
# that already has node and npm (from any source) keeps them.
NODE_PACKAGES = nodejs npm

.PHONY: all deps interop-deps web-deps bench-deps build test demo bench bench-quick valgrind clean deb test-package arm64 offline-check

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
		npm ci --prefix tests/interop --prefer-offline --no-audit --no-fund --loglevel=error || \
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
# `make bench-quick` the same small, in a few minutes.  BENCH=import|catchup|
# sim|neg|repair|reads|http|web (several, space-separated) picks some; RUNS=N repeats;
# WORK=DIR keeps the generated stores for the next run.  Figures are meant
# from a release build:
#   make bench BUILD=build-rel MESON_FLAGS=--buildtype=release
# The plots need gnuplot (installed here as root; otherwise the figures are
# written without plots, saying so).
BENCH ?=
bench-deps:
	@if ! command -v gnuplot >/dev/null; then \
		if [ "$$(id -u)" = 0 ]; then \
			echo "installing gnuplot-nox for the benchmarks' plots"; \
			DEBIAN_FRONTEND=noninteractive apt-get install -y -qq gnuplot-nox >/dev/null || \
			echo "gnuplot-nox could not be installed: no plots"; \
		else \
			echo "the plots need gnuplot: sudo apt-get install -y gnuplot-nox"; \
		fi; \
	fi
bench: build bench-deps
	ONLY="$(BENCH)" tests/bench/run.py $(BUILD) full
bench-quick: build bench-deps
	ONLY="$(BENCH)" tests/bench/run.py $(BUILD) quick

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

# The Debian package (dist/deb): `make deb` is a release build for /usr in
# $(DEB_BUILD), installed into a staging folder and packed with dpkg-deb
# into $(DEB_BUILD)/watchmesh_VERSION_ARCH.deb, then read by lintian.
# `make test-package` installs it into a fresh Debian 12 root (debootstrap,
# made once and kept in $(DEBIAN12_ROOT); later runs need no network),
# starts the node there as the service would, then boots that root with
# systemd (systemd-nspawn --boot) and checks the unit under it
# (test_package.py): a few minutes, as root, so not part of `make test`.
DEB_BUILD     ?= build-deb
DEBIAN12_ROOT ?= $(HOME)/.cache/watchmesh/debian12.tar
DEB_TOOLS      = dpkg-dev lintian debootstrap systemd-container
deb: deps web-deps
	@$(MAKE) --no-print-directory deps DEB_PACKAGES="$(DEB_TOOLS)"
	@[ -f $(DEB_BUILD)/build.ninja ] || meson setup $(DEB_BUILD) --prefix=/usr --buildtype=release \
		-Dtests=false -Dtest_kdf=disabled -Dweb_dir=/usr/share/watchmesh/web $(DEB_MESON_FLAGS)
	ninja -C $(DEB_BUILD)
	@deb=$$(dist/deb/mkdeb.sh $(DEB_BUILD) $(DEB_BUILD) $(DEB_ARCH)) && echo "built $$deb" && \
		lintian --fail-on error $$deb

test-package: deb
	@deb=$$(ls $(DEB_BUILD)/watchmesh_*_$$(dpkg --print-architecture).deb) && \
	if [ ! -f $(DEBIAN12_ROOT) ]; then \
		echo "making a Debian 12 root with the package's dependencies (debootstrap, once)"; \
		root=$$(mktemp -d) && \
		debootstrap --variant=minbase --include=$$(dpkg-deb -f $$deb Depends | sed 's/ *([^)]*)//g; s/ *| *[^,]*//g; s/, */,/g') \
			bookworm $$root >/dev/null && \
		mkdir -p $$(dirname $(DEBIAN12_ROOT)) && tar -C $$root -cf $(DEBIAN12_ROOT).tmp . && \
		mv $(DEBIAN12_ROOT).tmp $(DEBIAN12_ROOT); st=$$?; rm -rf $$root; [ $$st = 0 ] || exit 1; \
	fi && \
	/usr/bin/python3 tests/integration/test_package.py $$deb $(DEBIAN12_ROOT)

# 64-bit ARM, the small PCs of many community centres: `make arm64` installs
# Debian's cross compiler, qemu-user and the arm64 libraries (after `dpkg
# --add-architecture arm64`), cross-builds into $(ARM_BUILD) with
# dist/arm64-cross.ini, runs the unit tests, fuzz corpora and transport tests under
# qemu-user, then prints the binary's size and its memory after 30 s idle,
# natively and under qemu (dist/idle.sh).  Some ten minutes: not part of
# `make test`.
ARM_BUILD    ?= build-arm64
ARM_PACKAGES  = gcc-aarch64-linux-gnu qemu-user-static libc6-dev:arm64 libuv1-dev:arm64 \
	libsodium-dev:arm64 libmsgpack-dev:arm64 libsqlite3-dev:arm64 libjansson-dev:arm64 \
	libcmocka-dev:arm64 libgnutls28-dev:arm64 libmicrohttpd-dev:arm64 libqrencode-dev:arm64 \
	libcurl4-gnutls-dev:arm64 libunistring-dev:arm64
arm64: build
	@dpkg --print-foreign-architectures | grep -qx arm64 || \
		if [ "$$(id -u)" = 0 ]; then dpkg --add-architecture arm64; else \
		echo "run: sudo dpkg --add-architecture arm64"; exit 1; fi
	@$(MAKE) --no-print-directory deps DEB_PACKAGES="$(ARM_PACKAGES)"
	@[ -f $(ARM_BUILD)/build.ninja ] || meson setup $(ARM_BUILD) --cross-file dist/arm64-cross.ini $(MESON_FLAGS)
	ninja -C $(ARM_BUILD)
	meson test -C $(ARM_BUILD) --suite unit --suite fuzz --print-errorlogs --timeout-multiplier 5
# the transport's C tests; its Python peer would run the arm64 binary itself
	meson test -C $(ARM_BUILD) transport_links transport_raw --print-errorlogs --timeout-multiplier 5
	dist/idle.sh $(BUILD)/node/cli/watchmesh 30
	dist/idle.sh $(ARM_BUILD)/node/cli/watchmesh 30 qemu-aarch64-static aarch64-linux-gnu-strip

# Offline (issue 13): after a first `make test` online (which fills npm's
# cache and node_modules), nothing needs the network.  `make offline-check`
# shows it, as root: `make build demo` in a network namespace of its own
# (loopback only), then both lock files' npm packages installed from the
# cache alone (npm ci --offline), as a fresh clone's first `make test` would.
offline-check: build
	unshare --net sh -c 'ip link set lo up && $(MAKE) --no-print-directory build demo'
	@for d in node/web tests/interop; do \
		t=$$(mktemp -d) && cp $$d/package.json $$d/package-lock.json $$t/ && \
		unshare --net npm ci --prefix $$t --offline --no-audit --no-fund --loglevel=error >/dev/null; \
		st=$$?; rm -rf $$t; \
		if [ $$st = 0 ]; then echo "offline: npm ci of $$d from the cache"; \
		else echo "offline: $$d's packages are not all in npm's cache: run make test once online"; exit 1; fi; \
	done
	@echo "offline: make build, make demo and the npm packages need no network"
