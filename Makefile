# Build and install skopos as skopeo's Makefile does:
#   make                          release binary, man pages and shell completions
#   make install                  install them under PREFIX (/usr/local), staged under DESTDIR
#   make binary-static            a statically linked binary (see below)
#   make docs / make completions  only the man pages / only the completion scripts
# Pages and completions are written by the binary itself (hidden `generate-man-pages` and
# `completion` commands), from the same command definition as its --help.

PREFIX ?= /usr/local
BINDIR ?= $(PREFIX)/bin
# skopos-ostree, the helper that carries the ostree: transport, goes where skopos looks for it
# when it is not beside the binary: ../libexec/skopos/ relative to BINDIR.
LIBEXECDIR ?= $(PREFIX)/libexec
MANDIR ?= $(PREFIX)/share/man
BASHINSTALLDIR ?= $(PREFIX)/share/bash-completion/completions
ZSHINSTALLDIR ?= $(PREFIX)/share/zsh/site-functions
FISHINSTALLDIR ?= $(PREFIX)/share/fish/vendor_completions.d
DESTDIR ?=

CARGO ?= cargo
# The binary to install and to write pages and completions with. The default is built with
# `cargo build --release`; naming another (the tests name their debug build) skips that build.
SKOPOS_BINARY ?= target/release/skopos
# Built beside it unless the build left the ostree feature out.
OSTREE_HELPER = $(dir $(SKOPOS_BINARY))skopos-ostree
# Where `make docs` and `make completions` write what they generate.
GENERATED_DIR ?= target/generated

# `make binary-static`: glibc linked in (crt-static), so the binary runs without a C library
# on the machine, and its allocator is the same glibc malloc as the default build's. Every
# transport and signer is pure Rust except ostree:, which needs libostree and is left out
# (--no-default-features). The build has its own --target directory, so it never invalidates
# the ordinary one. Name resolution reads /etc/hosts and DNS as any glibc program does.
STATIC_TARGET ?= x86_64-unknown-linux-gnu
STATIC_PROFILE ?= release
STATIC_TARGET_DIR ?= target
STATIC_PROFILE_DIR = $(if $(filter dev,$(STATIC_PROFILE)),debug,$(STATIC_PROFILE))
STATIC_BINARY = $(STATIC_TARGET_DIR)/$(STATIC_TARGET)/$(STATIC_PROFILE_DIR)/skopos

MAN_DIR = $(GENERATED_DIR)/man1
COMPLETIONS_DIR = $(GENERATED_DIR)/completions

# Build the binary only when it is the default one.
ifeq ($(SKOPOS_BINARY),target/release/skopos)
BINARY_PREREQUISITE = binary
endif

.PHONY: all binary binary-static docs completions install install-binary install-docs \
	install-completions uninstall clean

all: binary docs completions

binary:
	$(CARGO) build --release --locked -p skopos

binary-static:
	RUSTFLAGS="$(RUSTFLAGS) -C target-feature=+crt-static" $(CARGO) build --locked -p skopos \
		--no-default-features --profile $(STATIC_PROFILE) --target $(STATIC_TARGET) \
		--target-dir $(STATIC_TARGET_DIR)
	@echo "static binary: $(STATIC_BINARY)"

docs: $(BINARY_PREREQUISITE)
	rm -rf $(MAN_DIR)
	$(SKOPOS_BINARY) generate-man-pages $(MAN_DIR)

completions: $(BINARY_PREREQUISITE)
	mkdir -p $(COMPLETIONS_DIR)
	$(SKOPOS_BINARY) completion bash > $(COMPLETIONS_DIR)/skopos.bash
	$(SKOPOS_BINARY) completion zsh > $(COMPLETIONS_DIR)/_skopos
	$(SKOPOS_BINARY) completion fish > $(COMPLETIONS_DIR)/skopos.fish

install: install-binary install-docs install-completions

install-binary: $(BINARY_PREREQUISITE)
	install -d -m 755 $(DESTDIR)$(BINDIR)
	install -m 755 $(SKOPOS_BINARY) $(DESTDIR)$(BINDIR)/skopos
	if [ -f $(OSTREE_HELPER) ]; then \
		install -d -m 755 $(DESTDIR)$(LIBEXECDIR)/skopos && \
		install -m 755 $(OSTREE_HELPER) $(DESTDIR)$(LIBEXECDIR)/skopos/skopos-ostree; \
	fi

install-docs: docs
	install -d -m 755 $(DESTDIR)$(MANDIR)/man1
	install -m 644 $(MAN_DIR)/*.1 $(DESTDIR)$(MANDIR)/man1/

install-completions: completions
	install -d -m 755 $(DESTDIR)$(BASHINSTALLDIR) $(DESTDIR)$(ZSHINSTALLDIR) \
		$(DESTDIR)$(FISHINSTALLDIR)
	install -m 644 $(COMPLETIONS_DIR)/skopos.bash $(DESTDIR)$(BASHINSTALLDIR)/skopos
	install -m 644 $(COMPLETIONS_DIR)/_skopos $(DESTDIR)$(ZSHINSTALLDIR)/_skopos
	install -m 644 $(COMPLETIONS_DIR)/skopos.fish $(DESTDIR)$(FISHINSTALLDIR)/skopos.fish

uninstall:
	rm -f $(DESTDIR)$(BINDIR)/skopos $(DESTDIR)$(LIBEXECDIR)/skopos/skopos-ostree \
		$(DESTDIR)$(MANDIR)/man1/skopos.1 \
		$(DESTDIR)$(MANDIR)/man1/skopos-*.1 $(DESTDIR)$(BASHINSTALLDIR)/skopos \
		$(DESTDIR)$(ZSHINSTALLDIR)/_skopos $(DESTDIR)$(FISHINSTALLDIR)/skopos.fish

clean:
	$(CARGO) clean
