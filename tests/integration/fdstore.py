#!/usr/bin/env python3
"""fdstore.py: a fake systemd service manager for tests (stdlib only).

Runs one service the way systemd runs a Type=notify unit with a file
descriptor store (FileDescriptorStoreMax=), so that a test can restart it
as `systemctl restart` does and check what the service gets back:

    fdstore.py run --dir DIR [--store-max N] [--notify-access main|all]
                   [--stop-timeout S] [--watchdog-usec USEC] [--preserve]
                   [--lifetime S] -- COMMAND [ARG...]
    fdstore.py ctl --dir DIR restart|start|stop|quit [--wait ready|started]
                   [--timeout S]
    fdstore.py ctl --dir DIR state | wait-ready [--timeout S]

`run` makes, in DIR (a folder of the test's own):

    DIR/notify.sock   the NOTIFY_SOCKET (AF_UNIX, SOCK_DGRAM, SO_PASSCRED)
    DIR/control       a FIFO: one command a line (restart, start, stop, quit)
    DIR/events.log    one JSON object a line, for every notification and
                      every action (see EVENTS below)
    DIR/state.json    the current state, replaced atomically on each change:
                      pid, running, starts, ready (READY=1 seen from the
                      current process), stopping, status (last STATUS=),
                      store ([{name, ino, desc}] in the order they would be
                      passed), last_exit
    DIR/ready         written once the socket and the FIFO exist

and starts COMMAND at once.  SIGUSR1 to the fake is "restart"; SIGTERM,
SIGINT and SIGHUP are "quit".  `ctl` writes a command to the FIFO and, with
--wait, waits (bounded) until the next process has started (started) or
has sent READY=1 (ready), then prints state.json.  Every wait is bounded:
the fake stops its service and exits after --lifetime seconds (default
600) or as soon as its parent process is gone.

What is emulated, and how systemd does it
-----------------------------------------
References: sd_notify(3), sd_listen_fds(3), systemd.service(5)
(FileDescriptorStoreMax=, NotifyAccess=, KillMode=), systemd.kill(5), and
systemd's src/core/service.c (service_notify_message,
service_add_fd_store, service_remove_fd_store, service_collect_fds,
service_release_resources) and src/core/manager.c
(manager_dispatch_notify_fd); the behaviour is systemd 252's (Debian 12)
unless a line says otherwise.

* The notification socket.  Datagrams of at most PIPE_BUF (4096) bytes,
  newline-separated VAR=VALUE assignments; at most 768 fds per datagram
  (NOTIFY_FD_MAX).  A truncated datagram (MSG_TRUNC) or truncated control
  data (MSG_CTRUNC) is ignored and its fds closed.  The sender's pid comes
  from SCM_CREDENTIALS.  Datagrams already queued are read before a child's
  exit is handled, as systemd gives its notify socket a higher priority
  than SIGCHLD: a STOPPING=1 or FDSTORE=1 sent just before exit counts.
* NotifyAccess= (--notify-access, default main): with main, a datagram from
  any pid but the main process's is refused ("reception only permitted for
  main PID") and its fds closed.  MAINPID=N from the main process makes N
  the main process (systemd also checks that N belongs to the unit).
* READY=1, RELOADING=1, STOPPING=1, STATUS=, ERRNO=, WATCHDOG=1,
  WATCHDOG_USEC=, EXTEND_TIMEOUT_USEC=, MONOTONIC_USEC=: logged; READY=1
  sets "ready" in the state.  The watchdog is not enforced.
* FDSTORE=1: every fd that came with the datagram (SCM_RIGHTS) is put in
  the store, named FDNAME= (all fds of one datagram get the same name; no
  FDNAME=, or an invalid one -- a control character, ':', or longer than
  255 -- gives the name "stored").  An fd that refers to the same open
  file as one already stored (systemd: same_fd(); here: the same st_dev
  and st_ino) is dropped as a duplicate.  Past FileDescriptorStoreMax=
  (--store-max, default 1024; systemd's default is 0, i.e. no store) the
  rest is closed with "Cannot store more fds than FileDescriptorStoreMax=".
  Fds sent without FDSTORE=1 are closed.
* FDSTOREREMOVE=1 with FDNAME=NAME closes and forgets every stored fd of
  that name; without a valid FDNAME= it is ignored.  In one datagram,
  FDSTOREREMOVE=1 wins: FDSTORE=1 beside it is not acted on.
* FDPOLL=0 (with FDSTORE=1): the fds are not polled.  Otherwise a stored
  fd is polled and dropped from the store on POLLHUP or POLLERR (systemd
  adds it to its event loop with no events, so only those two count): a
  listening TCP socket never gets them, but one that was shut down
  (shutdown(2) on a listener moves it to TCP_CLOSE) does.
* The store is kept over a restart (`systemctl restart`: stop and start
  in one job).  When the service stops for good (stop, quit, or an exit
  that is not part of a restart) it is released (closed), unless
  --preserve (FileDescriptorStorePreserve=yes, systemd 254+).
* Starting: fork; in the child, setsid(), stdin /dev/null, signal
  dispositions and mask reset, the stored fds dup2()ed to 3, 4, ... in the
  store's order, every other fd above 2 closed, then exec with the
  environment plus NOTIFY_SOCKET, and when fds are passed LISTEN_FDS=n,
  LISTEN_PID=<the child's own pid> and LISTEN_FDNAMES=names joined by ':'
  (sd_listen_fds(3); LISTEN_FDNAMES since systemd 227).  The store's order
  is systemd's: it prepends each new fd to its list (LIST_PREPEND), so
  the fd stored last comes first (at fd 3).  A service must find its
  sockets by name (LISTEN_FDNAMES) or by address, not by position.
  FDSTORE=<max> is also set, as systemd 254+ does when the unit has a
  store.  WATCHDOG_USEC and WATCHDOG_PID are set with --watchdog-usec.
  LISTEN_*, NOTIFY_SOCKET, WATCHDOG_* of the fake's own environment are
  never passed on.
* Stopping (KillMode=control-group, KillSignal=SIGTERM, SendSIGKILL=yes):
  SIGTERM to the service's process group (its session, made by setsid:
  the stand-in for its cgroup), SIGKILL to the group after --stop-timeout
  seconds (TimeoutStopSec=, default here 10 s); once the main process has
  exited, what is left of the group is killed.  Notifications keep being
  read while stopping (FDSTORE=1 during shutdown is the point).

EVENTS (events.log): every line has "t" (CLOCK_MONOTONIC seconds) and "ev":
  notify   pid, fields (list), nfds, accepted (bool)[, why]
  store    name, ino, desc, poll          dup     name, ino
  full     closed (count)                 remove  name, n
  hup      name, ino (dropped on POLLHUP/POLLERR)
  closed   n (fds sent without FDSTORE=1, or refused)
  start    pid, listen_fds, names, descs
  term     pid                            kill    pid
  exit     pid, code or signal, main (bool)
  release  n (the store closed)           quit
"""

