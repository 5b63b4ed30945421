#!/bin/bash
# test_env: the environment itself, without kuproxy: etcd and
# kube-apiserver 1.20 come up in the node namespace; a Service gets a
# ClusterIP in 198.19.0.0/16; Endpoints and a v1beta1 EndpointSlice are
# created, listed back, updated and deleted with curl; token and
# client-certificate auth work, a bad token, an untrusted client
# certificate and the wrong CA are refused.
. "$(dirname "$0")/lib.sh"
ke_init env

# Version and discovery.
ke_must GET /version >/dev/null
kp_eq "server is 1.20" 1.20 "$(ke_json 'd["major"] + "." + d["minor"].rstrip("+")')"
ke_must GET /apis/discovery.k8s.io/v1beta1 >/dev/null
kp_eq "discovery.k8s.io/v1beta1 serves endpointslices" True \
    "$(ke_json '"endpointslices" in [r["name"] for r in d["resources"]]')"
kp_check "discovery.k8s.io/v1 is not served (arrived in 1.21)" \
    eval '! ke_api GET /apis/discovery.k8s.io/v1 >/dev/null'

# The apiserver's own Service and Endpoints.
ke_must GET "$KE_CORE/default/services/kubernetes" >/dev/null
kp_eq "kubernetes Service ClusterIP" 198.19.0.1 "$(ke_json 'd["spec"]["clusterIP"]')"
kp_check "kubernetes Endpoints name the advertise address" \
    ke_wait 30 eval 'ke_api GET "$KE_CORE/default/endpoints/kubernetes" >/dev/null &&
	[ "$(ke_json "d[\"subsets\"][0][\"addresses\"][0][\"ip\"]")" = "$KE_API_IP" ]'

ke_must GET "/api/v1/nodes/$KE_NODE_NAME" >/dev/null
kp_eq "Node object with the node's InternalIP" "$KE_API_IP" \
    "$(ke_json '[a["address"] for a in d["status"]["addresses"] if a["type"] == "InternalIP"][0]')"

# A Service with a fixed ClusterIP, one with an allocated one.
ke_service web 198.19.0.10 80 TCP 8080
ke_must POST "$KE_CORE/default/services" \
    '{"apiVersion":"v1","kind":"Service","metadata":{"name":"auto"},"spec":{"ports":[{"port":81}]}}' >/dev/null
cip=$(ke_json 'd["spec"]["clusterIP"]')
case $cip in
198.19.*) kp_ok "allocated ClusterIP $cip in 198.19.0.0/16" ;;
*) kp_fail "allocated ClusterIP '$cip' not in 198.19.0.0/16" ;;
esac

ke_backends web 8080 TCP 198.18.1.2 198.18.1.3
ke_must GET "$KE_CORE/default/endpoints/web" >/dev/null
kp_eq "Endpoints read back" '["198.18.1.2", "198.18.1.3"]' \
    "$(ke_json '[a["ip"] for a in d["subsets"][0]["addresses"]]')"
ke_must GET "$KE_DISC/default/endpointslices?labelSelector=kubernetes.io/service-name%3Dweb" >/dev/null
kp_eq "EndpointSlice listed by service-name label" '["198.18.1.2", "198.18.1.3"]' \
    "$(ke_json '[e["addresses"][0] for i in d["items"] for e in i["endpoints"]]')"
kp_eq "EndpointSlice port" 8080 "$(ke_json 'd["items"][0]["ports"][0]["port"]')"

# Update (scale down to one), then list the Services back.
ke_backends web 8080 TCP 198.18.1.4
ke_must GET "$KE_CORE/default/endpoints/web" >/dev/null
kp_eq "Endpoints updated" '["198.18.1.4"]' \
    "$(ke_json '[a["ip"] for a in d["subsets"][0]["addresses"]]')"
ke_must GET "$KE_DISC/default/endpointslices/web-e2e" >/dev/null
kp_eq "EndpointSlice updated" '["198.18.1.4"]' \
    "$(ke_json '[e["addresses"][0] for e in d["endpoints"]]')"
ke_must GET "$KE_CORE/default/services" >/dev/null
kp_eq "Services listed" '["auto", "kubernetes", "web"]' \
    "$(ke_json 'sorted(i["metadata"]["name"] for i in d["items"])')"
rv=$(ke_json 'd["metadata"]["resourceVersion"]')

# A watch from that resourceVersion sees the deletion.
watch=$KP_TMP/watch.out
ke_curl_admin -N -m 8 \
    "$KE_API$KE_CORE/default/services?watch=1&resourceVersion=$rv&timeoutSeconds=6" \
    >"$watch" 2>/dev/null &
wpid=$!
KP_PIDS="$KP_PIDS $wpid"
sleep 1
ke_delete services auto
ke_delete endpointslices web-e2e
kp_check "watch reports the DELETED Service" \
    ke_wait 8 grep -q '"type":"DELETED".*"name":"auto"' "$watch"
kill "$wpid" 2>/dev/null
kp_check "EndpointSlice deleted" \
    eval '! ke_api GET "$KE_DISC/default/endpointslices/web-e2e" >/dev/null && [ "$KE_CODE" = 404 ]'

# Authentication: what kuproxy will use, seen with curl.
api_as() {
	kp_node curl -sS -m 5 -o /dev/null -w '%{http_code}' "$@" \
	    "$KE_API/api/v1/namespaces/default/services" 2>/dev/null
}
kp_eq "proxy token accepted" 200 \
    "$(api_as --cacert "$KE_PKI/ca.crt" -H "Authorization: Bearer $KE_PROXY_TOKEN")"
kp_eq "client certificate accepted" 200 \
    "$(api_as --cacert "$KE_PKI/ca.crt" --cert "$KE_PKI/kube-proxy.crt" --key "$KE_PKI/kube-proxy.key")"
kp_eq "bad token refused" 401 \
    "$(api_as --cacert "$KE_PKI/ca.crt" -H "Authorization: Bearer nope")"
kp_eq "untrusted client certificate refused" 401 \
    "$(api_as --cacert "$KE_PKI/ca.crt" --cert "$KE_PKI/stranger.crt" --key "$KE_PKI/stranger.key")"
kp_eq "no credentials refused (anonymous auth off)" 401 \
    "$(api_as --cacert "$KE_PKI/ca.crt")"
kp_eq "wrong CA: TLS verification fails" 000 \
    "$(api_as --cacert "$KE_PKI/wrong-ca.crt" -H "Authorization: Bearer $KE_PROXY_TOKEN")"
kp_eq "advertise address reachable from the pod namespace" 200 \
    "$(kp_pod curl -sS -m 5 -o /dev/null -w '%{http_code}' --cacert "$KE_PKI/ca.crt" \
	-H "Authorization: Bearer $KE_PROXY_TOKEN" "https://$KE_API_IP:$KE_API_PORT/readyz")"

kp_check "kube-apiserver still running" kill -0 "$KE_APISERVER_PID"
kp_finish
