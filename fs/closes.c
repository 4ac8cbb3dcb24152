#include "fs/closes.h"

#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/inotify.h>
#include <unistd.h>

#include "common/hmap.h"
#include "common/log.h"

struct closes {
	int fd;      /* inotify */
	int stop_fd; /* eventfd: the thread ends */
	pthread_t thread;
	closes_fn fn;
	void *ctx;
	pthread_mutex_t read_mu; /* one reader at a time, so closes are handed over in order */
	pthread_mutex_t mu;
	struct hmap watches; /* watch id (as text) -> how many asked for it (mu) */
};

void closes_drain(struct closes *c)
{
	_Alignas(struct inotify_event) char buf[8192];
	ssize_t n;
	pthread_mutex_lock(&c->read_mu);
	while ((n = read(c->fd, buf, sizeof buf)) > 0) {
		for (char *p = buf; p < buf + n;) {
			const struct inotify_event *ev = (const struct inotify_event *)p;
			if (ev->mask & IN_Q_OVERFLOW)
				log_msg("uploads: closes were lost (inotify queue overflow); an upload whose close was "
					"lost is dropped when the kernel forgets it");
			else if ((ev->mask & IN_CLOSE_WRITE) && ev->len)
				c->fn(c->ctx, ev->wd, ev->name);
			p += sizeof *ev + ev->len;
		}
	}
	pthread_mutex_unlock(&c->read_mu);
}

static void *watch_main(void *arg)
{
	struct closes *c = arg;
	struct pollfd fds[2] = {{c->fd, POLLIN, 0}, {c->stop_fd, POLLIN, 0}};
	for (;;) {
		if (poll(fds, 2, -1) < 0 && errno != EINTR)
			break;
		if (fds[1].revents & POLLIN)
			break;
		if (fds[0].revents & POLLIN)
			closes_drain(c);
	}
	return NULL;
}

int closes_watch(struct closes *c, const char *path)
{
	char key[16];
	int wd = inotify_add_watch(c->fd, path, IN_CLOSE_WRITE | IN_ONLYDIR);
	if (wd < 0)
		return -errno;
	snprintf(key, sizeof key, "%d", wd);
	pthread_mutex_lock(&c->mu);
	intptr_t count = (intptr_t)hmap_get(&c->watches, key) + 1;
	int rc = hmap_put(&c->watches, key, (void *)count);
	pthread_mutex_unlock(&c->mu);
	if (rc < 0 && count == 1)
		inotify_rm_watch(c->fd, wd);
	return rc < 0 ? rc : wd;
}

void closes_unwatch(struct closes *c, int dir)
{
	char key[16];
	snprintf(key, sizeof key, "%d", dir);
	pthread_mutex_lock(&c->mu);
	intptr_t count = (intptr_t)hmap_get(&c->watches, key) - 1;
	if (count > 0)
		hmap_put(&c->watches, key, (void *)count); /* replacing: cannot fail */
	else if (hmap_del(&c->watches, key))
		inotify_rm_watch(c->fd, dir);
	pthread_mutex_unlock(&c->mu);
}

int closes_start(struct closes **out, closes_fn fn, void *ctx)
{
	struct closes *c = calloc(1, sizeof *c);
	if (!c)
		return -ENOMEM;
	c->fn = fn;
	c->ctx = ctx;
	pthread_mutex_init(&c->read_mu, NULL);
	pthread_mutex_init(&c->mu, NULL);
	hmap_init(&c->watches);
	c->fd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
	c->stop_fd = eventfd(0, EFD_CLOEXEC);
	int rc = c->fd < 0 || c->stop_fd < 0 ? -errno : -pthread_create(&c->thread, NULL, watch_main, c);
	if (rc == 0)
		pthread_setname_np(c->thread, "symbold-closes");
	if (rc < 0) {
		if (c->fd >= 0)
			close(c->fd);
		if (c->stop_fd >= 0)
			close(c->stop_fd);
		hmap_clear(&c->watches);
		free(c);
		return rc;
	}
	*out = c;
	return 0;
}

void closes_stop(struct closes *c)
{
	uint64_t one = 1;
	if (!c)
		return;
	if (write(c->stop_fd, &one, sizeof one) < 0)
		log_msg("uploads: cannot stop the close watch: %s", strerror(errno));
	pthread_join(c->thread, NULL);
	close(c->fd);
	close(c->stop_fd);
	hmap_clear(&c->watches);
	pthread_mutex_destroy(&c->read_mu);
	pthread_mutex_destroy(&c->mu);
	free(c);
}
