#!/usr/bin/env python3
"""An OCI container whose output nobody reads (tests/e2e/oci.sh).

  oci_unread.py NESTBOX ROOT BUNDLE ID

Runs `NESTBOX --root ROOT create --bundle BUNDLE ID` with its stdout a pipe
whose read end is closed at once (the container's output has no reader),
then `start ID`; as the child subreaper it reaps the container's process
(the VMM, which create leaves running) and prints how that ended:
"exited N" or "killed by signal N" (within 240 s, else "still running").
The container's stderr, where its error goes, is copied to ours.
"""
import ctypes
import os
import subprocess
import sys
import tempfile
import time

PR_SET_CHILD_SUBREAPER = 36


def main():
    nestbox, root, bundle, cid = sys.argv[1:5]
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) != 0:
        sys.exit("prctl(PR_SET_CHILD_SUBREAPER) failed")
    pid_file = os.path.join(bundle, "unread.pid")
    r, w = os.pipe()
    os.close(r)
    with tempfile.TemporaryFile() as err:
        create = subprocess.run([nestbox, "--root", root, "create", "--bundle", bundle,
                                 "--pid-file", pid_file, cid], stdout=w, stderr=err)
        os.close(w)
        if create.returncode != 0:
            sys.exit(f"create: status {create.returncode}")
        with open(pid_file) as f:
            pid = int(f.read())
        subprocess.run([nestbox, "--root", root, "start", cid], check=True)
        how = "still running"
        deadline = time.monotonic() + 240
        while time.monotonic() < deadline:
            try:
                got, status = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                how = "not reaped here"
                break
            if got == pid:
                how = (f"exited {os.WEXITSTATUS(status)}" if os.WIFEXITED(status)
                       else f"killed by signal {os.WTERMSIG(status)}")
                break
            if got == 0:
                time.sleep(0.1)
        print(how, flush=True)
        err.seek(0)
        sys.stderr.buffer.write(err.read())


if __name__ == "__main__":
    main()
