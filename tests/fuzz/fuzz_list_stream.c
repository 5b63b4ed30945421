/*
 * fuzz_list_stream.c: the list decoder (k8s_lstream) fed a list body in
 * arbitrary chunks, against json-c parsing the same body whole (both in
 * json-c's strict mode).
 *
 * Input: a 3-byte header, then the body.
 *	byte 0	bits 0-1: the largest item (64 B, 1 KiB, 64 KiB, 1 MiB);
 *		bit 2: the callback stops at the third item
 *	bytes 1-2	chunk sizes, used in turn: 1 + b * b / 8 for byte b
 *
 * Checked: whenever both succeed, the items handed on (in order) and the
 * rest of the document are the document json-c parsed (the rest's
 * "items" array, if the items were handed on, is [] and is filled with
 * them before comparing).  And the other way: a body json-c accepts,
 * shorter than the item bound, with "items" written at most once, no
 * NUL byte (k8s_lstream refuses them, json-c ends its input there) and
 * a callback that never stops, k8s_lstream must accept too.
 */
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <json-c/json.h>

#include "fuzz.h"
#include "k8s_lstream.h"

struct fl_state {
	struct json_object	*items;		/* handed on, in order */
	int			 stop3;
};

/* Keep each item handed on; stop at the third if asked. */
static int
fl_item(void *arg, struct json_object *o)
{
	struct fl_state	*st = arg;

	if (st->stop3 && json_object_array_length(st->items) == 2)
		return (-1);
	/* o is NULL for a JSON null item. */
	json_object_array_add(st->items, json_object_get(o));
	return (0);
}

/* Parse data whole with json-c (strict, as k8s_lstream); NULL if invalid. */
static struct json_object *
fl_whole(const uint8_t *data, size_t len)
{
	struct json_tokener	*tok;
	struct json_object	*o;
	size_t			 end;

	if (len == 0 || len > 0x7fffffff)
		return (NULL);
	if ((tok = json_tokener_new_ex(128)) == NULL)
		abort();
	json_tokener_set_flags(tok, JSON_TOKENER_STRICT);
	o = json_tokener_parse_ex(tok, (const char *)data, (int)len);
	if (o != NULL && json_tokener_get_error(tok) == json_tokener_success) {
		for (end = json_tokener_get_parse_end(tok); end < len; end++)
			if (memchr(" \t\n\r", data[end], 4) == NULL) {
				json_object_put(o);
				o = NULL;
				break;
			}
	} else {
		json_object_put(o);
		o = NULL;
	}
	json_tokener_free(tok);
	return (o);
}

/* Count the occurrences of s in data. */
static size_t
fl_count(const uint8_t *data, size_t len, const char *s)
{
	size_t	n = strlen(s), i, c = 0;

	for (i = 0; i + n <= len; i++)
		if (memcmp(data + i, s, n) == 0)
			c++;
	return (c);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const size_t	 maxes[4] = { 64, 1024, 64 * 1024, 1 << 20 };
	struct k8s_lstream	*ls;
	struct fl_state		 st;
	struct json_object	*rest = NULL, *whole, *ri;
	const uint8_t		*body;
	size_t			 len, off = 0, n, k = 0;
	char			 err[256];
	int			 ok = 1;

	if (size < 3)
		return (0);
	fuzz_quiet_log();
	ls = k8s_lstream_new(maxes[data[0] & 3], 1 << 20, 4 << 20);
	st.items = json_object_new_array();
	st.stop3 = (data[0] & 4) != 0;
	body = data + 3;
	len = size - 3;
	while (off < len) {
		n = 1 + (size_t)data[1 + k % 2] * data[1 + k % 2] / 8;
		k++;
		if (n > len - off)
			n = len - off;
		if (k8s_lstream_feed(ls, (const char *)body + off, n, fl_item,
		    &st, err, sizeof(err)) == -1) {
			ok = 0;
			break;
		}
		off += n;
	}
	if (ok && (rest = k8s_lstream_finish(ls, err, sizeof(err))) == NULL)
		ok = 0;
	whole = fl_whole(body, len);
	/*
	 * No "accepted what json-c refuses whole" check: json-c's own
	 * tokener, fed in pieces, takes some malformed numbers ("1-2" read
	 * as 1, the rest dropped) that it refuses in one piece, and items
	 * reach it in pieces (k8s_jstream's watch events too).
	 */
	if (!ok && whole != NULL && !st.stop3 && len <= maxes[data[0] & 3] &&
	    fl_count(body, len, "items") <= 1 && memchr(body, 0, len) == NULL)
		abort();	/* refused a valid list */
	if (ok && whole != NULL) {
		if (json_object_object_get_ex(rest, "items", &ri) &&
		    json_object_is_type(ri, json_type_array) &&
		    json_object_array_length(ri) == 0 &&
		    json_object_array_length(st.items) > 0)
			json_object_object_add(rest, "items",
			    json_object_get(st.items));
		/* As text: json_object_equal has NaN unequal to itself. */
		if (strcmp(json_object_to_json_string_ext(rest,
		    JSON_C_TO_STRING_PLAIN), json_object_to_json_string_ext(
		    whole, JSON_C_TO_STRING_PLAIN)) != 0)
			abort();
	}
	json_object_put(rest);
	json_object_put(whole);
	json_object_put(st.items);
	k8s_lstream_free(ls);
	return (0);
}
