/*
 * configz.h: /configz, the effective configuration as kube-proxy's
 * configz handler serves it: {"kubeproxy.config.k8s.io": {...}} with the
 * Go field names of the internal KubeProxyConfiguration (no JSON tags
 * there, so "BindAddress", "IPTables": {"SyncPeriod": "30s"}, ...), plus
 * kuproxy's own options under "kuproxy", and, after a live reload that
 * changed a restart-only field, "pending" (configz_add_pending).
 * Nothing secret is ever in it:
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
/*
 * Add to o (a configz_json() document) what a configuration read from
 * the file but needing a restart would change, as
 * "pending": {"restartRequired": {"hostnameOverride": "node-b", ...}}:
 * the restart-only keys (config.h) where pending differs from running,
 * with pending's value as the file says it.  Nothing is added if there
 * are none.  Both configs are borrowed for the call.
 */
void		 configz_add_pending(struct json_object *o,
		    const struct kp_config *running,
		    const struct kp_config *pending);

#endif /* CONFIGZ_H */
