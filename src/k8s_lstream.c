/*
 * k8s_lstream.c: a list response decoded as it arrives, its items handed
 * on one by one (see k8s_lstream.h).
 *
 * A small lexer follows the document's nesting (strings and escapes
 * skipped) to find the top-level "items" array.  Bytes outside it are
 * kept in rest; bytes inside it go to json-c's tokener, which decodes
 * each element, the array's commas turned into blanks (a blank also ends
 * a number).  The lexer checks what the tokener cannot see:
 * one comma between elements, none before the first or after the last,
 * and a ']' closing the array.
 */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

#include "k8s_lstream.h"
#include "log.h"
#include "xmalloc.h"

#define LS_JSON_DEPTH	128
/* JSON's whitespace (RFC 8259), not isspace's: no \v or \f. */
#define LS_BLANK(c)	((c) == ' ' || (c) == '\t' || (c) == '\n' || \
			    (c) == '\r')

/* Where the lexer is in the top-level object. */
enum ls_d1 {
	LS_KEY = 0,		/* a key comes next */
	LS_INKEY,		/* inside a key's string */
	LS_COLON,		/* the key's ':' comes next */
	LS_VALUE,		/* the key's value */
};

/* What the document's top level is. */
enum ls_top {
	LS_NONE = 0,		/* nothing yet */
	LS_OBJECT,		/* an object, open */
	LS_OTHER,		/* an array or a scalar */
	LS_ENDED,		/* an object or array, closed */
};

struct k8s_lstream {
	struct json_tokener	*tok;		/* the items */
	size_t			 maxitem;
	size_t			 used;		/* bytes of the current item */
	int			 initem;	/* an item has started */
	size_t			 maxrest;
	size_t			 maxbody;
	size_t			 body;		/* bytes fed */
	char			*rest;
	size_t			 restlen;
	size_t			 restcap;
	long			 depth;
	int			 instr;
	int			 esc;
	enum ls_top		 top;
	enum ls_d1		 d1;
	char			 key[8];
	size_t			 keylen;	/* > 5: not "items" */
	int			 itemsnext;	/* "items": comes next */
	int			 initems;
	int			 seen;		/* an array was handed on */
	size_t			 nitems;	/* handed on */
	size_t			 ncommas;	/* in the array */
	/* During a feed. */
	int			(*cb)(void *, struct json_object *);
	void			*arg;
	char			 cberr[128];
};

/* Return a new decoder. */
struct k8s_lstream *
k8s_lstream_new(size_t maxitem, size_t maxrest, size_t maxbody)
{
	struct k8s_lstream	*ls;

	ls = xcalloc(1, sizeof(*ls));
	if ((ls->tok = json_tokener_new_ex(LS_JSON_DEPTH)) == NULL)
		fatalx("json_tokener_new_ex: out of memory");
	/* The lexer knows no comments or single quotes: neither may json-c. */
	json_tokener_set_flags(ls->tok, JSON_TOKENER_STRICT);
	ls->maxitem = maxitem;
	ls->maxrest = maxrest;
	ls->maxbody = maxbody;
	return (ls);
}

/* Free a decoder. */
void
k8s_lstream_free(struct k8s_lstream *ls)
{
	if (ls == NULL)
		return;
	json_tokener_free(ls->tok);
	free(ls->rest);
	free(ls);
}

/* Forget everything fed. */
void
k8s_lstream_reset(struct k8s_lstream *ls)
{
	json_tokener_reset(ls->tok);
	ls->used = 0;
	ls->initem = 0;
	ls->body = 0;
	ls->restlen = 0;
	ls->depth = 0;
	ls->instr = ls->esc = 0;
	ls->top = LS_NONE;
	ls->d1 = LS_KEY;
	ls->keylen = 0;
	ls->itemsnext = ls->initems = ls->seen = 0;
	ls->nitems = ls->ncommas = 0;
}

