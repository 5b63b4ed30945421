/*
 * k8s_client.h: GET requests to the Kubernetes API server with libcurl's
 * multi-socket interface, driven by a libevent loop (no threads, no
 * blocking calls), and an incremental decoder for streams of JSON values.
 *
 * Every request of one client shares one connection where possible
 * (HTTP/2 over TLS, streams multiplexed).  TLS is verified unless the
 * kubeconfig says insecure-skip-tls-verify.  The bearer token is read
 * again from token_file for every request, so a rotated token is used
 * from the next request on.  Tokens and keys are never logged.
 *
 * Request life cycle:
 *
 *	k8s_client_get --> body chunks (data) ... --> done (exactly once)
 *	       \--> k8s_req_cancel: no further callback
 */
#ifndef K8S_CLIENT_H
#define K8S_CLIENT_H

#include <stddef.h>
#include <stdint.h>

struct event_base;
struct json_object;
struct kubeconfig;
struct k8s_client;

#define K8S_CLIENT_NCODES	32

/* Requests that ended with HTTP status code (0: no answer: "<error>"). */
struct k8s_client_count {
	long		code;
	uint64_t	n;
};
struct k8s_req;
struct k8s_jstream;

#define K8S_CLIENT_ERRLEN	512

/* How a request ended: the result argument of done. */
#define K8S_REQ_OK		0	/* 2xx, the whole body delivered */
#define K8S_REQ_HTTP		1	/* a status other than 2xx */
#define K8S_REQ_TRANSPORT	2	/* connect, TLS, timeout, cut stream */
#define K8S_REQ_ABORTED		3	/* data returned -1 */

struct k8s_req_cb {
	/*
	 * Body bytes of a 2xx response, in arbitrary chunks.  Returns 0,
	 * or -1 to stop the request (done then follows with
	 * K8S_REQ_ABORTED).  It runs inside libcurl: it may cancel
	 * requests (they are removed once libcurl returns) but must not
	 * free the client, and should start new requests from done.
	 */
	int	(*data)(void *arg, const char *buf, size_t len);
	/*
	 * The request ended.  status is the HTTP status, 0 if none was
	 * received.  msg is never NULL: "" on success, else a reason (for
	 * K8S_REQ_HTTP the Status message the server sent, for
	 * K8S_REQ_TRANSPORT libcurl's error text such as "SSL certificate
	 * problem: ...").  The request is freed once done returns; done
	 * may start and cancel other requests.
	 */
	void	(*done)(void *arg, int result, long status, const char *msg);
	void	*arg;
};

/*
 * Create a client for the server of kc on base (not owned).  kc is
 * copied: certificates and keys given inline are kept in memory, files
 * are named to libcurl.  Returns the client, or NULL with a reason in err
 * (no server, libcurl not initialised, out of memory).
 */
struct k8s_client *k8s_client_new(struct event_base *base,
	    const struct kubeconfig *kc, char *err, size_t errlen);
/*
 * Cancel every outstanding request (no callback is called) and free the
 * client.  Must not be called from a callback of the client.
 */
void	k8s_client_free(struct k8s_client *);
/* The server URL, "https://host:port", for messages. */
const char *k8s_client_server(const struct k8s_client *);
/*
 * Point *v at the client's request counts per status code (borrowed,
 * valid until the next call into the client) and return how many there
 * are.  A request counts once: when its status arrives, or when it ends
 * without one (code 0).  Up to K8S_CLIENT_NCODES distinct codes.
 */
size_t	k8s_client_counts(const struct k8s_client *,
	    const struct k8s_client_count **v);

/*
 * Start a GET of path ("/api/v1/services?limit=500"), which must start
 * with '/'.  timeout_ms bounds the whole request (0: none).  cb is
 * copied.  Returns the request, or NULL with a reason in err (out of
 * memory, libcurl refused it).  No callback is called before this
 * returns.
 */
struct k8s_req *k8s_client_get(struct k8s_client *, const char *path,
	    long timeout_ms, const struct k8s_req_cb *cb, char *err,
	    size_t errlen);
/*
 * Stop a request that has not ended: no further callback is called.
 * Safe from any callback, including the request's own data.
 */
void	k8s_req_cancel(struct k8s_req *);

/*
 * Incremental decoder of a stream of JSON values (a watch body: one
 * object per event, separated by newlines or nothing; or a single
 * document).  Bytes are fed in arbitrary chunks: a value may span
 * chunks, a chunk may hold several values.  Memory is bounded by
 * maxval, the largest value accepted, in bytes.
 */
/*
 * Return a new decoder for values of at most maxval bytes (maxval > 0),
 * owned by the caller.  Never NULL (allocation failure is fatal).
 */
struct k8s_jstream *k8s_jstream_new(size_t maxval);
/* Free a decoder and any partial value; NULL is ignored. */
void	k8s_jstream_free(struct k8s_jstream *);
/* Forget any partial value (a new stream starts). */
void	k8s_jstream_reset(struct k8s_jstream *);
/*
 * Feed len bytes.  cb is called with each complete value, in order; it
 * borrows the value (take a reference to keep it) and returns 0, or -1
 * to stop.  Returns 0, or -1 with a reason in err: invalid JSON, a value
 * over maxval bytes, or cb returned -1 (err is then "stopped").  After
 * -1 the stream must be reset before it is fed again.
 */
int	k8s_jstream_feed(struct k8s_jstream *, const char *buf, size_t len,
	    int (*cb)(void *arg, struct json_object *val), void *arg,
	    char *err, size_t errlen);
/* Return 1 if a value has started and not ended (a cut stream). */
int	k8s_jstream_pending(const struct k8s_jstream *);

#endif /* K8S_CLIENT_H */
