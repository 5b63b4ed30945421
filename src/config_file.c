/*
 * config_file.c: the KubeProxyConfiguration file
 * (kubeproxy.config.k8s.io/v1alpha1), as YAML or JSON.  Every key of
 * Kubernetes 1.20's v1alpha1 is a config_fields row: its value is
 * type-checked as kube-proxy's decoder checks it and kept (defaulting
 * and validation come later, in config_validate).  Unknown keys only
 * warn, as kube-proxy's lenient fallback decoding does.
 */
#include <errno.h>
#include <float.h>
#include <math.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

#include "config.h"
#include "config_priv.h"
#include "log.h"
#include "xmalloc.h"
#include "yamljson.h"

static int	config_yaml_bool(struct json_object *, int *);

/* The nested objects of v1alpha1; their keys are "map.child" rows. */
static const char *const config_maps[] = { "clientConnection", "conntrack",
    "iptables", "ipvs", "winkernel", NULL };

/* Name the JSON type of node for messages. */
static const char *
config_json_type(struct json_object *node)
{
	return (json_type_to_name(json_object_get_type(node)));
}

/* Read a []string node into l. */
static int
config_yaml_list(struct kp_config *cfg, int id, struct json_object *node,
    int line, struct yamljson_errbuf *eb)
{
	const struct config_field	*f = &config_fields[id];
	struct config_list		*l = config_member(cfg, f->off);
	struct json_object		*item;
	size_t				 i, n;

	if (!json_object_is_type(node, json_type_array))
		return (config_fail(eb->err, eb->errlen, cfg->src_file, line,
		    f, "expected a list of strings, got %s",
		    config_json_type(node)));
	n = json_object_array_length(node);
	for (i = 0; i < n; i++) {
		item = json_object_array_get_idx(node, i);
		if (!json_object_is_type(item, json_type_string))
			return (config_fail(eb->err, eb->errlen, cfg->src_file,
			    line, f, "[%zu]: expected a string, got %s", i,
			    item == NULL ? "null" : config_json_type(item)));
	}
	config_list_clear(l);
	l->set = 1;
	for (i = 0; i < n; i++)
		config_list_add(l, json_object_get_string(
		    json_object_array_get_idx(node, i)));
	return (0);
}

/* Read a map[string]bool node into the gates. */
static int
config_yaml_gates(struct kp_config *cfg, int id, struct json_object *node,
    int line, struct yamljson_errbuf *eb)
{
	const struct config_field	*f = &config_fields[id];
	struct config_gates		*gs = config_member(cfg, f->off);
	int				 b;

	if (!json_object_is_type(node, json_type_object))
		return (config_fail(eb->err, eb->errlen, cfg->src_file, line,
		    f, "expected a mapping of names to booleans, got %s",
		    config_json_type(node)));
	/* A null value reads as false, as the decoder reads it. */
	json_object_object_foreach(node, key, val) {
		if (val != NULL && config_yaml_bool(val, &b) == -1)
			return (config_fail(eb->err, eb->errlen, cfg->src_file,
			    line, f, "%s: expected a boolean, got %s", key,
			    config_json_type(val)));
	}
	config_gates_clear(gs);
	json_object_object_foreach(node, k2, v2) {
		b = 0;
		if (v2 != NULL)
			config_yaml_bool(v2, &b);
		config_gates_set(gs, k2, b);
	}
	return (0);
}

/*
 * A bool: true/false, or (the parser leaves them strings) the other
 * YAML 1.1 words go-yaml reads as booleans: y, yes, on, n, no, off.
 */
static int
config_yaml_bool(struct json_object *node, int *b)
{
	static const char *const t[] = { "y", "Y", "yes", "Yes", "YES", "on",
	    "On", "ON", NULL };
	static const char *const f[] = { "n", "N", "no", "No", "NO", "off",
	    "Off", "OFF", NULL };
	const char	*s;
	int		 i;

	if (json_object_is_type(node, json_type_boolean)) {
		*b = json_object_get_boolean(node);
		return (0);
	}
	if (!json_object_is_type(node, json_type_string))
		return (-1);
	s = json_object_get_string(node);
	for (i = 0; t[i] != NULL; i++)
		if (strcmp(s, t[i]) == 0)
			return (*b = 1, 0);
	for (i = 0; f[i] != NULL; i++)
		if (strcmp(s, f[i]) == 0)
			return (*b = 0, 0);
	return (-1);
}