/* Return the number of items handed on. */
size_t
k8s_lstream_nitems(const struct k8s_lstream *ls)
{
	return (ls->nitems);
}

/* Keep one byte of the document's rest. */
static int
ls_keep(struct k8s_lstream *ls, char c, char *err, size_t errlen)
{
	if (ls->restlen >= ls->maxrest) {
		snprintf(err, errlen, "list response without its items "
		    "larger than %zu bytes", ls->maxrest);
		return (-1);
	}
	if (ls->restlen == ls->restcap) {
		ls->restcap = ls->restcap == 0 ? 1024 : ls->restcap * 2;
		if (ls->restcap > ls->maxrest)
			ls->restcap = ls->maxrest;
		ls->rest = xreallocarray(ls->rest, ls->restcap, 1);
	}
	ls->rest[ls->restlen++] = c;
	return (0);
}

/* Hand one decoded element on, if a comma came before it. */
static int
ls_item(void *arg, struct json_object *o)
{
	struct k8s_lstream	*ls = arg;

	if (ls->nitems != ls->ncommas) {
		snprintf(ls->cberr, sizeof(ls->cberr), "invalid JSON: "
		    "items without a comma between them");
		return (-1);
	}
	ls->nitems++;
	if (ls->cb(ls->arg, o) == -1) {
		snprintf(ls->cberr, sizeof(ls->cberr), "stopped");
		return (-1);
	}
	return (0);
}

/*
 * Decode bytes of items (k8s_jstream's loop, but a JSON null is an item
 * too, handed on as NULL): blanks between items are skipped here, so the
 * tokener sees an item from its first byte and the bound counts one
 * item's bytes.
 */
static int
ls_items_decode(struct k8s_lstream *ls, const char *buf, size_t len,
    char *err, size_t errlen)
{
	struct json_object	*o;
	enum json_tokener_error	 jerr;
	size_t			 n, used;
	int			 rv;

	while (len > 0) {
		if (!ls->initem) {
			while (len > 0 && LS_BLANK(*buf)) {
				buf++;
				len--;
			}
			if (len == 0)
				break;
			ls->initem = 1;
			ls->used = 0;
		}
		n = ls->maxitem - ls->used;
		if (len < n)
			n = len;
		if (n > INT_MAX)
			n = INT_MAX;
		o = json_tokener_parse_ex(ls->tok, buf, (int)n);
		jerr = json_tokener_get_error(ls->tok);
		if (jerr == json_tokener_continue) {
			ls->used += n;
			buf += n;
			len -= n;
			if (ls->used >= ls->maxitem) {
				snprintf(err, errlen, "list item larger than "
				    "%zu bytes", ls->maxitem);
				return (-1);
			}
			continue;
		}
		if (jerr != json_tokener_success) {
			snprintf(err, errlen, "invalid JSON: %s",
			    json_tokener_error_desc(jerr));
			return (-1);
		}
		/*
		 * A number ends at the byte after it: when that byte starts
		 * this chunk, none of the chunk is used (parse end 0), and
		 * it must be read again as the start of what follows.
		 */
		used = json_tokener_get_parse_end(ls->tok);
		if (used > n || (used == 0 && ls->used == 0))
			used = n;
		buf += used;
		len -= used;
		json_tokener_reset(ls->tok);
		ls->initem = 0;
		rv = ls_item(ls, o);
		json_object_put(o);
		if (rv == -1) {
			snprintf(err, errlen, "%s", ls->cberr);
			return (-1);
		}
	}
	return (0);
}

/* Decode bytes of the items array (and a blank if end: a number ends). */
static int
ls_items_feed(struct k8s_lstream *ls, const char *buf, size_t len, int end,
    char *err, size_t errlen)
{
	if (ls_items_decode(ls, buf, len, err, errlen) == -1 ||
	    (end && ls_items_decode(ls, " ", 1, err, errlen) == -1))
		return (-1);
	if (end && ls->initem) {
		snprintf(err, errlen, "invalid JSON: an unfinished item");
		return (-1);
	}
	return (0);
}

