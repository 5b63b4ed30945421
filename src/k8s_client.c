/*
 * k8s_client.c: HTTP GETs to the API server on libcurl's multi-socket
 * interface, and the incremental JSON stream decoder.
 *
 * libcurl tells us which sockets to watch (k8s_client_sockcb) and when
 * to wake it (k8s_client_timercb); libevent tells libcurl what happened
 * with curl_multi_socket_action.  Completed transfers are collected with
 * curl_multi_info_read after each action, outside libcurl's callbacks,
 * which is the only place where handles may be removed: so done runs
 * there, and a cancel from inside a write callback is only marked and
 * swept afterwards.
 *
 * Secrets: the Authorization header is built per request, handed to
 * libcurl and wiped before it is freed; CURLOPT_VERBOSE is never set, so
 * no header ever reaches a log.
 */
#include <sys/queue.h>
#include <sys/stat.h>

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/event.h>
#include <curl/curl.h>
#include <json-c/json.h>

#include "k8s_client.h"
#include "kubeconfig.h"
#include "log.h"
#include "xmalloc.h"

#define K8S_TOKEN_MAX		(64 * 1024)
#define K8S_EBODY_MAX		4096
#define K8S_CONNECT_TIMEOUT_MS	10000L
#define K8S_KEEPALIVE_S		30L
#define K8S_JSON_DEPTH		128

#ifndef PACKAGE_VERSION
#define PACKAGE_VERSION		"unknown"
#endif

struct k8s_sock {
	LIST_ENTRY(k8s_sock)	 entry;
	struct k8s_client	*c;
	curl_socket_t		 fd;
	struct event		*ev;
};

struct k8s_req {
	TAILQ_ENTRY(k8s_req)	 entry;
	struct k8s_client	*c;
	CURL			*easy;
	struct curl_slist	*hdrs;
	struct k8s_req_cb	 cb;
	long			 status;	/* 0 until the first byte */
	char			*ebody;		/* body of a non-2xx answer */
	size_t			 elen;
	int			 aborted;	/* data returned -1 */
	int			 cancelled;
	int			 counted;	/* in the client's codes */
	char			 errbuf[CURL_ERROR_SIZE];
};

struct k8s_client {
	struct event_base	*base;
	CURLM			*multi;
	struct event		*timer;
	TAILQ_HEAD(, k8s_req)	 reqs;
	LIST_HEAD(, k8s_sock)	 socks;
	int			 in_curl;	/* inside socket_action */
	int			 token_warned;
	char			*server;	/* no trailing '/' */
	char			*ca_file, *cert_file, *key_file;
	char			*ca_data, *cert_data, *key_data;
	size_t			 ca_len, cert_len, key_len;
	char			*token, *token_file;
	int			 insecure;
	/* Requests per status (0: no answer), for rest_client metrics. */
	struct k8s_client_count	 counts[K8S_CLIENT_NCODES];
	size_t			 ncounts;
};

struct k8s_jstream {
	struct json_tokener	*tok;
	size_t			 maxval;
	size_t			 used;		/* bytes of the current value */
	int			 inval;		/* a value has started */
};

static void	k8s_client_check(struct k8s_client *);

/* Copy len bytes of secret or certificate data, or NULL. */
static char *
k8s_client_dupmem(const char *p, size_t len, size_t *outlen)
{
	char	*d;

	*outlen = 0;
	if (p == NULL || len == 0)
		return (NULL);
	d = xmalloc(len + 1);
	memcpy(d, p, len);
	d[len] = '\0';
	*outlen = len;
	return (d);
}

/* Wipe and free a secret string of len bytes (strlen if len is 0). */
static void
k8s_client_wipe(char *s, size_t len)
{
	if (s == NULL)
		return;
	explicit_bzero(s, len != 0 ? len : strlen(s));
	free(s);
}

/* Run libcurl on a socket event or a timeout, then reap transfers. */
static void
k8s_client_action(struct k8s_client *c, curl_socket_t fd, int mask)
{
	int	running;

	c->in_curl++;
	curl_multi_socket_action(c->multi, fd, mask, &running);
	c->in_curl--;
	k8s_client_check(c);
}

/* Tell libcurl that a socket it watches is ready. */
static void
k8s_client_evcb(evutil_socket_t fd, short what, void *arg)
{
	struct k8s_sock	*s = arg;
	int		 mask = 0;

	if (what & EV_READ)
		mask |= CURL_CSELECT_IN;
	if (what & EV_WRITE)
		mask |= CURL_CSELECT_OUT;
	k8s_client_action(s->c, fd, mask);
}

