# install.mk -- `make install` / `make uninstall`, and `make test-install`.
#
# Installs the l2d binary to $(DESTDIR)$(BINDIR), the man page to
# $(DESTDIR)$(MANDIR)/man1 and the systemd unit (ExecStart pointed at
# $(BINDIR)/l2d) to $(DESTDIR)$(SYSTEMDUNITDIR); nothing is enabled or started.
# PREFIX defaults to /usr/local; DESTDIR stages the tree for packaging.

PREFIX         ?= /usr/local
BINDIR         ?= $(PREFIX)/bin
MANDIR         ?= $(PREFIX)/share/man
SYSTEMDUNITDIR ?= $(PREFIX)/lib/systemd/system
INSTALL        ?= install

.PHONY: install uninstall test-install

install: $(L2D) man/l2d.1 packaging/l2d.service ## install binary, man page, unit (PREFIX, DESTDIR)
	$(INSTALL) -d $(DESTDIR)$(BINDIR) $(DESTDIR)$(MANDIR)/man1 $(DESTDIR)$(SYSTEMDUNITDIR)
	$(INSTALL) -m 0755 $(L2D) $(DESTDIR)$(BINDIR)/l2d
	$(INSTALL) -m 0644 man/l2d.1 $(DESTDIR)$(MANDIR)/man1/l2d.1
	sed 's|^ExecStart=/usr/local/bin/l2d|ExecStart=$(BINDIR)/l2d|' packaging/l2d.service \
		>$(DESTDIR)$(SYSTEMDUNITDIR)/l2d.service.tmp
	chmod 0644 $(DESTDIR)$(SYSTEMDUNITDIR)/l2d.service.tmp
	mv -f $(DESTDIR)$(SYSTEMDUNITDIR)/l2d.service.tmp $(DESTDIR)$(SYSTEMDUNITDIR)/l2d.service

uninstall: ## remove what make install installed
	rm -f $(DESTDIR)$(BINDIR)/l2d $(DESTDIR)$(MANDIR)/man1/l2d.1 \
		$(DESTDIR)$(SYSTEMDUNITDIR)/l2d.service

# Installs into a temporary DESTDIR (default and a custom PREFIX), checks
# every file and that the man page documents every flag of `l2d --help`,
# verifies the unit with systemd-analyze where it exists, then uninstalls.
test-install: $(L2D) ## install into a temporary DESTDIR, check, uninstall
	$(Q)bash tests/install/test-install.sh $(L2D)

TEST_EXTRA += test-install
