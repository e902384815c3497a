# shellcheck shell=bash
# Where a benchmark that needs KVM runs. Source it first thing with the
# script's own arguments: unless already inside, it re-runs the script
# through tests/testhost/run, which execs it here where this host's KVM
# runs stock guests and runs it in the emulated test host otherwise; then
# nb_bench_where says which, for the table's heading.
#   . bench/lib/where.sh "$@"
#   shift # --inner
if [ "${1:-}" != --inner ]; then
	exec tests/testhost/run "$0" --inner "$@"
fi
if [ -n "${NESTBOX_IN_TESTHOST:-}" ]; then
	nb_bench_where="in the emulated test host (L1: QEMU TCG with nested SVM; read ratios, not absolute times)"
else
	nb_bench_where="on this host's KVM"
fi
