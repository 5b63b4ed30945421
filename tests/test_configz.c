/*
 * test_configz.c: /configz, kube-proxy's group and Go field names with
 * the effective values, and nothing secret.
 */
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

#include "config.h"
#include "configz.h"
#include "tu.h"

/* Return the string at a path of keys under o, or NULL. */
static const char *
cz_get(struct json_object *o, const char *k1, const char *k2,
    const char *k3)
{
	const char	*keys[3] = { k1, k2, k3 };
	int		 i;

	for (i = 0; i < 3 && keys[i] != NULL; i++)
		if (!json_object_object_get_ex(o, keys[i], &o))
			return (NULL);
	return (json_object_get_string(o));
}

/* The defaults, then flags, as kube-proxy's names show them. */
static void
test_configz_fields(void)
{
	const char		*g = "kubeproxy.config.k8s.io";
	struct kp_config	*cfg = config_new();
	struct json_object	*o;
	char			 err[CONFIG_ERRLEN];
	char			 a0[] = "kuproxy";
	char			 a1[] = "--iptables-sync-period=1m30s";
	char			 a2[] = "--kubeconfig=/etc/kp/kubeconfig";
	char			 a3[] = "--state-dir=/var/lib/kp";
	char			*argv[] = { a0, a1, a2, a3, NULL };

	CU_ASSERT_EQUAL_FATAL(config_load(cfg, 4, argv, err, sizeof(err)),
	    CONFIG_RUN);
	o = configz_json(cfg);
	CU_ASSERT_PTR_NOT_NULL_FATAL(o);
	CU_ASSERT_STRING_EQUAL(cz_get(o, g, "IPTables", "SyncPeriod"),
	    "1m30s");
	CU_ASSERT_STRING_EQUAL(cz_get(o, g, "IPTables", "MinSyncPeriod"),
	    "1s");
	CU_ASSERT_STRING_EQUAL(cz_get(o, g, "UDPIdleTimeout", NULL), "250ms");
	CU_ASSERT_STRING_EQUAL(cz_get(o, g, "ConfigSyncPeriod", NULL),
	    "15m0s");
	CU_ASSERT_STRING_EQUAL(cz_get(o, g, "HealthzBindAddress", NULL),
	    "0.0.0.0:10256");
	CU_ASSERT_STRING_EQUAL(cz_get(o, g, "MetricsBindAddress", NULL),
	    "127.0.0.1:10249");
	CU_ASSERT_STRING_EQUAL(cz_get(o, g, "ClientConnection", "Kubeconfig"),
	    "/etc/kp/kubeconfig");
	CU_ASSERT_STRING_EQUAL(cz_get(o, g, "HostnameOverride", NULL), "");
	CU_ASSERT_STRING_EQUAL(cz_get(o, "kuproxy", "StateDir", NULL),
	    "/var/lib/kp");
	CU_ASSERT_STRING_EQUAL(cz_get(o, "kuproxy", "ServicesFile", NULL), "");
	/* Nothing that looks like a credential. */
	CU_ASSERT_PTR_NULL(strcasestr(json_object_to_json_string(o),
	    "token"));
	CU_ASSERT_PTR_NULL(strcasestr(json_object_to_json_string(o),
	    "password"));
	json_object_put(o);
	config_free(cfg);
}

static const struct tu_case cases[] = {
	{ "fields and values", test_configz_fields },
	{ NULL, NULL }
};

TU_MAIN("configz", cases)