/* Tell libcurl that its timer expired. */
static void
k8s_client_timeout(evutil_socket_t fd, short what, void *arg)
{
	k8s_client_action(arg, CURL_SOCKET_TIMEOUT, 0);
}

/* Arm or stop our one timer for libcurl (CURLMOPT_TIMERFUNCTION). */
static int
k8s_client_timercb(CURLM *multi, long timeout_ms, void *arg)
{
	struct k8s_client	*c = arg;
	struct timeval		 tv;

	if (timeout_ms < 0) {
		evtimer_del(c->timer);
		return (0);
	}
	/* Never act from inside libcurl: a zero timeout runs next turn. */
	tv.tv_sec = timeout_ms / 1000;
	tv.tv_usec = (timeout_ms % 1000) * 1000;
	return (evtimer_add(c->timer, &tv) == -1 ? -1 : 0);
}

/* Watch what libcurl asks for on fd (CURLMOPT_SOCKETFUNCTION). */
static int
k8s_client_sockcb(CURL *easy, curl_socket_t fd, int what, void *arg,
    void *sockp)
{
	struct k8s_client	*c = arg;
	struct k8s_sock		*s = sockp;
	short			 kind = EV_PERSIST;

	if (what == CURL_POLL_REMOVE) {
		if (s != NULL) {
			curl_multi_assign(c->multi, fd, NULL);
			LIST_REMOVE(s, entry);
			event_free(s->ev);
			free(s);
		}
		return (0);
	}
	if (what & CURL_POLL_IN)
		kind |= EV_READ;
	if (what & CURL_POLL_OUT)
		kind |= EV_WRITE;
	if (s == NULL) {
		if ((s = calloc(1, sizeof(*s))) == NULL)
			return (-1);
		s->c = c;
		s->fd = fd;
		LIST_INSERT_HEAD(&c->socks, s, entry);
		curl_multi_assign(c->multi, fd, s);
	} else if (s->ev != NULL) {
		event_free(s->ev);
		s->ev = NULL;
	}
	if ((s->ev = event_new(c->base, fd, kind, k8s_client_evcb, s)) ==
	    NULL || event_add(s->ev, NULL) == -1)
		return (-1);
	return (0);
}

/* Create a client for kc's server. */
struct k8s_client *
k8s_client_new(struct event_base *base, const struct kubeconfig *kc,
    char *err, size_t errlen)
{
	struct k8s_client	*c;
	size_t			 len;

	if (kc->server == NULL || *kc->server == '\0') {
		snprintf(err, errlen, "no API server address");
		return (NULL);
	}
	if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
		snprintf(err, errlen, "cannot initialise libcurl");
		return (NULL);
	}
	c = xcalloc(1, sizeof(*c));
	c->base = base;
	TAILQ_INIT(&c->reqs);
	LIST_INIT(&c->socks);
	c->server = xstrdup(kc->server);
	len = strlen(c->server);
	while (len > 0 && c->server[len - 1] == '/')
		c->server[--len] = '\0';
	c->ca_file = kc->ca_file ? xstrdup(kc->ca_file) : NULL;
	c->cert_file = kc->cert_file ? xstrdup(kc->cert_file) : NULL;
	c->key_file = kc->key_file ? xstrdup(kc->key_file) : NULL;
	c->ca_data = k8s_client_dupmem(kc->ca_data, kc->ca_data_len,
	    &c->ca_len);
	c->cert_data = k8s_client_dupmem(kc->cert_data, kc->cert_data_len,
	    &c->cert_len);
	c->key_data = k8s_client_dupmem(kc->key_data, kc->key_data_len,
	    &c->key_len);
	c->token = kc->token ? xstrdup(kc->token) : NULL;
	c->token_file = kc->token_file ? xstrdup(kc->token_file) : NULL;
	c->insecure = kc->insecure;
	if ((c->timer = evtimer_new(base, k8s_client_timeout, c)) == NULL ||
	    (c->multi = curl_multi_init()) == NULL) {
		snprintf(err, errlen, "cannot create the HTTP client");
		k8s_client_free(c);
		return (NULL);
	}
	curl_multi_setopt(c->multi, CURLMOPT_SOCKETFUNCTION,
	    k8s_client_sockcb);
	curl_multi_setopt(c->multi, CURLMOPT_SOCKETDATA, c);
	curl_multi_setopt(c->multi, CURLMOPT_TIMERFUNCTION,
	    k8s_client_timercb);
	curl_multi_setopt(c->multi, CURLMOPT_TIMERDATA, c);
	/* All watches on one HTTP/2 connection. */
	curl_multi_setopt(c->multi, CURLMOPT_PIPELINING, CURLPIPE_MULTIPLEX);
	return (c);
}

