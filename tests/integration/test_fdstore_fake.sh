#!/bin/bash
# test_fdstore_fake: fdstore.py, the fake systemd service manager of the
# systemd-restart tests, checked on its own with a tiny Python service
# (no kuproxy, no root, no namespace: 127.0.0.1 only).
#  - Generation 1 stores a listening TCP socket (FDNAME=web), a UDP socket
#    (dns) and a pipe (tmp) with FDSTORE=1, removes tmp with
#    FDSTOREREMOVE=1, sends READY=1, and answers "gen 1" on the socket.
#  - A datagram from another process is refused (NotifyAccess=main).
#  - "restart": SIGTERM (STOPPING=1, exit 0), a new process started with
#    LISTEN_FDS=2, LISTEN_PID=its own pid, LISTEN_FDNAMES=dns:web (the
#    fd stored last first, as systemd's LIST_PREPEND store), fd 3 a UDP
#    socket and fd 4 the same listening socket (same inode); connections
#    made every 5 ms across the restart are all answered, none refused
#    (the store held the socket while no process did).
#  - Generation 2 stores web again (a duplicate: dropped), a pipe under an
#    invalid name (stored as "stored", then removed), and one end of a
#    socketpair whose other end it closes (POLLHUP: dropped).
#  - "stop": the store is released; nothing runs.
. "$(dirname "$0")/lib.sh"
KP_NAME=fdstore_fake
for tool in "$KP_PY" timeout; do
	command -v "$tool" >/dev/null 2>&1 || { echo "SKIP: $KP_NAME (needs $tool)"; exit 77; }
done
KP_TMP=$(mktemp -d /tmp/kpm-fdstore.XXXXXX) || exit 1
trap kp_cleanup EXIT
trap 'exit 1' INT TERM HUP
FD=$KP_TMP/fake
FAKE=$KP_HERE/fdstore.py

cat >"$KP_TMP/child.py" <<'EOF'
import array, json, os, signal, socket, sys, time
out = sys.argv[1]
sock_path = os.environ["NOTIFY_SOCKET"]

def notify(msg, fds=()):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    anc = [(socket.SOL_SOCKET, socket.SCM_RIGHTS, array.array("i", fds))] if fds else []
    s.sendmsg([msg.encode()], anc, 0, sock_path)
    s.close()

def term(_s, _f):
    notify("STOPPING=1")
    os._exit(0)
signal.signal(signal.SIGTERM, term)

inherited = os.environ.get("LISTEN_PID") == str(os.getpid())
n = int(os.environ.get("LISTEN_FDS", "0")) if inherited else 0
names = os.environ.get("LISTEN_FDNAMES", "").split(":") if n else []
report = {"pid": os.getpid(), "listen_fds": os.environ.get("LISTEN_FDS"),
          "listen_pid": os.environ.get("LISTEN_PID"),
          "names": os.environ.get("LISTEN_FDNAMES"),
          "fdstore": os.environ.get("FDSTORE"), "fds": []}
web = None
for i in range(n):
    s = socket.socket(fileno=3 + i)
    report["fds"].append({"fd": 3 + i, "type": int(s.type), "ino": os.fstat(3 + i).st_ino,
                          "listening": s.getsockopt(socket.SOL_SOCKET, socket.SO_ACCEPTCONN)})
    if names[i] == "web":
        web = s
if web is None:
    gen = 1
    web = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    web.bind(("127.0.0.1", 0))
    web.listen(128)
    dns = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    dns.bind(("127.0.0.1", 0))
    r, w = os.pipe()
    notify("FDSTORE=1\nFDNAME=web", [web.fileno()])
    notify("FDSTORE=1\nFDNAME=dns", [dns.fileno()])
    notify("FDSTORE=1\nFDNAME=tmp", [r])
    notify("FDSTOREREMOVE=1\nFDNAME=tmp")
else:
    gen = 2
    notify("FDSTORE=1\nFDNAME=web", [web.fileno()])      # a duplicate
    r, w = os.pipe()
    notify("FDSTORE=1\nFDNAME=bad:name", [r])            # named "stored"
    notify("FDSTOREREMOVE=1\nFDNAME=stored")
    a, b = socket.socketpair()
    notify("FDSTORE=1\nFDNAME=peer", [a.fileno()])
    b.close()                                            # POLLHUP
report["gen"] = gen
report["port"] = web.getsockname()[1]
report["ino_web"] = os.fstat(web.fileno()).st_ino
with open(out + ".tmp", "w") as f:
    json.dump(report, f)
