# nestbox: `make` builds build/nestbox (host VMM), build/nestbox-init (static
# musl guest init) and build/vmlinux (guest kernel, cached outside the clone).
#   make run     boot a microVM running an OCI image and print its output
#   make test    every test tier, with a summary and each tier's wall time
# Sources are found by wildcard: adding a file to a module needs no edit here.

# Two phases. Make evaluates $(shell pkg-config ...) and friends while it
# parses, so on a fresh machine the packages must be there before the build
# rules are read: the first phase installs what is missing
# (scripts/deps.sh, idempotent) and hands the goals to a second make that
# parses this file again with NB_PACKAGES set.
ifeq ($(NB_PACKAGES),)
NB_GOALS := $(or $(MAKECMDGOALS),all)
# Goals that need no package: no install for them.
NB_NO_PACKAGES := clean
.PHONY: $(NB_GOALS) nb-packages
$(NB_GOALS): nb-packages
	@:
nb-packages:
	@$(if $(filter-out $(NB_NO_PACKAGES),$(NB_GOALS)),scripts/deps.sh)
	@$(MAKE) --no-print-directory NB_PACKAGES=1 $(NB_GOALS)
else

BUILD      := build
CC         := gcc
MUSL_CC    := musl-gcc
WARN_BASE  := -Wall -Wextra -Werror
# kvmtool's stricter set plus cheap extras, all clean (`make check` builds with them).
# Test programs add -Wno-write-strings: their argv tables of string literals feed getopt.
WARN       := $(WARN_BASE) -Wmissing-prototypes -Wstrict-prototypes -Wformat=2 -Wwrite-strings \
	      -Wundef -Wvla -Wshadow
TEST_WARN  := -Wno-write-strings
STD        := -std=gnu11 -D_GNU_SOURCE
HOST_CFLAGS  := $(STD) $(WARN) -O2 -g -I. -Iinclude -fstack-protector-strong -MMD -MP
SAN_CFLAGS   := $(STD) $(WARN) -O1 -g -I. -Iinclude -fsanitize=address,undefined \
		-fno-sanitize-recover=all -fno-omit-frame-pointer -MMD -MP
GUEST_CFLAGS := $(STD) $(WARN) -O2 -g -I. -Iinclude -I$(BUILD)/musl-include -MMD -MP
# libarchive and libfdt are linked statically: the dynamic libarchive drags
# in ICU and libxml2, and loading them cost ~3 ms of CPU at every start.
ARCHIVE_DEPS := $(filter-out -larchive,$(shell pkg-config --static --libs-only-l libarchive 2>/dev/null))
# json-c and nettle (images/: sha256, base64) likewise: 2.7 -> 1.7 ms per start
# measured (nettle replaced OpenSSL's libcrypto, whose EVP fetch cost 5M instructions);
# libcurl is dlopen()ed by `nestbox pull` alone (images/curl_dl.h).
# The libraries nestbox's libarchive calls need (libacl, libzstd, libz) and
# libseccomp too, so libc alone is shared: ld.so opens, maps and relocates
# each library at every start, and those four were half the instructions of
# `nestbox run --help` (callgrind: 368k -> 175k). What else a test pulls out
# of libarchive (xar's libxml2 wants ICU) stays dynamic.
HOST_LIBS  := -Wl,--as-needed -Wl,-Bstatic -larchive -lacl -lzstd -lz -lfdt -ljson-c -lnettle \
	      -lseccomp -Wl,-Bdynamic $(ARCHIVE_DEPS) -lpthread
CHECK_LIBS := $(shell pkg-config --libs check 2>/dev/null || echo -lcheck)

