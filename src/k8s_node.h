/*
 * k8s_node.h: this node's address from its Node object (GET
 * /api/v1/nodes/<name>), for the node IP when neither --bind-address nor
 * a default route gives one.  The name is kube-proxy's: the
 * hostnameOverride, else the host name, lower-cased.  Transport errors
 * and 5xx are retried with a backoff, a few times; a 4xx gives up.
 */
#ifndef K8S_NODE_H
#define K8S_NODE_H

struct event_base;
struct json_object;
struct k8s_client;
struct k8s_node;

/*
 * Start looking the node up through client (borrowed; it must outlive
 * the lookup).  name_override NULL means the host name.  Retries wait
 * k8s_backoff_ms(backoff_min_ms, backoff_max_ms).  Once the address is
 * known, cb(arg, ip) is called once (ip borrowed for the call).  Returns
 * NULL (logged) when the name is not a DNS-1123 name: no lookup then.
 */
struct k8s_node	*k8s_node_new(struct event_base *, struct k8s_client *,
		    const char *name_override, unsigned int backoff_min_ms,
		    unsigned int backoff_max_ms,
		    void (*cb)(void *arg, const char *ip), void *arg);
/* Stop the lookup and free; NULL is ignored. */
void		 k8s_node_free(struct k8s_node *);
/*
 * Return the address of a decoded Node object, canonical and new (the
 * caller frees it): the first valid InternalIP, else the first valid
 * ExternalIP; NULL if it has none.  Pure.
 */
char		*k8s_node_pick_ip(struct json_object *node);

#endif /* K8S_NODE_H */
