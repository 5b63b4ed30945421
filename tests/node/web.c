/*
 * web.c: the backend of tests/node/: a tiny static HTTP server for an
 * image FROM scratch.  It answers every connection on the port given as
 * its argument (default 8080) with "HTTP/1.0 200 OK" and its host name
 * (the pod's name), then closes it.  One connection at a time; SIGTERM
 * ends it.
 *
 *	gcc -Os -static -o web web.c
 */
#include <netinet/in.h>
#include <sys/socket.h>

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

int
main(int argc, char **argv)
{
	struct sockaddr_in sin;
	char name[256];
	int fd, c, one = 1;

	signal(SIGPIPE, SIG_IGN);
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
	fprintf(stderr, "web: %s listening on %d\n", name, ntohs(sin.sin_port));
	for (;;) {
		if ((c = accept(fd, NULL, NULL)) < 0)
			continue;
		web_answer(c, name);
	}
}