/*
 * An int32: an integer, a float with no fraction (5.0), or a YAML 1.1
 * integer the parser left a string (0x10, 0o17, 0b101, 1_000), as
 * go-yaml and json-iterator read them.  Returns 0, -1 (not a number)
 * or -2 (out of range).
 */
static int
config_yaml_int32(struct json_object *node, int32_t *v)
{
	const char	*s;
	char		*plain, *p;
	int64_t		 i64;
	double		 d;
	int		 rv;

	if (json_object_is_type(node, json_type_int)) {
		errno = 0;
		i64 = json_object_get_int64(node);
		if (errno != 0 || i64 < INT32_MIN || i64 > INT32_MAX)
			return (-2);
		*v = (int32_t)i64;
		return (0);
	}
	if (json_object_is_type(node, json_type_double)) {
		d = json_object_get_double(node);
		if (d != floor(d))
			return (-1);
		if (d < INT32_MIN || d > INT32_MAX)
			return (-2);
		*v = (int32_t)d;
		return (0);
	}
	if (!json_object_is_type(node, json_type_string))
		return (-1);
	s = json_object_get_string(node);
	if (strspn(s, "+-0123456789_abcdefABCDEFoOxX") != strlen(s))
		return (-1);
	plain = xstrdup(s);
	for (p = plain; *s != '\0'; s++)
		if (*s != '_')
			*p++ = *s;
	*p = '\0';
	rv = config_parse_int32(plain, v) == 0 ? 0 : -1;
	free(plain);
	return (rv);
}

/* Apply one key's node to cfg, typed as kube-proxy's decoder types it. */
static int
config_yaml_field(struct kp_config *cfg, int id, struct json_object *node,
    int line, struct yamljson_errbuf *eb)
{
	const struct config_field	*f = &config_fields[id];
	void				*m = config_member(cfg, f->off);
	const char			*want;
	char				 why[CONFIG_ERRLEN];
	int64_t				 ns;
	double				 d;

	/*
	 * null: unset, so the default; but a metav1.Duration that is no
	 * pointer cannot decode it (time: invalid duration "").
	 */
	if (node == NULL && f->type == CT_DUR && !(f->flags & CFF_PTR))
		return (config_fail(eb->err, eb->errlen, cfg->src_file, line,
		    f, "invalid duration \"\" (null)"));
	if (node == NULL)
		return (0);
	if (f->flags & CFF_NOEFFECT)
		log_debug("%s: %s:%d: %s has no effect in userspace mode",
		    __func__, eb->fname, line, f->key);
	switch (f->type) {
	case CT_STR:
	case CT_OPTSTR:
		if (!json_object_is_type(node, json_type_string)) {
			want = "a string";
			goto type;
		}
		config_setstr(m, json_object_get_string(node),
		    f->type == CT_OPTSTR);
		break;
	case CT_DUR:
		if (!json_object_is_type(node, json_type_string)) {
			want = "a duration string";
			goto type;
		}
		if (config_parse_duration_ns(json_object_get_string(node), &ns,
		    why, sizeof(why)) == -1)
			return (config_fail(eb->err, eb->errlen, cfg->src_file,
			    line, f, "%s", why));
		*(int64_t *)m = ns;
		break;
	case CT_BOOL:
		if (config_yaml_bool(node, m) == -1) {
			want = "a boolean";
			goto type;
		}
		break;
	case CT_INT32:
		switch (config_yaml_int32(node, m)) {
		case -1:
			want = "an integer";
			goto type;
		case -2:
			return (config_fail(eb->err, eb->errlen, cfg->src_file,
			    line, f, "%s is out of the int32 range",
			    json_object_get_string(node)));
		}
		break;
	case CT_FLOAT:
		if (!json_object_is_type(node, json_type_int) &&
		    !json_object_is_type(node, json_type_double)) {
			want = "a number";
			goto type;
		}
		d = json_object_get_double(node);
		if (isfinite(d) && fabs(d) > FLT_MAX)
			return (config_fail(eb->err, eb->errlen, cfg->src_file,
			    line, f, "%g is out of the float32 range", d));
		*(double *)m = (double)(float)d;
		break;
	case CT_LIST:
		if (config_yaml_list(cfg, id, node, line, eb) == -1)
			return (-1);
		break;
	case CT_GATES:
		if (config_yaml_gates(cfg, id, node, line, eb) == -1)
			return (-1);
		break;
	}
	cfg->src_line[id] = line;
	return (0);
type:
	return (config_fail(eb->err, eb->errlen, cfg->src_file, line, f,
	    "expected %s, got %s", want, config_json_type(node)));
}

