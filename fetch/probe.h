/* probe: proves that a server configuration can be used before it is
 * applied — a request for a symbol that cannot exist, in the server's
 * layout, through its proxy, with its TLS settings and credentials, must get
 * an HTTP answer that is not a refusal (404 is the healthy one); a dir
 * server's directory must be readable. Blocks its caller for at most about twice the
 * server's timeout_s: call it from a worker, never from the FUSE loop or the
 * transfer thread. */
#ifndef SYMBOLD_PROBE_H
#define SYMBOLD_PROBE_H

#include <stddef.h>

#include "admin/srvconf.h"

/* 0 with what was seen in `reason` ("HTTP 404 from ..."), or
 *   -EHOSTUNREACH  no answer: DNS, connection, proxy, timeout, 5xx
 *   -EACCES        the credentials were refused (401, 403), or the dir is unreadable
 *   -EINVAL        anything else wrong: TLS verification, a missing dir, a type
 *                  this version cannot reach
 * with the reason in `reason`. */
int probe_server(const struct server_config *c, char *reason, size_t len);

#endif
