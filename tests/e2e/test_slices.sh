#!/bin/bash
# test_slices: --endpoints-source endpointslices against the
# discovery.k8s.io/v1beta1 API of 1.20 (no kube-controller-manager: the
# test writes the slices).  No Endpoints object exists at all.  Two slices
# of one Service are merged, a not-ready endpoint is left out, updating
# and deleting a slice change the backends.
. "$(dirname "$0")/lib.sh"
ke_init slices
kp_backend id b2@198.18.1.2:8080 b3@198.18.1.3:8080 b4@198.18.1.4:8080

ke_service web 198.19.0.10 80 TCP 8080
# The apiserver does not mirror Endpoints for a Service with a selector
# (that is the endpoints controller's job): make sure none exists.
ke_api DELETE "$KE_CORE/default/endpoints/web" >/dev/null
ke_slice web-a web 8080 TCP 198.18.1.2
ke_slice web-b web 8080 TCP 198.18.1.3 198.18.1.4=notready
ke_kubeconfig "$KP_TMP/kubeconfig" token
ke_kuproxy "$KP_TMP/kubeconfig" --endpoints-source endpointslices
VIP=198.19.0.10:80

kp_check "two slices merged, not-ready endpoint left out" \
    ke_wait_ids 20 "$KP_POD" $VIP 6 "b2 b3"
kp_eq "even spread" '{"b2": 4, "b3": 4}' "$(ke_counts "$KP_POD" $VIP 8)"

ke_slice web-b web 8080 TCP 198.18.1.3 198.18.1.4
kp_check "endpoint became ready" ke_wait_ids 10 "$KP_POD" $VIP 6 "b2 b3 b4"

ke_delete endpointslices web-a
kp_check "slice deleted: its endpoint gone" ke_wait_ids 10 "$KP_POD" $VIP 6 "b3 b4"

# A slice of another Service does not leak into this one.
ke_slice other-a other 8080 TCP 198.18.1.2
sleep 1
kp_eq "other Service's slice ignored" '{"b3": 3, "b4": 3}' \
    "$(ke_counts "$KP_POD" $VIP 6)"
kp_check "kuproxy still running" kp_alive
kp_finish
