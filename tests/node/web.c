/*
 * web.c: the backend of tests/node/: a tiny static HTTP server for an
 * image FROM scratch.  It answers every connection on the port given as
 * its argument (default 8080) with "HTTP/1.0 200 OK" and its host name
 * (the pod's name), then closes it.  One connection at a time; SIGTERM
 * ends it.  With "hello" after the port it is instead the hello-and-echo
 * backend of tests/integration/steady.py: each connection, in a process
 * of its own, gets the host name and a newline, then everything it sends
 * echoed back until it closes.
 *
 *	gcc -Os -static -o web web.c
 */
#include <netinet/in.h>
#include <sys/socket.h>

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/*
 * Read what the client sent (one read is enough for curl's request),
 * answer with NAME and close FD.
 */
static void
web_answer(int fd, const char *name)
{
	char buf[4096], out[512];
	int n;

	(void)read(fd, buf, sizeof(buf));
	n = snprintf(out, sizeof(out), "HTTP/1.0 200 OK\r\n"
	    "Content-Type: text/plain\r\nConnection: close\r\n"
	    "Content-Length: %zu\r\n\r\n%s\n", strlen(name) + 1, name);
	if (n > 0 && (size_t)n < sizeof(out))
		(void)write(fd, out, (size_t)n);
	close(fd);
}

/* Send NAME and a newline on FD, then echo until EOF; exit. */
static void
web_hello(int fd, const char *name)
{
	char buf[65536];
	ssize_t n, w, off;

	if (write(fd, name, strlen(name)) < 0 || write(fd, "\n", 1) < 0)
		_exit(1);
	for (;;) {
		n = read(fd, buf, sizeof(buf));
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		for (off = 0; off < n; off += w) {
			w = write(fd, buf + off, (size_t)(n - off));
			if (w < 0 && errno == EINTR)
				w = 0;
			else if (w < 0)
				_exit(1);
		}
	}
	_exit(0);
}

int
main(int argc, char **argv)
{
	struct sockaddr_in sin;
	char name[256];
	int fd, c, one = 1, hello;

	signal(SIGPIPE, SIG_IGN);
	hello = argc > 2 && strcmp(argv[2], "hello") == 0;
	if (hello)
		signal(SIGCHLD, SIG_IGN);	/* children reaped by the kernel */
	if (gethostname(name, sizeof(name)) != 0)
		strcpy(name, "unknown");
	name[sizeof(name) - 1] = '\0';
	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_port = htons((unsigned short)(argc > 1 ? atoi(argv[1]) : 8080));
	sin.sin_addr.s_addr = htonl(INADDR_ANY);
	if ((fd = socket(AF_INET, SOCK_STREAM, 0)) < 0 ||
	    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) != 0 ||
	    bind(fd, (struct sockaddr *)&sin, sizeof(sin)) != 0 ||
	    listen(fd, 64) != 0) {
		perror("web: listen");
		return 1;
	}
	fprintf(stderr, "web: %s listening on %d%s\n", name,
	    ntohs(sin.sin_port), hello ? " (hello and echo)" : "");
	for (;;) {
		if ((c = accept(fd, NULL, NULL)) < 0)
			continue;
		if (!hello) {
			web_answer(c, name);
			continue;
		}
		switch (fork()) {
		case 0:
			close(fd);
			web_hello(c, name);
			break;
		case -1:
			perror("web: fork");
			break;
		}
		close(c);
	}
}