import argparse
import errno
import fcntl
import json
import os
import select
import signal
import socket
import stat
import struct
import sys
import time

NOTIFY_BUFFER_MAX = 4096        # PIPE_BUF
NOTIFY_FD_MAX = 768
FDNAME_MAX = 255
LISTEN_FDS_START = 3


def now():
    return time.monotonic()


def fdname_is_valid(name):
    """systemd's fdname_is_valid(): ASCII, no control character, no ':'."""
    if len(name) > FDNAME_MAX:
        return False
    for ch in name:
        if ord(ch) < 32 or ord(ch) >= 127 or ch == ":":
            return False
    return True


def describe_fd(fd):
    """A short description of fd: 'tcp listen 0.0.0.0:80', 'udp ...'."""
    try:
        st = os.fstat(fd)
    except OSError as e:
        return "bad fd (%s)" % os.strerror(e.errno)
    if not stat.S_ISSOCK(st.st_mode):
        return "file mode %o" % st.st_mode
    try:
        s = socket.socket(fileno=os.dup(fd))
    except OSError as e:
        return "socket (%s)" % os.strerror(e.errno)
    try:
        kind = {socket.SOCK_STREAM: "tcp", socket.SOCK_DGRAM: "udp"}.get(
            s.type, "sock%d" % s.type)
        if s.family == socket.AF_UNIX:
            kind = "unix-" + kind
        try:
            name = s.getsockname()
        except OSError:
            name = "?"
        if isinstance(name, tuple):
            name = "%s:%d" % (name[0], name[1])
        try:
            lis = s.getsockopt(socket.SOL_SOCKET, socket.SO_ACCEPTCONN)
        except OSError:
            lis = 0
        return "%s%s %s" % (kind, " listen" if lis else "", name or "-")
    finally:
        s.close()


