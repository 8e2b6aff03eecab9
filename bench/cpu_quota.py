"""A cgroup CPU quota for a benchmark's server, created for the run and removed
after: the Python form of `ringlet_loadgen compare --quota`
(tools/loadgen/server_process.cpp), for the bench/ scripts that start their
servers themselves. DESIGN.md "Measuring on two vCPUs" says why: with the
server held to part of a CPU, the server and not the load generator is the
limit, so requests/s follows the server's (or the client's) efficiency.

    quota = cpu_quota(0.5, 'loadgen-peers')    # needs root and a cgroup tree
    subprocess.Popen(cmd, preexec_fn=quota.join)
    ...
    quota.remove()

cgroup v2 (cpu.max) where the unified tree is at /sys/fs/cgroup, otherwise v1
(cpu.cfs_quota_us under /sys/fs/cgroup/cpu). The group gets the largest CPU
weight: on a machine busy with other work a group of default weight got 2 %
of a CPU instead of its quota (measured with compare --quota). A SCHED_FIFO
task escapes a CFS quota: run a server in a quota at nice -20 instead.
"""
import os
import sys
import time

PERIOD_US = 100000  # DESIGN.md's 50000 of 100000 for half a CPU


class cpu_quota:
    def __init__(self, cpus, label, period_us=PERIOD_US):
        quota = int(cpus * period_us)
        if quota < 1000:
            raise ValueError(f'a quota of {cpus:g} CPU per {period_us} us is below the kernel\'s 1 ms minimum')
        name = f'ringlet-{label}-{os.getpid()}'
        v2 = os.path.exists('/sys/fs/cgroup/cgroup.controllers')
        if not v2 and not os.path.isdir('/sys/fs/cgroup/cpu'):
            raise OSError('no cgroup CPU controller at /sys/fs/cgroup (neither v2 cgroup.controllers nor v1 cpu/)')
        self.path = os.path.join('/sys/fs/cgroup' if v2 else '/sys/fs/cgroup/cpu', name)
        try:
            os.mkdir(self.path)
        except OSError as e:
            raise OSError(f'mkdir {self.path} (a CPU quota needs root and a writable cgroup tree): {e}') from None
        try:
            if v2:
                if not os.path.exists(os.path.join(self.path, 'cpu.max')):
                    self._write('/sys/fs/cgroup/cgroup.subtree_control', '+cpu', best_effort=True)
                self._write(os.path.join(self.path, 'cpu.max'), f'{quota} {period_us}')
                self._write(os.path.join(self.path, 'cpu.weight'), '10000', best_effort=True)
            else:
                self._write(os.path.join(self.path, 'cpu.cfs_period_us'), str(period_us))
                self._write(os.path.join(self.path, 'cpu.cfs_quota_us'), str(quota))
                self._write(os.path.join(self.path, 'cpu.shares'), '262144', best_effort=True)
        except BaseException:
            os.rmdir(self.path)
            raise
        self.procs = os.path.join(self.path, 'cgroup.procs')

    @staticmethod
    def _write(path, value, best_effort=False):
        try:
            with open(path, 'w') as f:
                f.write(value)
        except OSError as e:
            if not best_effort:
                raise OSError(f'{path} = {value}: {e}') from None

    def join(self):
        """Moves the calling process into the group (a Popen preexec_fn: the
        server and everything it forks start inside the quota)."""
        with open(self.procs, 'w') as f:
            f.write(str(os.getpid()))

    def add(self, pid):
        """Moves process `pid` into the group (children it forks later follow it)."""
        with open(self.procs, 'w') as f:
            f.write(str(pid))

    def throttled(self):
        """How many periods the quota throttled the group so far (-1: unknown)."""
        try:
            for line in open(os.path.join(self.path, 'cpu.stat')):
                if line.startswith('nr_throttled '):
                    return int(line.split()[1])
        except OSError:
            pass
        return -1

    def remove(self):
        for _ in range(50):
            try:
                os.rmdir(self.path)
                return
            except FileNotFoundError:
                return
            except OSError:
                time.sleep(0.1)  # a process still leaving it
        print(f'warning: could not remove {self.path}', file=sys.stderr)