/* Unlink, clean up and free one request (no callback). */
static void
k8s_req_free(struct k8s_req *r)
{
	struct curl_slist	*h;

	TAILQ_REMOVE(&r->c->reqs, r, entry);
	if (r->easy != NULL) {
		curl_multi_remove_handle(r->c->multi, r->easy);
		curl_easy_cleanup(r->easy);
	}
	for (h = r->hdrs; h != NULL; h = h->next)
		explicit_bzero(h->data, strlen(h->data));
	curl_slist_free_all(r->hdrs);
	free(r->ebody);
	free(r);
}

/* Cancel everything and free the client. */
void
k8s_client_free(struct k8s_client *c)
{
	struct k8s_sock	*s;

	if (c == NULL)
		return;
	while (!TAILQ_EMPTY(&c->reqs))
		k8s_req_free(TAILQ_FIRST(&c->reqs));
	if (c->multi != NULL)
		curl_multi_cleanup(c->multi);
	while ((s = LIST_FIRST(&c->socks)) != NULL) {
		LIST_REMOVE(s, entry);
		if (s->ev != NULL)
			event_free(s->ev);
		free(s);
	}
	if (c->timer != NULL)
		event_free(c->timer);
	free(c->server);
	free(c->ca_file);
	free(c->cert_file);
	free(c->key_file);
	free(c->ca_data);
	free(c->cert_data);
	k8s_client_wipe(c->key_data, c->key_len);
	k8s_client_wipe(c->token, 0);
	free(c->token_file);
	free(c);
	curl_global_cleanup();
}

/* Return the server URL. */
const char *
k8s_client_server(const struct k8s_client *c)
{
	return (c->server);
}

/*
 * Read the bearer token: token_file again for every request (rotation),
 * else the inline token.  Returns a new string (wiped by the caller) or
 * NULL for no token.
 */
static char *
k8s_client_token(struct k8s_client *c)
{
	struct stat	 st;
	char		*buf;
	ssize_t		 n;
	size_t		 len = 0;
	int		 fd;

	if (c->token_file == NULL)
		return (c->token ? xstrdup(c->token) : NULL);
	buf = xmalloc(K8S_TOKEN_MAX + 1);
	/* As yamljson_read_file(): a link is fine, a FIFO is not. */
	if ((fd = open(c->token_file, O_RDONLY | O_CLOEXEC | O_NONBLOCK)) ==
	    -1)
		goto fail;
	if (fstat(fd, &st) == -1) {
		close(fd);
		goto fail;
	}
	if (!S_ISREG(st.st_mode)) {
		close(fd);
		errno = EINVAL;		/* not a regular file */
		goto fail;
	}
	while (len < K8S_TOKEN_MAX && (n = read(fd, buf + len,
	    K8S_TOKEN_MAX - len)) != 0) {
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1) {
			close(fd);
			goto fail;
		}
		len += n;
	}
	close(fd);
	while (len > 0 && isspace((unsigned char)buf[len - 1]))
		len--;
	buf[len] = '\0';
	c->token_warned = 0;
	return (buf);
fail:
	if (!c->token_warned)
		log_warn("token file %s", c->token_file);
	c->token_warned = 1;
	k8s_client_wipe(buf, K8S_TOKEN_MAX + 1);
	return (c->token ? xstrdup(c->token) : NULL);
}

/*
 * Count a request once, by its status (0: no answer), as client-go's
 * rest_client_requests_total does when the response (or the error)
 * comes back: a watch counts when its headers arrive.
 */
static void
k8s_client_count(struct k8s_req *r)
{
	struct k8s_client	*c = r->c;
	size_t			 i;

	if (r->counted)
		return;
	r->counted = 1;
	for (i = 0; i < c->ncounts; i++)
		if (c->counts[i].code == r->status) {
			c->counts[i].n++;
			return;
		}
	if (c->ncounts == K8S_CLIENT_NCODES)
		return;		/* dozens of distinct codes: drop */
	c->counts[c->ncounts].code = r->status;
	c->counts[c->ncounts++].n = 1;
}

