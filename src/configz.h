/*
 * configz.h: /configz, the effective configuration as kube-proxy's
 * configz handler serves it: {"kubeproxy.config.k8s.io": {...}} with the
 * Go field names of the internal KubeProxyConfiguration (no JSON tags
 * there, so "BindAddress", "IPTables": {"SyncPeriod": "30s"}, ...), plus
 * kuproxy's own options under "kuproxy".  Nothing secret is ever in it:
 * the table lists only plain settings (a kubeconfig's path, never its
 * token or keys).
 */
#ifndef CONFIGZ_H
#define CONFIGZ_H

struct json_object;
struct kp_config;

/*
 * Return cfg as a new JSON object (the caller puts it), never NULL
 * (json-c's allocation failures abort in its constructors' callers).
 */
struct json_object *configz_json(const struct kp_config *cfg);

#endif /* CONFIGZ_H */
