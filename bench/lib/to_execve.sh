# shellcheck shell=bash
# to_execve CMD...: run CMD and print the milliseconds from its start to the
# guest's "container execve" debug line on its output (the VM's kernel
# booted with nestbox.debug; the first byte of that line).
to_execve() {
	local start line
	start=$(date +%s%N)
	"$@" 2>&1 | while IFS= read -r line; do
		case $line in *"container execve"*)
			echo $((($(date +%s%N) - start) / 1000000))
			cat >/dev/null
			;;
		esac
	done
}
