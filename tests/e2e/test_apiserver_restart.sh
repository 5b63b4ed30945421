#!/bin/bash
# test_apiserver_restart: kube-apiserver is stopped and started again
# (same etcd) while kuproxy watches.  Existing Services keep working while
# it is down; afterwards a new Service and an Endpoints change are picked
# up by the same kuproxy process.
. "$(dirname "$0")/lib.sh"
ke_init apiserver_restart
kp_backend id b2@198.18.1.2:8080 b3@198.18.1.3:8080 b4@198.18.1.4:8080

ke_service web 198.19.0.10 80 TCP 8080
ke_backends web 8080 TCP 198.18.1.2
ke_kubeconfig "$KP_TMP/kubeconfig" token
ke_kuproxy "$KP_TMP/kubeconfig"
pid=$KP_PID
kp_check "web answers" ke_wait_ids 20 "$KP_POD" 198.19.0.10:80 2 "b2"

ke_apiserver_stop
kp_ok "kube-apiserver stopped"
sleep 3
kp_eq "web still answers with the apiserver down" '{"b2": 4}' \
    "$(ke_counts "$KP_POD" 198.19.0.10:80 4)"
kp_check "kuproxy survives the apiserver going away" kp_alive

ke_apiserver_start
ke_service late 198.19.0.20 80 TCP 8080
ke_backends late 8080 TCP 198.18.1.3
kp_check "new Service picked up after the restart" \
    ke_wait_ids 60 "$KP_POD" 198.19.0.20:80 2 "b3"
ke_backends web 8080 TCP 198.18.1.4
kp_check "Endpoints change picked up after the restart" \
    ke_wait_ids 30 "$KP_POD" 198.19.0.10:80 2 "b4"

# And once more, with the apiserver killed hard (no graceful close).
ke_apiserver_stop KILL 5
kp_ok "kube-apiserver killed"
sleep 1
ke_apiserver_start
ke_service later 198.19.0.21 80 TCP 8080
ke_backends later 8080 TCP 198.18.1.2
kp_check "new Service picked up after SIGKILL of the apiserver" \
    ke_wait_ids 60 "$KP_POD" 198.19.0.21:80 2 "b2"
kp_eq "same kuproxy process" "$pid" "$KP_PID"
kp_check "kuproxy still running" kp_alive
kp_finish