os.rename(out + ".tmp", out + "." + str(gen))
notify("READY=1\nSTATUS=gen %d serving" % gen)
web.settimeout(1)
end = time.monotonic() + 120
while time.monotonic() < end:
    try:
        c, _ = web.accept()
    except socket.timeout:
        continue
    c.sendall(b"gen %d\n" % gen)
    c.close()
EOF

# ev NAME [PY-CONDITION]: how many events.log lines of that kind (and
# matching the condition on the line's dict e).
ev() {
	"$KP_PY" - "$FD/events.log" "$1" "${2:-True}" <<'EOF'
import json, sys
n = 0
for line in open(sys.argv[1]):
    e = json.loads(line)
    if e["ev"] == sys.argv[2] and eval(sys.argv[3]):
        n += 1
print(n)
EOF
}
# st EXPR: evaluate EXPR on state.json (bound to d).
st() { kp_json "$1" <"$FD/state.json"; }
# rep GEN EXPR: evaluate EXPR on generation GEN's report.
rep() { kp_json "$2" <"$KP_TMP/child.json.$1"; }

timeout -k 5 120 "$KP_PY" "$FAKE" run --dir "$FD" --stop-timeout 5 \
    --lifetime 100 -- "$KP_PY" "$KP_TMP/child.py" "$KP_TMP/child.json" \
    >>"$KP_TMP/fake.out" 2>&1 &
KP_PIDS="$KP_PIDS $!"
kp_wait_file "$FD/ready" 50 || kp_die "the fake did not start: $(cat "$KP_TMP/fake.out")"
"$KP_PY" "$FAKE" ctl --dir "$FD" wait-ready --timeout 10 >"$KP_TMP/st1" ||
    kp_die "generation 1 never sent READY=1: $(cat "$KP_TMP/fake.out")"
kp_wait_file "$KP_TMP/child.json.1" 50 || kp_die "no report from generation 1"
port=$(rep 1 'd["port"]')
pid1=$(st 'd["pid"]')
kp_eq "generation 1 got no LISTEN_FDS" None "$(rep 1 'd["listen_fds"]')"
kp_eq "FDSTORE= (the store's size) in the environment" 1024 "$(rep 1 'd["fdstore"]')"
kp_eq "the store after FDSTORE=1 web, dns, tmp and FDSTOREREMOVE=1 tmp" \
    '["dns", "web"]' "$(st '[e["name"] for e in d["store"]]')"
kp_check "the stored web socket: the listening socket on 127.0.0.1:$port" \
    eval "st 'd[\"store\"][1][\"desc\"]' | grep -qx 'tcp listen 127.0.0.1:$port'"
kp_eq "STATUS= kept" "gen 1 serving" "$(st 'd["status"]')"
kp_eq "generation 1 answers" "gen 1" \
    "$("$KP_PY" -c 'import socket,sys; s=socket.create_connection(("127.0.0.1", int(sys.argv[1])), 2); s.settimeout(2); print(s.recv(64).decode().strip())' "$port")"

# Another process's FDSTORE=1: refused, its fd not stored.
"$KP_PY" - "$FD/notify.sock" <<'EOF'
import array, os, socket, sys
r, w = os.pipe()
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.sendmsg([b"FDSTORE=1\nFDNAME=intruder"],
          [(socket.SOL_SOCKET, socket.SCM_RIGHTS, array.array("i", [r]))], 0, sys.argv[1])
EOF
if kp_until 30 eval '[ "$(ev notify "not e[\"accepted\"] and \"FDNAME=intruder\" in e[\"fields\"]")" = 1 ]'; then
	kp_ok "a datagram from another pid refused (NotifyAccess=main)"
else
	kp_fail "a datagram from another pid was not refused"
fi
kp_eq "nothing stored from another pid" '["dns", "web"]' "$(st '[e["name"] for e in d["store"]]')"

