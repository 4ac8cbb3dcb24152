/* metrics: the text of .symbold/metrics — the daemon's figures in
 * Prometheus's text format 0.0.4 (common/prom.h writes it), every family
 * named symbold_*, with its unit in its name and a HELP and TYPE line, its
 * samples together. Rendered on the control tree's loop, from memory only:
 * the counters' atomics, a snapshot of the registry, the store's running
 * totals, the missing keeper's last count — never the catalog and never a
 * walk of the store, so a scrape every few seconds neither waits behind a
 * commit nor slows anything that counts. Serving it over HTTP is left to
 * the operator's scraper (docs/ADMIN.md: node-exporter's textfile
 * collector). */
#ifndef SYMBOLD_METRICS_H
#define SYMBOLD_METRICS_H

#include "common/buf.h"
#include "fs/control.h"

int metrics_render(const struct control *c, struct buf *out);

#endif