/* Apply every key of mapping map (under prefix, NULL at the top) to cfg. */
static int
config_yaml_map(struct kp_config *cfg, struct json_object *map,
    const char *prefix, struct yamljson_errbuf *eb)
{
	char	 path[256];
	size_t	 i;
	int	 id, line, mline = yamljson_line(map);

	json_object_object_foreach(map, key, val) {
		line = val != NULL ? yamljson_line(val) : 0;
		if (line == 0)
			line = mline;
		snprintf(path, sizeof(path), "%s%s%s", prefix ? prefix : "",
		    prefix ? "." : "", key);
		if (prefix == NULL && (strcmp(key, "apiVersion") == 0 ||
		    strcmp(key, "kind") == 0))
			continue;
		for (i = 0; prefix == NULL && config_maps[i] != NULL; i++)
			if (strcmp(key, config_maps[i]) == 0)
				break;
		if (prefix == NULL && config_maps[i] != NULL) {
			if (val == NULL)
				continue;
			if (!json_object_is_type(val, json_type_object))
				return (yamljson_fail(eb, line, "%s: expected "
				    "a mapping, got %s", key,
				    config_json_type(val)));
			if (config_yaml_map(cfg, val, key, eb) == -1)
				return (-1);
			continue;
		}
		if ((id = config_field_find(path)) == -1) {
			log_warnx("%s:%d: unknown field \"%s\" ignored",
			    eb->fname, line, path);
			continue;
		}
		if (config_yaml_field(cfg, id, val, line, eb) == -1)
			return (-1);
	}
	return (0);
}

/* Check that root's key holds want. */
static int
config_yaml_meta(struct json_object *root, const char *key, const char *want,
    struct yamljson_errbuf *eb)
{
	struct json_object	*node;
	int			 line = yamljson_line(root);

	if ((node = yamljson_get(root, key)) == NULL)
		return (yamljson_fail(eb, line, "%s: missing, expected %s",
		    key, want));
	if (yamljson_line(node) > 0)
		line = yamljson_line(node);
	if (!json_object_is_type(node, json_type_string) ||
	    strcmp(json_object_get_string(node), want) != 0)
		return (yamljson_fail(eb, line, "%s: expected %s, got \"%s\"",
		    key, want, json_object_get_string(node)));
	return (0);
}

/* Apply a KubeProxyConfiguration document to cfg. */
int
config_parse_yaml(struct kp_config *cfg, const char *buf, size_t len,
    const char *fname, char *err, size_t errlen)
{
	struct yamljson_errbuf	  eb = { fname, err, errlen, 0 };
	struct json_object	**docs = NULL;
	size_t			  ndocs = 0;
	int			  line, rv = -1;

	if (yamljson_parse_named(buf, len, fname, &docs, &ndocs, err,
	    errlen) == -1)
		return (-1);
	if (ndocs != 1) {
		line = ndocs > 1 ? yamljson_line(docs[1]) : 0;
		yamljson_fail(&eb, line > 0 ? line : 1, "expected one "
		    "KubeProxyConfiguration document, got %zu", ndocs);
		goto out;
	}
	if (!json_object_is_type(docs[0], json_type_object)) {
		line = yamljson_line(docs[0]);
		yamljson_fail(&eb, line > 0 ? line : 1, "expected a "
		    "KubeProxyConfiguration mapping, got %s",
		    json_type_to_name(json_object_get_type(docs[0])));
		goto out;
	}
	if (config_yaml_meta(docs[0], "apiVersion", CONFIG_API_VERSION,
	    &eb) == -1 ||
	    config_yaml_meta(docs[0], "kind", CONFIG_KIND, &eb) == -1)
		goto out;
	free(cfg->src_file);
	cfg->src_file = xstrdup(fname);
	rv = config_yaml_map(cfg, docs[0], NULL, &eb);
out:
	yamljson_free(docs, ndocs);
	return (rv);
}

/* Read the --config file and apply it to cfg. */
int
config_read_file(struct kp_config *cfg, const char *path, char *err,
    size_t errlen)
{
	char	*buf, why[CONFIG_ERRLEN];
	size_t	 len;
	int	 rv;

	if (yamljson_read_file(path, CONFIG_MAXFILE, &buf, &len, NULL, why,
	    sizeof(why)) == -1) {
		snprintf(err, errlen, "--config: %s", why);
		return (-1);
	}
	rv = config_parse_yaml(cfg, buf, len, path, err, errlen);
	free(buf);
	return (rv);
}