/*
 * Scan bytes inside the items array up to its closing ']' (or the end
 * of buf); return how many were used, or -1 on error.
 */
static long
ls_items_scan(struct k8s_lstream *ls, const char *buf, size_t len,
    char *err, size_t errlen)
{
	size_t	i, start = 0;
	char	c;

	for (i = 0; i < len; i++) {
		c = buf[i];
		if (ls->instr) {
			if (ls->esc)
				ls->esc = 0;
			else if (c == '\\')
				ls->esc = 1;
			else if (c == '"')
				ls->instr = 0;
			continue;
		}
		switch (c) {
		case '"':
			ls->instr = 1;
			break;
		case '{':
		case '[':
			ls->depth++;
			break;
		case '}':
		case ']':
			if (ls->depth > 2) {
				ls->depth--;
				break;
			}
			if (c == '}') {
				snprintf(err, errlen, "invalid JSON: items "
				    "array closed by '}'");
				return (-1);
			}
			if (ls_items_feed(ls, buf + start, i - start, 1, err,
			    errlen) == -1)
				return (-1);
			if (ls->nitems != ls->ncommas + (ls->nitems > 0)) {
				snprintf(err, errlen, "invalid JSON: a comma "
				    "before the end of the items");
				return (-1);
			}
			ls->depth = 1;
			ls->initems = 0;
			return ((long)i + 1);
		case ',':
			if (ls->depth > 2)
				break;
			if (ls_items_feed(ls, buf + start, i - start, 1, err,
			    errlen) == -1)
				return (-1);
			if (ls->nitems != ls->ncommas + 1) {
				snprintf(err, errlen, "invalid JSON: a comma "
				    "without an item before it");
				return (-1);
			}
			ls->ncommas++;
			start = i + 1;
			break;
		}
	}
	if (ls_items_feed(ls, buf + start, len - start, 0, err, errlen) == -1)
		return (-1);
	return ((long)len);
}

/* Follow a byte of a string outside the items (a key, maybe "items"). */
static void
ls_string_byte(struct k8s_lstream *ls, char c)
{
	int	inkey = ls->d1 == LS_INKEY && ls->depth == 1;

	if (ls->esc) {
		ls->esc = 0;
		ls->keylen = sizeof(ls->key);	/* escaped: not plain */
		return;
	}
	if (c == '\\') {
		ls->esc = 1;
		return;
	}
	if (c == '"') {
		ls->instr = 0;
		if (inkey)
			ls->d1 = LS_COLON;
		return;
	}
	if (inkey && ls->keylen < sizeof(ls->key))
		ls->key[ls->keylen++] = c;
}

/*
 * Follow a byte outside any string and outside the items.  Returns 1 if
 * the items array starts here, 0, or -1 on error.
 */
static int
ls_byte(struct k8s_lstream *ls, char c, char *err, size_t errlen)
{
	int	itemsnext = ls->itemsnext;

	if (LS_BLANK(c))
		return (0);
	ls->itemsnext = 0;
	if (ls->top == LS_ENDED) {
		snprintf(err, errlen, "more than one JSON document in the "
		    "response");
		return (-1);
	}
	switch (c) {
	case '"':
		ls->instr = 1;
		if (ls->depth == 1 && ls->top == LS_OBJECT &&
		    ls->d1 == LS_KEY) {
			ls->d1 = LS_INKEY;
			ls->keylen = 0;
		}
		break;
	case '{':
	case '[':
		if (itemsnext && c == '[') {
			if (ls->seen) {
				snprintf(err, errlen, "list response with two "
				    "items arrays");
				return (-1);
			}
			return (1);
		}
		if (ls->depth == 0)
			ls->top = c == '{' ? LS_OBJECT : LS_OTHER;
		ls->depth++;
		break;
	case '}':
	case ']':
		/* json-c checks that each closes what it should. */
		if (--ls->depth <= 0) {
			ls->depth = 0;
			ls->top = LS_ENDED;
		}
		break;
	case ':':
		if (ls->depth == 1 && ls->d1 == LS_COLON) {
			ls->d1 = LS_VALUE;
			ls->itemsnext = ls->keylen == 5 &&
			    memcmp(ls->key, "items", 5) == 0;
		}
		break;
	case ',':
		if (ls->depth == 1)
			ls->d1 = LS_KEY;
		break;
	default:
		if (ls->depth == 0 && ls->top == LS_NONE)
			ls->top = LS_OTHER;
		break;
	}
	return (0);
}

