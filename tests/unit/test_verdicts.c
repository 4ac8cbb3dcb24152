/* verdicts: what the fetcher concluded about keys it could not get — the
 * negative cache, and each key's last failure, which getxattr explains and
 * which a .sym made from a debug file borrows when the debug file failed
 * (verdicts_failure). */
#include "fetch/verdicts.h"

#include "tests/unit/tap.h"

#include <errno.h>
#include <string.h>

#define PDB "xul.pdb/3844DBB920174967BE7AA4A2C20430FA2/xul.pdb"
#define SYM "xul.pdb/3844DBB920174967BE7AA4A2C20430FA2/xul.sym"

static void failures(void)
{
	struct verdicts *v;
	char out[64];
	if (!ok(verdicts_new(&v) == 0, "verdicts_new"))
		return;
	is_int(verdicts_failure(v, PDB, out, sizeof out), -ENOENT, "a key never tried has no failure");
	verdicts_set_failed(v, PDB, "s: verify-failed (HTML page where a PDB was asked for)");
	is_int(verdicts_failure(v, PDB, out, sizeof out), 0, "a failed key has its failure");
	is_str(out, "s: verify-failed (HTML page where a PDB was asked for)", "... its summary, whole");
	is_int(verdicts_failure(v, SYM, out, sizeof out), -ENOENT, "... and only that key");
	char small[12];
	is_int(verdicts_failure(v, PDB, small, sizeof small), 0, "a short buffer: still found");
	is_str(small, "s: verify-f", "... and the summary truncated, terminated");
	verdicts_set_failed(v, PDB, "s: transient (HTTP 503)");
	verdicts_failure(v, PDB, out, sizeof out);
	is_str(out, "s: transient (HTTP 503)", "the last failure replaces the one before");
	verdicts_clear(v, PDB);
	is_int(verdicts_failure(v, PDB, out, sizeof out), -ENOENT, "a key that arrived has none");
	verdicts_free(v);
}

int main(void)
{
	failures();
	return tap_done();
}