/* Return the request counts per status. */
size_t
k8s_client_counts(const struct k8s_client *c,
    const struct k8s_client_count **v)
{
	*v = c->counts;
	return (c->ncounts);
}

/* Pass 2xx bodies on, keep a bit of the others (CURLOPT_WRITEFUNCTION). */
static size_t
k8s_client_writecb(char *ptr, size_t size, size_t nmemb, void *arg)
{
	struct k8s_req	*r = arg;
	size_t		 len = size * nmemb, room;

	if (r->cancelled)
		return (0);
	if (r->status == 0)
		curl_easy_getinfo(r->easy, CURLINFO_RESPONSE_CODE, &r->status);
	if (r->status != 0)
		k8s_client_count(r);
	if (r->status >= 200 && r->status < 300) {
		if (r->cb.data(r->cb.arg, ptr, len) == -1) {
			r->aborted = 1;
			return (0);
		}
		return (len);
	}
	if (r->ebody == NULL && (r->ebody = malloc(K8S_EBODY_MAX + 1)) ==
	    NULL)
		return (len);
	room = K8S_EBODY_MAX - r->elen;
	if (len < room)
		room = len;
	memcpy(r->ebody + r->elen, ptr, room);
	r->elen += room;
	r->ebody[r->elen] = '\0';
	return (len);
}

/* Hand libcurl a copy of len bytes of PEM data as option opt. */
static void
k8s_client_blob(CURL *e, CURLoption opt, char *data, size_t len)
{
	struct curl_blob	b;

	b.data = data;
	b.len = len;
	b.flags = CURL_BLOB_COPY;
	curl_easy_setopt(e, opt, &b);
}

/* Set the TLS options: verification, CA, client certificate and key. */
static void
k8s_client_tls(struct k8s_client *c, CURL *e)
{
	if (c->insecure) {
		curl_easy_setopt(e, CURLOPT_SSL_VERIFYPEER, 0L);
		curl_easy_setopt(e, CURLOPT_SSL_VERIFYHOST, 0L);
	} else if (c->ca_data != NULL) {
		/* Only this CA: unset the system bundle libcurl would add. */
		curl_easy_setopt(e, CURLOPT_CAINFO, NULL);
		curl_easy_setopt(e, CURLOPT_CAPATH, NULL);
		k8s_client_blob(e, CURLOPT_CAINFO_BLOB, c->ca_data, c->ca_len);
	} else if (c->ca_file != NULL) {
		curl_easy_setopt(e, CURLOPT_CAPATH, NULL);
		curl_easy_setopt(e, CURLOPT_CAINFO, c->ca_file);
	}
	if (c->cert_data != NULL) {
		k8s_client_blob(e, CURLOPT_SSLCERT_BLOB, c->cert_data,
		    c->cert_len);
		curl_easy_setopt(e, CURLOPT_SSLCERTTYPE, "PEM");
	} else if (c->cert_file != NULL)
		curl_easy_setopt(e, CURLOPT_SSLCERT, c->cert_file);
	if (c->key_data != NULL) {
		k8s_client_blob(e, CURLOPT_SSLKEY_BLOB, c->key_data,
		    c->key_len);
		curl_easy_setopt(e, CURLOPT_SSLKEYTYPE, "PEM");
	} else if (c->key_file != NULL)
		curl_easy_setopt(e, CURLOPT_SSLKEY, c->key_file);
}

/* Build the request headers; the token is wiped after copying. */
static struct curl_slist *
k8s_client_headers(struct k8s_client *c)
{
	struct curl_slist	*h = NULL, *n;
	char			*tok, *line = NULL;

	h = curl_slist_append(h, "Accept: application/json");
	if (h == NULL)
		return (NULL);
	if ((n = curl_slist_append(h, "User-Agent: kuproxy/" PACKAGE_VERSION))
	    == NULL)
		goto fail;
	h = n;
	if ((tok = k8s_client_token(c)) == NULL || *tok == '\0') {
		k8s_client_wipe(tok, 0);
		return (h);
	}
	if (asprintf(&line, "Authorization: Bearer %s", tok) == -1)
		line = NULL;
	k8s_client_wipe(tok, 0);
	if (line == NULL)
		goto fail;
	n = curl_slist_append(h, line);
	k8s_client_wipe(line, 0);
	if (n == NULL)
		goto fail;
	return (n);
fail:
	curl_slist_free_all(h);
	return (NULL);
}