HOST_SRCS     := $(wildcard common/*.c vmm/*/*.c vmm/*/*/*.c images/*.c)
HOST_LIB_SRCS := $(filter-out vmm/cli/main.c,$(HOST_SRCS))
# common/ is shared but for procstat.c (the host's /proc/PID/stat reader)
# and dl.c (libraries the host opens on first use)
GUEST_SRCS    := $(filter-out common/procstat.c common/dl.c,$(wildcard common/*.c guest-init/*.c container/*.c))
UNIT_SRCS     := $(wildcard tests/unit/test_*.c)
KVM_SRCS      := $(wildcard tests/kvm/test_*.c)

# The seccomp filters compiled at build time (vmm/confine/seccomp_prebuilt.h)
# by a tool linked with the host objects themselves.
SECCOMP_GEN   := $(BUILD)/gen/seccomp_tables.c
HOST_LIB_OBJS := $(HOST_LIB_SRCS:%.c=$(BUILD)/obj/%.o)
HOST_OBJS     := $(HOST_SRCS:%.c=$(BUILD)/obj/%.o) $(SECCOMP_GEN:%.c=$(BUILD)/obj/%.o)
HOST_LIB_SAN  := $(HOST_LIB_SRCS:%.c=$(BUILD)/san/%.o) $(SECCOMP_GEN:%.c=$(BUILD)/san/%.o)
GUEST_OBJS    := $(GUEST_SRCS:%.c=$(BUILD)/musl/%.o)
UNIT_BINS     := $(UNIT_SRCS:tests/unit/%.c=$(BUILD)/tests/unit/%)
KVM_BINS      := $(KVM_SRCS:tests/kvm/%.c=$(BUILD)/tests/kvm/%)

.PHONY: all deps run test tests unit clean format format-check check
all: $(BUILD)/nestbox $(BUILD)/nestbox-init $(BUILD)/vmlinux

# The packages are installed by the first phase (top of this file).
deps:
	@:

$(BUILD)/nestbox: $(HOST_OBJS)
	$(CC) -o $@ $^ $(HOST_LIBS)

$(BUILD)/tools/seccomp_prebuild: scripts/seccomp_prebuild.c $(HOST_LIB_OBJS)
	@mkdir -p $(dir $@)
	$(CC) $(HOST_CFLAGS) -o $@ $< $(HOST_LIB_OBJS) $(HOST_LIBS)

$(SECCOMP_GEN): $(BUILD)/tools/seccomp_prebuild
	@mkdir -p $(dir $@)
	$< $@.tmp && mv $@.tmp $@

$(BUILD)/obj/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(HOST_CFLAGS) -c -o $@ $<

$(BUILD)/san/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(SAN_CFLAGS) -c -o $@ $<

# Guest side: musl sees only the kernel UAPI and libfdt headers, never the
# glibc tree in /usr/include (it breaks musl builds).
MUSL_INC_STAMP := $(BUILD)/musl-include/.stamp
$(MUSL_INC_STAMP):
	@mkdir -p $(BUILD)/musl-include
	cp -r /usr/include/linux /usr/include/asm-generic $(BUILD)/musl-include/
	cp -r /usr/include/x86_64-linux-gnu/asm $(BUILD)/musl-include/
	cp /usr/include/libfdt.h /usr/include/fdt.h /usr/include/libfdt_env.h $(BUILD)/musl-include/
	@touch $@

$(BUILD)/musl/%.o: %.c $(MUSL_INC_STAMP)
	@mkdir -p $(dir $@)
	$(MUSL_CC) $(GUEST_CFLAGS) -c -o $@ $<

$(BUILD)/nestbox-init: $(GUEST_OBJS)
	$(MUSL_CC) -static -o $@ $^ /usr/lib/x86_64-linux-gnu/libfdt.a

$(BUILD)/vmlinux: images/kernel/build.sh images/kernel/nestbox.config $(wildcard images/kernel/patches/*.patch)
	images/kernel/build.sh $@

# The version `nestbox version` prints: git describe of the checkout at
# build time. build/version.h is rewritten only when that changes.
NB_VERSION := $(shell git describe --tags --always --dirty 2>/dev/null || echo unknown)
$(BUILD)/version.h: FORCE
	@mkdir -p $(dir $@)
	@echo '#define NB_VERSION "$(NB_VERSION)"' >$@.tmp
	@if cmp -s $@.tmp $@; then rm -f $@.tmp; else mv $@.tmp $@; fi
$(BUILD)/obj/vmm/cli/info.o $(BUILD)/san/vmm/cli/info.o: $(BUILD)/version.h
.PHONY: FORCE
FORCE:

# ---- tests ---------------------------------------------------------------
$(BUILD)/tests/unit/%: tests/unit/%.c $(HOST_LIB_SAN)
	@mkdir -p $(dir $@)
	$(CC) $(SAN_CFLAGS) $(TEST_WARN) -Itests -o $@ $< $(HOST_LIB_SAN) $(HOST_LIBS) $(CHECK_LIBS)

$(BUILD)/tests/kvm/%: tests/kvm/%.c $(HOST_LIB_SAN)
	@mkdir -p $(dir $@)
	$(CC) $(SAN_CFLAGS) $(TEST_WARN) -Itests -o $@ $< $(HOST_LIB_SAN) $(HOST_LIBS)

# Guest-side test helpers (static musl), copied into test root file systems.
$(BUILD)/tests/guest/%: tests/guest/%.c $(MUSL_INC_STAMP)
	@mkdir -p $(dir $@)
	$(MUSL_CC) $(GUEST_CFLAGS) $(TEST_WARN) -static -o $@ $<

$(BUILD)/rootfs-busybox/bin/busybox: tests/lib/busybox-rootfs.sh
	tests/lib/busybox-rootfs.sh $(BUILD)/rootfs-busybox

# The same root file system packed as an OCI image layout: `make run`'s image.
$(BUILD)/oci/busybox/index.json: $(BUILD)/rootfs-busybox/bin/busybox scripts/oci-layout.sh
	scripts/oci-layout.sh $(BUILD)/rootfs-busybox $(BUILD)/oci/busybox

# Images tier: a stand-in libcurl.so.4 that forwards to the real one and
# answers as an older or stricter libcurl would (the protocol-limit fallback).
$(BUILD)/tests/curlshim/libcurl.so.4: tests/images/curlshim.c
	@mkdir -p $(dir $@)
	$(CC) $(STD) $(WARN) -O1 -g -fPIC -shared -o $@ $< -ldl

# Guest tier and bench: compose an initramfs exactly as nestbox does, for plain QEMU.
$(BUILD)/tests/guest/mkinitramfs: tests/guest/mkinitramfs.c $(HOST_LIB_SAN)
	@mkdir -p $(dir $@)
	$(CC) $(SAN_CFLAGS) $(TEST_WARN) -o $@ $< $(HOST_LIB_SAN) $(HOST_LIBS)

# A non-Linux ELF payload linked at 1 MiB: `nestbox run --kernel` boots it
# even on a PVM host (tests/kvm, bench/). payload-wait.elf never reports a
# status: it runs until nestbox is stopped (--timeout, a signal, kill).
PAYLOAD_LD := -nostdlib -static -no-pie -Wl,-N -Wl,-Ttext=0x100000 -Wl,-e,_start \
	      -Wl,--build-id=none -Wl,-z,noexecstack -Wl,--no-warn-rwx-segments
$(BUILD)/tests/kvm/payload.elf: tests/kvm/payload.S
	@mkdir -p $(dir $@)
	$(CC) $(PAYLOAD_LD) -o $@ $<
$(BUILD)/tests/kvm/payload-wait.elf: tests/kvm/payload.S
	@mkdir -p $(dir $@)
	$(CC) $(PAYLOAD_LD) -DNB_PAYLOAD_WAIT -o $@ $<

tests: all $(UNIT_BINS) $(KVM_BINS) $(BUILD)/tests/kvm/payload.elf $(BUILD)/tests/kvm/payload-wait.elf $(BUILD)/tests/guest/mkinitramfs $(BUILD)/tests/guest/vsock-echo $(BUILD)/tests/guest/mmapcat $(BUILD)/rootfs-busybox/bin/busybox \
	$(BUILD)/tests/curlshim/libcurl.so.4 $(BUILD)/oci/busybox/index.json

unit: $(UNIT_BINS)
	tests/run unit

test: tests
	tests/run

run: all $(BUILD)/oci/busybox/index.json
	tests/demo.sh

# libFuzzer targets (tests/fuzz/fuzz_*.c) over the device code and the
# vCPU exit decoding, each seeded from tests/fuzz/corpus/<target>/.
#   make fuzz           run each for FUZZ_TIME seconds (default 60)
# `make test` runs them briefly as the fuzz tier (tests/fuzz/run.sh).
# FUZZ_EXTRA adds compiler flags (tests/fuzz/coverage.sh builds with it).
FUZZ_TIME   ?= 60
FUZZ_CFLAGS := $(STD) $(WARN_BASE) -O1 -g -I. -Iinclude -Itests -fsanitize=fuzzer,address,undefined \
	       -fno-sanitize-recover=all -fno-omit-frame-pointer $(FUZZ_EXTRA)
FUZZ_LIB    := $(wildcard vmm/virtio/*.c vmm/dev/*.c) vmm/kvm/memory.c vmm/kvm/bus.c vmm/kvm/event.c vmm/kvm/stop.c \
	       vmm/kvm/vcpu_exit.c vmm/kvm/kvm.c vmm/kvm/statefile.c images/digest.c common/err.c common/file.c \
	       common/parse.c
FUZZ_BINS   := $(patsubst tests/fuzz/%.c,$(BUILD)/fuzz/%,$(wildcard tests/fuzz/fuzz_*.c))

$(BUILD)/fuzz/%: tests/fuzz/%.c $(FUZZ_LIB) $(wildcard vmm/*/*.h vmm/*/*/*.h tests/lib/*.h tests/fuzz/*.h)
	@mkdir -p $(dir $@)
	clang $(FUZZ_CFLAGS) -o $@ $< $(FUZZ_LIB) -lpthread -lnettle

# Image parsers and the tar-to-image path (explicit rules beat the pattern).
FUZZ_IMAGES_LIB := images/oci.c images/json.c images/digest.c common/err.c common/report.c common/file.c
$(BUILD)/fuzz/fuzz_manifest: tests/fuzz/fuzz_manifest.c $(FUZZ_IMAGES_LIB) $(wildcard images/*.h)
	@mkdir -p $(dir $@)
	clang $(FUZZ_CFLAGS) -o $@ $< $(FUZZ_IMAGES_LIB) -ljson-c -lnettle
$(BUILD)/fuzz/fuzz_layer: tests/fuzz/fuzz_layer.c images/layers.c images/cache.c $(FUZZ_IMAGES_LIB)
	@mkdir -p $(dir $@)
	clang $(FUZZ_CFLAGS) -o $@ $< images/layers.c images/cache.c $(FUZZ_IMAGES_LIB) \
		-larchive -ljson-c -lnettle

# The workload spec decoder as nestbox-init runs it (host libfdt: the
# guest links Debian's libfdt.a of the same version).
$(BUILD)/fuzz/fuzz_spec: tests/fuzz/fuzz_spec.c common/spec.c common/tmpfs.c common/err.c \
		$(wildcard common/*.h) include/nestbox/abi.h tests/lib/spec_same.h
	@mkdir -p $(dir $@)
	clang $(FUZZ_CFLAGS) -o $@ $< common/spec.c common/tmpfs.c common/err.c -lfdt
# The headers a template's preload reads from image files (guest code,
# libc and common/file.c only).
$(BUILD)/fuzz/fuzz_preload: tests/fuzz/fuzz_preload.c container/preload.c container/preload.h \
		common/file.c common/err.c
	@mkdir -p $(dir $@)
	clang $(FUZZ_CFLAGS) -o $@ $< common/file.c common/err.c
# The `nestbox exec` stream as host and guest read each other's (libc only).
$(BUILD)/fuzz/fuzz_execmsg: tests/fuzz/fuzz_execmsg.c common/execmsg.c common/err.c \
		common/execmsg.h common/le.h tests/fuzz/fuzz_check.h
	@mkdir -p $(dir $@)
	clang $(FUZZ_CFLAGS) -o $@ $< common/execmsg.c common/err.c
# Image import as `nestbox pull` runs it (archives, registries), with the
# layer conversion replaced by a digest check (--wrap=nb_layer_get).
FUZZ_IMPORT_LIB := $(filter-out images/initramfs.c images/runplan.c,$(wildcard images/*.c)) \
		   common/dl.c common/err.c common/file.c common/parse.c common/report.c
FUZZ_IMPORT_BINS := $(BUILD)/fuzz/fuzz_archive $(BUILD)/fuzz/fuzz_registry
$(FUZZ_IMPORT_BINS): $(BUILD)/fuzz/%: tests/fuzz/%.c tests/fuzz/layer_check.c $(FUZZ_IMPORT_LIB) \
		$(wildcard images/*.h)
	@mkdir -p $(dir $@)
	clang $(FUZZ_CFLAGS) -Wl,--wrap=nb_layer_get -o $@ $< tests/fuzz/layer_check.c \
		$(FUZZ_IMPORT_LIB) -larchive -ljson-c -lnettle -ldl -lpthread

# The parsers of what callers hand nestbox: the control API's request
# line, `nestbox serve`'s request, a Docker seccomp profile (compiled with
# libseccomp), an OCI bundle's config.json and `exec --process` (which
# read capabilities by the seccomp code's names). libseccomp's SCMP_A0()
# leaves a field to its default, which clang's -Wextra reports.
FUZZ_JSON_LIB := images/json.c common/err.c common/file.c
FUZZ_SECCOMP_LIB := vmm/run/container_seccomp.c vmm/confine/seccomp_bpf.c \
		    vmm/confine/seccomp_prebuilt.c $(FUZZ_JSON_LIB)
$(BUILD)/fuzz/fuzz_ctl: tests/fuzz/fuzz_ctl.c vmm/run/ctl_proto.c common/parse.c $(FUZZ_JSON_LIB) \
		$(wildcard vmm/run/*.h images/*.h tests/fuzz/*.h)
	@mkdir -p $(dir $@)
	clang $(FUZZ_CFLAGS) -o $@ $< vmm/run/ctl_proto.c common/parse.c $(FUZZ_JSON_LIB) -ljson-c
$(BUILD)/fuzz/fuzz_serve_req: tests/fuzz/fuzz_serve_req.c vmm/cli/serve_req.c $(FUZZ_JSON_LIB) \
		$(wildcard vmm/cli/*.h images/*.h tests/fuzz/*.h)
	@mkdir -p $(dir $@)
	clang $(FUZZ_CFLAGS) -o $@ $< vmm/cli/serve_req.c $(FUZZ_JSON_LIB) -ljson-c -lnettle
$(BUILD)/fuzz/fuzz_seccomp_profile: tests/fuzz/fuzz_seccomp_profile.c $(FUZZ_SECCOMP_LIB) \
		$(wildcard vmm/run/*.h vmm/confine/*.h tests/fuzz/*.h)
	@mkdir -p $(dir $@)
	clang $(FUZZ_CFLAGS) -Wno-missing-field-initializers -o $@ $< $(FUZZ_SECCOMP_LIB) \
		-ljson-c -lseccomp
FUZZ_OCI_LIB := vmm/run/oci_bundle.c vmm/run/resources.c common/parse.c common/tmpfs.c \
		$(FUZZ_SECCOMP_LIB)
$(BUILD)/fuzz/fuzz_oci_bundle: tests/fuzz/fuzz_oci_bundle.c $(FUZZ_OCI_LIB) \
		$(wildcard vmm/run/*.h common/*.h tests/fuzz/*.h)
	@mkdir -p $(dir $@)
	clang $(FUZZ_CFLAGS) -Wno-missing-field-initializers -o $@ $< $(FUZZ_OCI_LIB) \
		-ljson-c -lseccomp

.PHONY: fuzz fuzz-bins
fuzz-bins: $(FUZZ_BINS)
fuzz: fuzz-bins
	NESTBOX_FUZZ_TIME=$(FUZZ_TIME) tests/fuzz/run.sh

# Style (.clang-format), static analysis and the strict-warnings compile:
# scripts/check.sh, one "ok NAME" / "not ok NAME: why" line per step; the
# check tier of `make test` (tests/run check).
FORMAT_SRCS := $(shell find common vmm images container guest-init include tests -name '*.[ch]' | sort)
export NB_FORMAT_SRCS := $(FORMAT_SRCS)
export NB_HOST_CHECK := $(CC) $(STD) $(WARN) -I. -Iinclude -Itests -fsyntax-only
export NB_GUEST_CHECK := $(MUSL_CC) $(STD) $(WARN) -I. -Iinclude -I$(BUILD)/musl-include -fsyntax-only
export NB_HOST_CHECK_SRCS := $(HOST_SRCS)
export NB_GUEST_CHECK_SRCS := $(GUEST_SRCS)
export NB_TEST_CHECK_SRCS := $(UNIT_SRCS) $(KVM_SRCS) tests/guest/mkinitramfs.c tests/images/curlshim.c
export NB_TEST_GUEST_CHECK_SRCS := $(filter-out tests/guest/mkinitramfs.c,$(wildcard tests/guest/*.c))
check: $(MUSL_INC_STAMP) $(BUILD)/version.h
	scripts/check.sh

format-check:
	scripts/check.sh format

format:
	clang-format -i $(FORMAT_SRCS)

clean:
	rm -rf $(BUILD)

-include $(shell find $(BUILD) -name '*.d' 2>/dev/null)

endif # NB_PACKAGES