def fd_key(fd):
    st = os.fstat(fd)
    return (st.st_dev, st.st_ino)


class Fake:
    """The service manager: one service, its notify socket, its store."""

    def __init__(self, a):
        self.a = a
        self.dir = a.dir
        self.sock_path = os.path.join(a.dir, "notify.sock")
        self.ctl_path = os.path.join(a.dir, "control")
        self.log = open(os.path.join(a.dir, "events.log"), "a", buffering=1)
        self.store = []         # newest first: dicts fd, name, poll, ino
        self.pid = 0            # the main process
        self.pgid = 0           # its process group (session)
        self.starts = 0
        self.ready = False
        self.status = ""
        self.stopping = False   # SIGTERM sent, waiting for the exit
        self.stop_deadline = None
        self.after_stop = None  # "start" (restart), "dead" (stop), "quit"
        self.last_exit = None
        self.quitting = False
        self.ctl_buf = b""
        self.parent = os.getppid()
        self.deadline = now() + a.lifetime

    # --- output -----------------------------------------------------

    def event(self, ev, **kw):
        d = {"t": round(now(), 6), "ev": ev}
        d.update(kw)
        self.log.write(json.dumps(d, sort_keys=True) + "\n")

    def write_state(self):
        st = {
            "pid": self.pid, "running": self.pid != 0,
            "starts": self.starts, "ready": self.ready,
            "stopping": self.stopping, "status": self.status,
            "store": [{"name": e["name"], "ino": e["ino"],
                       "desc": describe_fd(e["fd"])} for e in self.store],
            "last_exit": self.last_exit,
        }
        tmp = os.path.join(self.dir, "state.json.tmp")
        with open(tmp, "w") as f:
            json.dump(st, f, sort_keys=True)
        os.replace(tmp, os.path.join(self.dir, "state.json"))

    # --- set-up -------------------------------------------------------

    def setup(self):
        self.nsock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.nsock.setsockopt(socket.SOL_SOCKET, socket.SO_PASSCRED, 1)
        try:
            os.unlink(self.sock_path)
        except FileNotFoundError:
            pass
        self.nsock.bind(self.sock_path)
        os.chmod(self.sock_path, 0o666)
        self.nsock.setblocking(False)
        try:
            os.unlink(self.ctl_path)
        except FileNotFoundError:
            pass
        os.mkfifo(self.ctl_path, 0o600)
        # O_RDWR: never an EOF when a writer closes.
        self.ctl = os.open(self.ctl_path, os.O_RDWR | os.O_NONBLOCK |
                           os.O_CLOEXEC)
        self.wake_r, self.wake_w = os.pipe2(os.O_NONBLOCK | os.O_CLOEXEC)
        signal.set_wakeup_fd(self.wake_w)
        self.sigs = []
        for s in (signal.SIGCHLD, signal.SIGUSR1, signal.SIGTERM,
                  signal.SIGINT, signal.SIGHUP):
            signal.signal(s, self.on_signal)
        with open(os.path.join(self.dir, "ready"), "w") as f:
            f.write("%d\n" % os.getpid())

    def on_signal(self, signo, _frame):
        self.sigs.append(signo)

    # --- the service --------------------------------------------------

    def start(self):
        fds = [e["fd"] for e in self.store]
        names = [e["name"] for e in self.store]
        descs = [describe_fd(fd) for fd in fds]
        env = {k: v for k, v in os.environ.items()
               if not k.startswith(("LISTEN_", "WATCHDOG_")) and
               k not in ("NOTIFY_SOCKET", "FDSTORE", "MAINPID")}
        env["NOTIFY_SOCKET"] = self.sock_path
        if self.a.store_max > 0:
            env["FDSTORE"] = str(self.a.store_max)
        r, w = os.pipe2(os.O_CLOEXEC)
        pid = os.fork()
        if pid == 0:
            os.close(r)
            self.child(fds, names, env, w)
        os.close(w)
        # The exec (or its error) closes the pipe: the child is set up.
        err = b""
        while True:
            b = os.read(r, 512)
            if not b:
                break
            err += b
        os.close(r)
        self.pid = pid
        self.pgid = pid
        self.starts += 1
        self.ready = False
        self.stopping = False
        self.event("start", pid=pid, listen_fds=len(fds), names=names,
                   descs=descs, argv=self.a.command,
                   **({"error": err.decode(errors="replace")} if err else {}))
        self.write_state()

    def child(self, fds, names, env, errw):
        """In the forked child: set up as systemd's exec does, exec."""
        try:
            os.setsid()
            for s in range(1, signal.NSIG):
                try:
                    signal.signal(s, signal.SIG_DFL)
                except (OSError, ValueError, RuntimeError):
                    pass
            signal.pthread_sigmask(signal.SIG_SETMASK, [])
            n = len(fds)
            # Out of the way of 3..3+n-1 first, then into place.
            hi = [fcntl.fcntl(fd, fcntl.F_DUPFD_CLOEXEC,
                              LISTEN_FDS_START + n) for fd in fds]
            if errw < LISTEN_FDS_START + n:
                errw = fcntl.fcntl(errw, fcntl.F_DUPFD_CLOEXEC,
                                   LISTEN_FDS_START + n)
            for i, fd in enumerate(hi):
                os.dup2(fd, LISTEN_FDS_START + i, inheritable=True)
            null = os.open("/dev/null", os.O_RDONLY)
            os.dup2(null, 0, inheritable=True)
            top = LISTEN_FDS_START + n
            for fd in os.listdir("/proc/self/fd"):
                fd = int(fd)
                if fd >= top and fd != errw:
                    try:
                        os.close(fd)
                    except OSError:
                        pass
            if n > 0:
                env["LISTEN_FDS"] = str(n)
                env["LISTEN_PID"] = str(os.getpid())
                env["LISTEN_FDNAMES"] = ":".join(names)
            if self.a.watchdog_usec > 0:
                env["WATCHDOG_USEC"] = str(self.a.watchdog_usec)
                env["WATCHDOG_PID"] = str(os.getpid())
            os.execvpe(self.a.command[0], self.a.command, env)
        except BaseException as e:  # noqa: B902 -- report, never return
            try:
                os.write(errw, ("exec %s: %s" % (self.a.command[0], e))
                         .encode())
            finally:
                os._exit(127)

    def kill_group(self, sig):
        try:
            os.killpg(self.pgid, sig)
        except ProcessLookupError:
            pass
        except PermissionError:
            try:
                os.kill(self.pid, sig)
            except ProcessLookupError:
                pass

    def stop(self, then):
        """Begin stopping the service; `then` runs once it is gone."""
        if self.pid == 0:
            self.after(then)
            return
        self.after_stop = then
        if self.stopping:
            return
        self.stopping = True
        self.stop_deadline = now() + self.a.stop_timeout
        self.event("term", pid=self.pid)
        self.kill_group(signal.SIGTERM)
        self.write_state()

    def after(self, then):
        if then == "start":
            self.start()
        else:
            if not self.a.preserve:
                self.release()
            if then == "quit":
                self.quitting = True
        self.write_state()

    def release(self):
        n = len(self.store)
        for e in self.store:
            os.close(e["fd"])
        self.store = []
        if n:
            self.event("release", n=n)

    def reap(self):
        while True:
            try:
                pid, status = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                return
            if pid == 0:
                return
            main = pid == self.pid
            info = {"pid": pid, "main": main}
            if os.WIFEXITED(status):
                info["code"] = os.WEXITSTATUS(status)
            elif os.WIFSIGNALED(status):
                info["signal"] = os.WTERMSIG(status)
            self.event("exit", **info)
            if not main:
                continue
            self.last_exit = info
            # What is left of its group goes with it (control-group).
            self.kill_group(signal.SIGKILL)
            self.pid = 0
            self.ready = False
            self.stopping = False
            self.stop_deadline = None
            then = self.after_stop or "dead"
            self.after_stop = None
            self.after(then)

    # --- notifications ------------------------------------------------

    def recv_notify(self):
        """Read every queued datagram."""
        creds = struct.calcsize("3i")
        anc = socket.CMSG_SPACE(NOTIFY_FD_MAX * 4) + socket.CMSG_SPACE(creds)
        while True:
            try:
                msg, ancdata, flags, _ = self.nsock.recvmsg(
                    NOTIFY_BUFFER_MAX, anc, socket.MSG_CMSG_CLOEXEC)
            except (BlockingIOError, InterruptedError):
                return
            pid = 0
            fds = []
            for level, kind, data in ancdata:
                if level != socket.SOL_SOCKET:
                    continue
                if kind == socket.SCM_CREDENTIALS:
                    pid = struct.unpack("3i", data[:creds])[0]
                elif kind == socket.SCM_RIGHTS:
                    n = len(data) // 4
                    fds.extend(struct.unpack("%di" % n, data[:n * 4]))
            self.notify(msg, flags, pid, fds)

    def close_fds(self, fds):
        for fd in fds:
            try:
                os.close(fd)
            except OSError:
                pass
        if fds:
            self.event("closed", n=len(fds))

    def notify(self, msg, flags, pid, fds):
        fields = [f for f in msg.decode("utf-8", "replace").split("\n") if f]
        base = {"pid": pid, "fields": fields, "nfds": len(fds)}
        if flags & socket.MSG_TRUNC:
            self.event("notify", accepted=False, why="datagram too long",
                       **base)
            self.close_fds(fds)
            return
        if flags & socket.MSG_CTRUNC:
            self.event("notify", accepted=False,
                       why="control data truncated", **base)
            self.close_fds(fds)
            return
        if self.a.notify_access == "main" and (self.pid == 0 or
                                               pid != self.pid):
            self.event("notify", accepted=False,
                       why="reception only permitted for main PID %d"
                       % self.pid, **base)
            self.close_fds(fds)
            return
        self.event("notify", accepted=True, **base)

        def find(prefix):
            for f in fields:
                if f.startswith(prefix):
                    return f[len(prefix):]
            return None

        mainpid = find("MAINPID=")
        if mainpid is not None and mainpid.isdigit() and pid == self.pid:
            self.pid = int(mainpid)
        if "STOPPING=1" not in fields and "READY=1" in fields:
            self.ready = True
        st = find("STATUS=")
        if st is not None:
            self.status = st
        name = find("FDNAME=")
        if "FDSTOREREMOVE=1" in fields:
            if name is None or not fdname_is_valid(name):
                self.event("remove", name=name, n=0,
                           why="no valid FDNAME=")
            else:
                keep = []
                n = 0
                for e in self.store:
                    if e["name"] == name:
                        os.close(e["fd"])
                        n += 1
                    else:
                        keep.append(e)
                self.store = keep
                self.event("remove", name=name, n=n)
        elif "FDSTORE=1" in fields:
            if name is not None and not fdname_is_valid(name):
                name = None
            self.add_store(fds, name or "stored",
                           "FDPOLL=0" not in fields)
            fds = []
        self.close_fds(fds)
        self.write_state()

    def add_store(self, fds, name, poll):
        for i, fd in enumerate(fds):
            if len(self.store) >= self.a.store_max:
                rest = fds[i:]
                for f in rest:
                    os.close(f)
                self.event("full", closed=len(rest), max=self.a.store_max)
                return
            key = fd_key(fd)
            if any(fd_key(e["fd"]) == key for e in self.store):
                os.close(fd)
                self.event("dup", name=name, ino=key[1])
                continue
            self.store.insert(0, {"fd": fd, "name": name, "poll": poll,
                                  "ino": key[1]})
            self.event("store", name=name, ino=key[1],
                       desc=describe_fd(fd), poll=poll)

    # --- the loop -------------------------------------------------------

    def control(self):
        try:
            b = os.read(self.ctl, 4096)
        except (BlockingIOError, InterruptedError):
            return
        self.ctl_buf += b
        while b"\n" in self.ctl_buf:
            line, self.ctl_buf = self.ctl_buf.split(b"\n", 1)
            self.command(line.decode(errors="replace").strip())

    def command(self, cmd):
        self.event("command", cmd=cmd)
        if cmd == "restart":
            self.stop("start")
        elif cmd == "start":
            if self.pid == 0:
                self.start()
        elif cmd == "stop":
            self.stop("dead")
        elif cmd == "quit":
            self.stop("quit")

    def signals(self):
        try:
            while os.read(self.wake_r, 64):
                pass
        except (BlockingIOError, InterruptedError):
            pass
        sigs, self.sigs = self.sigs, []
        for s in sigs:
            if s == signal.SIGUSR1:
                self.command("restart")
            elif s in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
                self.command("quit")

    def loop(self):
        self.start()
        while not self.quitting:
            p = select.poll()
            p.register(self.nsock.fileno(), select.POLLIN)
            p.register(self.ctl, select.POLLIN)
            p.register(self.wake_r, select.POLLIN)
            polled = {}
            for e in self.store:
                if e["poll"]:
                    p.register(e["fd"], 0)
                    polled[e["fd"]] = e
            timeout = 200
            if self.stop_deadline is not None:
                timeout = max(0, min(timeout, int(
                    (self.stop_deadline - now()) * 1000) + 1))
            try:
                ready = p.poll(timeout)
            except InterruptedError:
                ready = []
            # Notifications first (systemd: before SIGCHLD).
            self.recv_notify()
            for fd, ev in ready:
                e = polled.get(fd)
                if e is not None and ev & (select.POLLHUP | select.POLLERR):
                    self.store.remove(e)
                    os.close(fd)
                    self.event("hup", name=e["name"], ino=e["ino"])
                    self.write_state()
            self.control()
            self.signals()
            self.recv_notify()
            self.reap()
            if self.stop_deadline is not None and now() >= \
                    self.stop_deadline and self.pid:
                self.event("kill", pid=self.pid)
                self.kill_group(signal.SIGKILL)
                self.stop_deadline = now() + 5
            if not self.stopping and (now() >= self.deadline or
                                      os.getppid() != self.parent):
                self.event("command", cmd="quit",
                           why="lifetime or parent gone")
                self.stop("quit")
        self.event("quit")
        self.release()
        self.write_state()
        for path in (self.sock_path, self.ctl_path):
            try:
                os.unlink(path)
            except OSError:
                pass


