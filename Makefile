# nic — convenience wrapper around CMake. `make help` lists the targets.
BUILD       ?= build
BUILD_ASAN  ?= build-asan
BUILD_FUZZ  ?= build-fuzz
BUILD_CUDA  ?= build-cuda
JOBS        ?= $(shell nproc 2>/dev/null || echo 2)
PREFIX      ?= /usr/local
CMAKE_FLAGS ?=
# Sample used by `make demo` (any PNG/JPEG/PPM works).
DEMO_IMAGE  ?= ../shared/data/kodak/kodim23.png

.PHONY: all build configure test test-sanitize check demo deps install clean help fuzz bench eval eval-codecs cuda test-cuda serve wasm bench-serve experiment-mnist

# `make serve SERVE_ARGS="--port 9000"`
SERVE_ARGS ?=

all: build

help:
	@echo "make deps           install the Debian packages nic needs (idempotent)"
	@echo "make                build libnic (static + shared) and the nic tool into $(BUILD)/"
	@echo "make test           build and run all tests (CTest)"
	@echo "make test-sanitize  the same tests in an ASan+UBSan build ($(BUILD_ASAN)/)"
	@echo "make demo           deps + build + run nic on a sample image"
	@echo "make bench          build and run the benchmark programs"
	@echo "make eval           Kodak tables, BD-rates and RD plots against every codec (minutes)"
	@echo "make eval-codecs    JPEG/WebP/AVIF/JPEG XL/HEIC on Kodak, then BD-rate summary (an hour)"
	@echo "make experiment-mnist  the seed paper's MNIST experiment, report in runs/mnist/ (~30 min)"
	@echo "make fuzz           build the libFuzzer targets with clang and run each briefly"
	@echo "make serve          build and run nic serve on 127.0.0.1:8080 (SERVE_ARGS=...)"
	@echo "make wasm           the WebAssembly decoder into $(BUILD)/wasm (emscripten)"
	@echo "make bench-serve    load test of nic serve with wrk (minutes; table of req/s, latency, memory)"
	@echo "make install        install into PREFIX=$(PREFIX)"
	@echo "make cuda           build with the CUDA backend into $(BUILD_CUDA)/ (nvcc + cuDNN)"
	@echo "make test-cuda      the CUDA tests (they skip without a GPU)"

$(BUILD)/CMakeCache.txt:
	cmake -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=Release -DCMAKE_INSTALL_PREFIX=$(PREFIX) $(CMAKE_FLAGS)

configure: $(BUILD)/CMakeCache.txt

build: configure
	cmake --build $(BUILD) -j $(JOBS)

test: build
	ctest --test-dir $(BUILD) --output-on-failure -j $(JOBS)

test-sanitize:
	cmake -S . -B $(BUILD_ASAN) -DCMAKE_BUILD_TYPE=Debug -DNIC_SANITIZE=ON $(CMAKE_FLAGS)
	cmake --build $(BUILD_ASAN) -j $(JOBS)
	ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1 \
	  ctest --test-dir $(BUILD_ASAN) --output-on-failure -j $(JOBS)

check: test test-sanitize

# CUDA backend (docs/TRAINING.md): builds without it, with a warning, when nvcc or cuDNN is missing.
cuda:
	cmake -S . -B $(BUILD_CUDA) -DCMAKE_BUILD_TYPE=Release -DNIC_CUDA=ON $(CMAKE_FLAGS)
	cmake --build $(BUILD_CUDA) -j $(JOBS)

test-cuda: cuda
	ctest --test-dir $(BUILD_CUDA) --output-on-failure -R cuda

deps:
	sh scripts/install-deps.sh

demo: deps build
	sh scripts/demo.sh $(BUILD)/nic $(DEMO_IMAGE)

bench: build
	sh scripts/bench.sh $(BUILD)

serve: build
	$(BUILD)/nic serve $(SERVE_ARGS)

wasm:
	sh scripts/build-wasm.sh $(BUILD)/wasm

bench-serve: build
	sh scripts/bench-serve.sh $(BUILD)

fuzz:
	CC=clang cmake -S . -B $(BUILD_FUZZ) -DCMAKE_BUILD_TYPE=RelWithDebInfo -DNIC_FUZZ=ON -DNIC_SANITIZE=ON -DNIC_BUILD_TESTS=OFF
	cmake --build $(BUILD_FUZZ) -j $(JOBS)
	sh scripts/run-fuzzers.sh $(BUILD_FUZZ) $${FUZZ_SECONDS:-30}

# nic on Kodak (runs/eval_nic.csv), then BD-rates, budget table and RD plots against the
# classical codecs' points committed in docs/kodak/eval_codecs.csv (make eval-codecs
# measures them again on this machine's Debian codecs).
EVAL_CODECS ?= docs/kodak/eval_codecs.csv
EVAL_OUT ?= runs
eval: build
	mkdir -p $(EVAL_OUT)
	$(BUILD)/bench/eval_kodak --data $${KODAK:-../shared/data/kodak} --csv $(EVAL_OUT)/eval_nic.csv
	$(BUILD)/bench/eval_kodak --data $${KODAK:-../shared/data/kodak} --model hyper-msssim --csv $(EVAL_OUT)/eval_msssim.csv
	$(BUILD)/bench/eval_rd_summary --plots $(EVAL_OUT)/rd $(EVAL_CODECS) $(EVAL_OUT)/eval_nic.csv $(EVAL_OUT)/eval_msssim.csv
	$(BUILD)/bench/eval_rd_summary --test nic-msssim $(EVAL_CODECS) $(EVAL_OUT)/eval_nic.csv $(EVAL_OUT)/eval_msssim.csv

# Classical codecs on all of Kodak (runs/eval_codecs.csv), then the summary with
# nic's own CSV when there is one (runs/eval_nic.csv: eval_kodak --csv), and the
# PSNR and MS-SSIM curves (runs/rd-psnr.png, runs/rd-msssim.png; .svg too).
eval-codecs: build
	sh scripts/eval-codecs.sh --out $(EVAL_OUT)
	$(BUILD)/bench/eval_rd_summary --plots $(EVAL_OUT)/rd $(EVAL_OUT)/eval_codecs.csv \
	  $$(test -f $(EVAL_OUT)/eval_nic.csv && echo $(EVAL_OUT)/eval_nic.csv)

# The seed paper's MNIST experiment (docs/EXPERIMENTS.md): MNIST_FLAGS=--quick for a smoke test.
MNIST_DATA ?= ../shared/data/mnist
MNIST_OUT  ?= runs/mnist
experiment-mnist: build
	$(BUILD)/nic experiment mnist --data $(MNIST_DATA) --out $(MNIST_OUT) $(MNIST_FLAGS)

install: build
	cmake --install $(BUILD) --prefix $(PREFIX)

clean:
	rm -rf $(BUILD) $(BUILD_ASAN) $(BUILD_FUZZ) $(BUILD_CUDA)