/* Start a GET of path. */
struct k8s_req *
k8s_client_get(struct k8s_client *c, const char *path, long timeout_ms,
    const struct k8s_req_cb *cb, char *err, size_t errlen)
{
	struct k8s_req	*r;
	char		*url;
	CURL		*e;

	if ((r = calloc(1, sizeof(*r))) == NULL)
		goto fail;
	r->c = c;
	r->cb = *cb;
	TAILQ_INSERT_TAIL(&c->reqs, r, entry);
	if (asprintf(&url, "%s%s", c->server, path) == -1)
		goto fail_req;
	if ((r->hdrs = k8s_client_headers(c)) == NULL ||
	    (r->easy = e = curl_easy_init()) == NULL) {
		free(url);
		goto fail_req;
	}
	curl_easy_setopt(e, CURLOPT_URL, url);
	free(url);
	curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(e, CURLOPT_HTTPHEADER, r->hdrs);
	curl_easy_setopt(e, CURLOPT_HTTP_VERSION, CURL_HTTP_VERSION_2TLS);
	curl_easy_setopt(e, CURLOPT_PIPEWAIT, 1L);
	curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(e, CURLOPT_TCP_KEEPALIVE, 1L);
	curl_easy_setopt(e, CURLOPT_TCP_KEEPIDLE, K8S_KEEPALIVE_S);
	curl_easy_setopt(e, CURLOPT_TCP_KEEPINTVL, K8S_KEEPALIVE_S);
	curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS, K8S_CONNECT_TIMEOUT_MS);
	curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, timeout_ms);
	curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, k8s_client_writecb);
	curl_easy_setopt(e, CURLOPT_WRITEDATA, r);
	curl_easy_setopt(e, CURLOPT_ERRORBUFFER, r->errbuf);
	curl_easy_setopt(e, CURLOPT_PRIVATE, r);
	k8s_client_tls(c, e);
	if (curl_multi_add_handle(c->multi, e) != CURLM_OK) {
		curl_easy_cleanup(e);
		r->easy = NULL;
		goto fail_req;
	}
	return (r);
fail_req:
	k8s_req_free(r);
fail:
	snprintf(err, errlen, "cannot start a request to %s", c->server);
	return (NULL);
}

/* Stop a request; sweep it now unless libcurl is on the stack. */
void
k8s_req_cancel(struct k8s_req *r)
{
	if (r == NULL)
		return;
	r->cancelled = 1;
	if (r->c->in_curl == 0)
		k8s_req_free(r);
}

/* Turn a non-2xx body (a v1 Status, usually) into a short message. */
static void
k8s_client_httpmsg(struct k8s_req *r, char *msg, size_t len)
{
	struct json_object	*o = NULL, *v;
	const char		*s = NULL;

	if (r->ebody != NULL)
		o = json_tokener_parse(r->ebody);
	if (json_object_object_get_ex(o, "message", &v) ||
	    json_object_object_get_ex(o, "reason", &v))
		s = json_object_get_string(v);
	if (s != NULL && *s != '\0')
		snprintf(msg, len, "HTTP %ld: %s", r->status, s);
	else
		snprintf(msg, len, "HTTP %ld", r->status);
	json_object_put(o);
}

/* Classify a finished transfer, tell its owner and free it. */
static void
k8s_client_finish(struct k8s_req *r, CURLcode rc)
{
	char	msg[K8S_CLIENT_ERRLEN];
	int	result;

	msg[0] = '\0';
	if (r->status == 0)
		curl_easy_getinfo(r->easy, CURLINFO_RESPONSE_CODE, &r->status);
	if (!r->aborted)
		k8s_client_count(r);
	if (r->aborted) {
		result = K8S_REQ_ABORTED;
		snprintf(msg, sizeof(msg), "stopped");
	} else if (rc != CURLE_OK) {
		result = K8S_REQ_TRANSPORT;
		snprintf(msg, sizeof(msg), "%s", r->errbuf[0] != '\0' ?
		    r->errbuf : curl_easy_strerror(rc));
	} else if (r->status < 200 || r->status >= 300) {
		result = K8S_REQ_HTTP;
		k8s_client_httpmsg(r, msg, sizeof(msg));
	} else
		result = K8S_REQ_OK;
	/* Off the list first: done may cancel or start others. */
	curl_multi_remove_handle(r->c->multi, r->easy);
	if (!r->cancelled)
		r->cb.done(r->cb.arg, result, r->status, msg);
	k8s_req_free(r);
}

