# shellcheck shell=bash
# Not a product group: tests/testhost/selftest.sh runs it alone
# (NESTBOX_E2E_GROUPS=harness) to check that tests/run runs the e2e
# groups again in a new test host when L1's kernel dies. With
# build/e2e-harness-die present, L1 panics here (once: the file goes first).
ok e2e_harness_ran
if [ -e build/e2e-harness-die ]; then
	rm -f build/e2e-harness-die
	sync
	echo c >/proc/sysrq-trigger
	sleep 600
fi