def run(a):
    if not a.command:
        print("fdstore.py run: no COMMAND", file=sys.stderr)
        return 2
    if a.command[0] == "--":
        a.command = a.command[1:]
    os.makedirs(a.dir, exist_ok=True)
    fake = Fake(a)
    fake.setup()
    fake.loop()
    return 0


def read_state(d):
    try:
        with open(os.path.join(d, "state.json")) as f:
            return json.load(f)
    except (OSError, ValueError):
        return None


def ctl(a):
    end = now() + a.timeout
    before = read_state(a.dir)
    if a.cmd in ("restart", "start", "stop", "quit"):
        if before is None:
            print("fdstore.py ctl: no state in %s" % a.dir, file=sys.stderr)
            return 1
        fd = os.open(os.path.join(a.dir, "control"),
                     os.O_WRONLY | os.O_NONBLOCK)
        os.write(fd, (a.cmd + "\n").encode())
        os.close(fd)
    elif a.cmd == "wait-ready":
        a.wait = "ready"
    elif a.cmd != "state":
        print("fdstore.py ctl: unknown command %s" % a.cmd, file=sys.stderr)
        return 2
    want = 0
    if before is not None:
        want = before["starts"]
        if a.cmd == "restart" or (a.cmd == "start" and
                                  not before["running"]):
            want += 1
    st = before
    if a.wait:
        while now() < end:
            st = read_state(a.dir)
            if st is not None and st["starts"] >= want and st["running"] \
                    and not st["stopping"] and \
                    (a.wait == "started" or st["ready"]):
                break
            time.sleep(0.02)
        else:
            print(json.dumps(st, sort_keys=True))
            print("fdstore.py ctl: timed out waiting for %s" % a.wait,
                  file=sys.stderr)
            return 1
    elif a.cmd in ("stop", "quit"):
        while now() < end:
            st = read_state(a.dir)
            if st is not None and not st["running"] and \
                    not st["stopping"]:
                break
            time.sleep(0.02)
    print(json.dumps(st, sort_keys=True))
    return 0


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = ap.add_subparsers(dest="what", required=True)
    r = sub.add_parser("run")
    r.add_argument("--dir", required=True)
    r.add_argument("--store-max", type=int, default=1024)
    r.add_argument("--notify-access", choices=("main", "all"),
                   default="main")
    r.add_argument("--stop-timeout", type=float, default=10.0)
    r.add_argument("--watchdog-usec", type=int, default=0)
    r.add_argument("--preserve", action="store_true")
    r.add_argument("--lifetime", type=float, default=600.0)
    r.add_argument("command", nargs=argparse.REMAINDER)
    c = sub.add_parser("ctl")
    c.add_argument("--dir", required=True)
    c.add_argument("cmd")
    c.add_argument("--wait", choices=("ready", "started"), default="")
    c.add_argument("--timeout", type=float, default=20.0)
    a = ap.parse_args()
    if a.what == "run":
        a.lifetime = min(a.lifetime, 3600.0)
        return run(a)
    return ctl(a)


if __name__ == "__main__":
    sys.exit(main())