# Restart with connections every 5 ms throughout.
"$KP_PY" - "$port" "$KP_TMP/stop-client" >"$KP_TMP/client.json" <<'EOF' &
import json, os, socket, sys, time
port, stop = int(sys.argv[1]), sys.argv[2]
res = {"ok": 0, "failed": 0, "gens": {}, "errors": {}}
end = time.monotonic() + 30
while time.monotonic() < end and not os.path.exists(stop):
    try:
        s = socket.create_connection(("127.0.0.1", port), 3)
        s.settimeout(3)
        g = s.recv(64).decode().strip()
        s.close()
        if g:
            res["ok"] += 1
            res["gens"][g] = res["gens"].get(g, 0) + 1
        else:
            res["failed"] += 1
            res["errors"]["EOF"] = res["errors"].get("EOF", 0) + 1
    except OSError as e:
        res["failed"] += 1
        k = type(e).__name__
        res["errors"][k] = res["errors"].get(k, 0) + 1
    time.sleep(0.005)
print(json.dumps(res, sort_keys=True))
EOF
client=$!
KP_PIDS="$KP_PIDS $client"
sleep 0.3
"$KP_PY" "$FAKE" ctl --dir "$FD" restart --wait ready --timeout 15 >"$KP_TMP/st2" ||
    kp_fail "no READY=1 after restart: $(cat "$KP_TMP/st2")"
sleep 0.3
touch "$KP_TMP/stop-client"
wait "$client"
res=$(cat "$KP_TMP/client.json")
kp_log "connections across the restart: $res"
kp_eq "no connection refused or failed across the restart" 0 "$(echo "$res" | kp_json 'd["failed"]')"
kp_eq "answered by both generations" '["gen 1", "gen 2"]' "$(echo "$res" | kp_json 'sorted(d["gens"])')"
kp_wait_file "$KP_TMP/child.json.2" 50 || kp_die "no report from generation 2"
pid2=$(st 'd["pid"]')
kp_check "a new process ($pid1 -> $pid2)" [ "$pid2" != "$pid1" ]
kp_eq "the old one exited 0 after SIGTERM" '{"code": 0, "main": true, "pid": '"$pid1"'}' \
    "$(kp_json 'd["last_exit"]' <"$KP_TMP/st2")"
kp_check "STOPPING=1 from the old process" \
    [ "$(ev notify "e[\"pid\"] == $pid1 and \"STOPPING=1\" in e[\"fields\"]")" = 1 ]
kp_eq "LISTEN_FDS" 2 "$(rep 2 'd["listen_fds"]')"
kp_eq "LISTEN_PID: the new process's own" "$pid2" "$(rep 2 'd["listen_pid"]')"
kp_eq "LISTEN_FDNAMES (the fd stored last first)" dns:web "$(rep 2 'd["names"]')"
kp_eq "fd 3: the UDP socket, fd 4: the listening TCP socket" \
    "[[3, 2, 0], [4, 1, 1]]" \
    "$(rep 2 '[[f["fd"], f["type"], f["listening"]] for f in d["fds"]]')"
kp_eq "fd 4 is the very socket generation 1 stored (inode)" \
    "$(rep 1 'd["ino_web"]')" "$(rep 2 'd["fds"][1]["ino"]')"

# Generation 2's store operations.
if kp_until 30 eval '[ "$(ev hup "e[\"name\"] == \"peer\"")" = 1 ]'; then
	kp_ok "the socketpair end whose peer closed dropped on POLLHUP"
else
	kp_fail "the socketpair end was not dropped on POLLHUP"
fi
kp_eq "web stored again: dropped as a duplicate" 1 "$(ev dup 'e["name"] == "web"')"
kp_eq "an invalid FDNAME= stored as \"stored\"" 1 "$(ev store 'e["name"] == "stored"')"
kp_eq "FDSTOREREMOVE=1 FDNAME=stored removed it" 1 "$(ev remove 'e["name"] == "stored" and e["n"] == 1')"
kp_eq "the store after generation 2" '["dns", "web"]' "$(st '[e["name"] for e in d["store"]]')"

# stop: the store released, nothing runs.
"$KP_PY" "$FAKE" ctl --dir "$FD" stop --timeout 10 >"$KP_TMP/st3"
kp_eq "stopped: nothing runs" False "$(kp_json 'd["running"]' <"$KP_TMP/st3")"
kp_eq "stopped: the store released" '[]' "$(kp_json 'd["store"]' <"$KP_TMP/st3")"
kp_eq "release event: 2 fds" 1 "$(ev release 'e["n"] == 2')"
kp_check "the port refuses once the store is released" \
    eval "! \"\$KP_PY\" -c 'import socket,sys; socket.create_connection((\"127.0.0.1\", int(sys.argv[1])), 2)' $port 2>/dev/null"
"$KP_PY" "$FAKE" ctl --dir "$FD" quit --timeout 10 >/dev/null
kp_finish
