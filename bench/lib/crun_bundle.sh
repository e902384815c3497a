# shellcheck shell=bash
# crun_bundle DIR ROOTFS: an OCI bundle in DIR running `true` in a copy of
# ROOTFS without a terminal (crun's default spec otherwise), the yardstick
# the benches time nestbox against.
crun_bundle() {
	mkdir -p "$1"
	cp -a "$2" "$1/rootfs"
	(cd "$1" && crun spec)
	python3 - "$1/config.json" <<'PY'
import json, sys
p = sys.argv[1]
c = json.load(open(p))
c["process"]["terminal"] = False
c["process"]["args"] = ["true"]
json.dump(c, open(p, "w"))
PY
}