/* Reap finished transfers and requests cancelled from callbacks. */
static void
k8s_client_check(struct k8s_client *c)
{
	struct k8s_req	*r, *next;
	CURLMsg		*m;
	CURLcode	 rc;
	CURL		*e;
	int		 left;

	while ((m = curl_multi_info_read(c->multi, &left)) != NULL) {
		if (m->msg != CURLMSG_DONE)
			continue;
		e = m->easy_handle;
		rc = m->data.result;
		r = NULL;
		curl_easy_getinfo(e, CURLINFO_PRIVATE, (char **)&r);
		if (r != NULL)
			k8s_client_finish(r, rc);
	}
	/* glibc's queue.h has no TAILQ_FOREACH_SAFE. */
	for (r = TAILQ_FIRST(&c->reqs); r != NULL; r = next) {
		next = TAILQ_NEXT(r, entry);
		if (r->cancelled)
			k8s_req_free(r);
	}
}

/* Return a new decoder for values of at most maxval bytes. */
struct k8s_jstream *
k8s_jstream_new(size_t maxval)
{
	struct k8s_jstream	*js;

	js = xcalloc(1, sizeof(*js));
	if ((js->tok = json_tokener_new_ex(K8S_JSON_DEPTH)) == NULL)
		fatalx("json_tokener_new_ex: out of memory");
	js->maxval = maxval;
	return (js);
}

/* Free a decoder and any partial value. */
void
k8s_jstream_free(struct k8s_jstream *js)
{
	if (js == NULL)
		return;
	json_tokener_free(js->tok);
	free(js);
}

/* Drop any partial value. */
void
k8s_jstream_reset(struct k8s_jstream *js)
{
	json_tokener_reset(js->tok);
	js->used = 0;
	js->inval = 0;
}

/* Return 1 if a value has started and not ended. */
int
k8s_jstream_pending(const struct k8s_jstream *js)
{
	return (js->inval);
}

/*
 * Feed bytes.  Whitespace between values is skipped here, so the
 * tokener only ever sees a value from its first byte, and the size
 * bound counts bytes of one value.  After a value completes,
 * json_tokener_get_parse_end says where the next one starts in buf.
 */
int
k8s_jstream_feed(struct k8s_jstream *js, const char *buf, size_t len,
    int (*cb)(void *, struct json_object *), void *arg, char *err,
    size_t errlen)
{
	struct json_object	*o;
	enum json_tokener_error	 jerr;
	size_t			 n, used;
	int			 rv;

	while (len > 0) {
		if (!js->inval) {
			while (len > 0 && isspace((unsigned char)*buf)) {
				buf++;
				len--;
			}
			if (len == 0)
				break;
			js->inval = 1;
			js->used = 0;
		}
		n = js->maxval - js->used;
		if (len < n)
			n = len;
		/* json_tokener_parse_ex takes an int length. */
		if (n > INT_MAX)
			n = INT_MAX;
		o = json_tokener_parse_ex(js->tok, buf, (int)n);
		jerr = json_tokener_get_error(js->tok);
		if (jerr == json_tokener_continue) {
			js->used += n;
			buf += n;
			len -= n;
			if (js->used >= js->maxval) {
				snprintf(err, errlen, "JSON value larger than "
				    "%zu bytes", js->maxval);
				return (-1);
			}
			continue;
		}
		if (jerr != json_tokener_success) {
			snprintf(err, errlen, "invalid JSON: %s",
			    json_tokener_error_desc(jerr));
			return (-1);
		}
		if (o == NULL) {
			snprintf(err, errlen, "unexpected JSON null");
			return (-1);
		}
		used = json_tokener_get_parse_end(js->tok);
		if (used == 0 || used > n)
			used = n;
		buf += used;
		len -= used;
		k8s_jstream_reset(js);
		rv = cb(arg, o);
		json_object_put(o);
		if (rv == -1) {
			snprintf(err, errlen, "stopped");
			return (-1);
		}
	}
	return (0);
}
