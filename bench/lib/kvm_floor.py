#!/usr/bin/env python3
"""What one VM costs this host's kernel, whoever the VMM: KVM_CREATE_VM,
then the close of the VM's descriptor (its teardown), each timed around the
one call, medians of RUNS, in milliseconds, as one JSON object.

    kvm_floor.py RUNS

Every VMM (nestbox, Firecracker, QEMU) pays both per VM. A VM with no vCPU,
no memory and no devices: the floor. Linux 6.1's KVM starts a kthread for
each VM at create (NX huge page recovery), moves it into the caller's
cgroups (an RCU grace period unless cgroup2 has favordynmods), and stops
it at teardown. In the emulated test host: create 2.5-19 ms, close 17-30
ms (not measured on hardware here).
"""
import fcntl
import json
import os
import statistics
import sys
import time

KVM_CREATE_VM = 0xAE01  # _IO(KVMIO, 0x01)


def one():
    kvm = os.open("/dev/kvm", os.O_RDWR | os.O_CLOEXEC)
    try:
        t0 = time.monotonic()
        vm = fcntl.ioctl(kvm, KVM_CREATE_VM, 0)
        t1 = time.monotonic()
        os.close(vm)
        t2 = time.monotonic()
    finally:
        os.close(kvm)
    return (t1 - t0) * 1000, (t2 - t1) * 1000


def main():
    got = [one() for _ in range(int(sys.argv[1]))]
    print(json.dumps({"runs": len(got),
                      "create_ms": round(statistics.median(g[0] for g in got), 2),
                      "destroy_ms": round(statistics.median(g[1] for g in got), 2)}))


if __name__ == "__main__":
    main()