/* Feed bytes of the body (see k8s_lstream.h). */
int
k8s_lstream_feed(struct k8s_lstream *ls, const char *buf, size_t len,
    int (*cb)(void *, struct json_object *), void *arg, char *err,
    size_t errlen)
{
	size_t	i = 0;
	long	used;
	int	rv;

	if (ls->maxbody != 0 && len > ls->maxbody - ls->body) {
		snprintf(err, errlen, "list response larger than %zu bytes",
		    ls->maxbody);
		return (-1);
	}
	/* json-c would take one for the end of its input. */
	if (memchr(buf, '\0', len) != NULL) {
		snprintf(err, errlen, "invalid JSON: a NUL byte");
		return (-1);
	}
	ls->body += len;
	ls->cb = cb;
	ls->arg = arg;
	while (i < len) {
		if (ls->initems) {
			used = ls_items_scan(ls, buf + i, len - i, err,
			    errlen);
			if (used == -1)
				return (-1);
			i += (size_t)used;
			if (!ls->initems && ls_keep(ls, ']', err, errlen) == -1)
				return (-1);
			continue;
		}
		if (ls->instr)
			ls_string_byte(ls, buf[i]);
		else if ((rv = ls_byte(ls, buf[i], err, errlen)) == -1)
			return (-1);
		else if (rv == 1) {
			ls->initems = ls->seen = 1;
			ls->depth = 2;
			ls->nitems = ls->ncommas = 0;
		}
		if (ls_keep(ls, buf[i], err, errlen) == -1)
			return (-1);
		i++;
	}
	return (0);
}

/* The body ended: parse the rest (see k8s_lstream.h). */
struct json_object *
k8s_lstream_finish(struct k8s_lstream *ls, char *err, size_t errlen)
{
	struct json_tokener	*tok;
	struct json_object	*o;
	enum json_tokener_error	 jerr;
	size_t			 end;

	if (ls->initems || ls->instr || ls->depth != 0 || ls->restlen == 0 ||
	    ls->restlen > INT_MAX) {
		snprintf(err, errlen, "truncated or empty response");
		return (NULL);
	}
	if ((tok = json_tokener_new_ex(LS_JSON_DEPTH)) == NULL)
		fatalx("json_tokener_new_ex: out of memory");
	json_tokener_set_flags(tok, JSON_TOKENER_STRICT);
	o = json_tokener_parse_ex(tok, ls->rest, (int)ls->restlen);
	jerr = json_tokener_get_error(tok);
	end = json_tokener_get_parse_end(tok);
	json_tokener_free(tok);
	if (jerr == json_tokener_continue) {
		snprintf(err, errlen, "truncated or empty response");
		return (NULL);
	}
	if (jerr != json_tokener_success || o == NULL) {
		snprintf(err, errlen, "invalid JSON: %s", o == NULL &&
		    jerr == json_tokener_success ? "null" :
		    json_tokener_error_desc(jerr));
		json_object_put(o);
		return (NULL);
	}
	for (; end < ls->restlen; end++)
		if (!LS_BLANK(ls->rest[end])) {
			snprintf(err, errlen, "more than one JSON document "
			    "in the response");
			json_object_put(o);
			return (NULL);
		}
	return (o);
}
