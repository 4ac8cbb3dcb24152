/* scan: reading crash processors' missing-symbol reports into `missing`
 * records — minidump_stackwalk's -m module lines, its plain output's
 * "(WARNING: No symbols, ...)" modules and its log lines, Socorro-style CSV
 * with or without a header — and what is refused (no object, bad CSV). */
#include "admin/scan.h"

#include "tests/unit/tap.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#define ID_A "ABCDEF0123456789ABCDEF01234567891"
#define ID_B "00112233445566778899AABBCCDDEEFF2a"

static char lines[8192];
static char err[512];

static int collect(const struct scan_record *r, void *ctx)
{
	(void)ctx;
	char line[5 * SCAN_FIELD_MAX + 8];
	if (scan_format_record(r, line, sizeof line) < 0)
		return -ENOSPC;
	strncat(lines, line, sizeof lines - strlen(lines) - 2);
	strcat(lines, "\n");
	return 0;
}

static int scan(const char *text, const char *object, const char *report)
{
	lines[0] = err[0] = '\0';
	return scan_text(text, strlen(text), object, report, collect, NULL, err, sizeof err);
}

static void stackwalk(void)
{
	const char *plain = "Operating system: Windows NT\n"
			    "Thread 0 (crashed)\n"
			    " 0  app.exe + 0x1000\n"
			    "\n"
			    "Loaded modules:\n"
			    "0x10000000 - 0x107fffff  app.exe  ???  (main)  (WARNING: No symbols, app.pdb, " ID_A ")\n"
			    "0x11000000 - 0x117fffff  lib.dll  1.2.3.4  (WARNING: No symbols, lib.pdb, " ID_B ")\n"
			    "0x12000000 - 0x127fffff  fine.dll  ???\n";
	is_int(scan(plain, NULL, "crash-1"), 2, "plain output: the two modules without symbols");
	is_str(lines, "crash-1 app.pdb " ID_A "\ncrash-1 lib.pdb " ID_B "\n",
	       "named after the report, with their debug files and ids");

	const char *machine = "OS|Windows NT|10.0.19041\n"
			      "Module|app.exe||app.pdb|" ID_A "|0x10000000|0x107fffff|1\n"
			      "Module|C:\\\\Windows\\\\lib.dll|1.0|C:\\\\sym\\\\lib.pdb|" ID_B "|0x11000000|0x117fffff|0\n"
			      "Module|nodebug.dll||||0x12000000|0x127fffff|0\n"
			      "Module|zero.dll||zero.pdb|000000000000000000000000000000000|0x13000000|0x137fffff|0\n"
			      "0|0|app.exe||||0x1000\n";
	is_int(scan(machine, "given", "crash-2"), 2, "-m: every module with an id");
	is_str(lines, "given app.pdb " ID_A "\ngiven lib.pdb " ID_B "\n", "--object wins; paths are stripped");

	const char *log = "2026-11-26 16:17:02: stackwalker.cc:108: INFO: Couldn't load symbols for: "
			  "/build/app.pdb|" ID_A "\n";
	is_int(scan(log, NULL, "crash-3"), 1, "its log: 'Couldn't load symbols for'");
	is_str(lines, "crash-3 app.pdb " ID_A "\n", "read");

	is_int(scan(plain, NULL, NULL), -EINVAL, "stackwalk output from stdin needs an object");
	ok(strstr(err, "--object") != NULL, "and says so: %s", err);
}

static void csv(void)
{
	is_int(scan("debug_file,debug_id,code_file,code_id,crash_id\n"
		    "app.pdb," ID_A ",app.exe,5F00A1B2c000,crash-9\n"
		    "\"lib.pdb\",\"" ID_B "\",,,crash-9\n",
		    NULL, "report"),
	       2, "CSV with a header and an object column");
	is_str(lines, "crash-9 app.pdb " ID_A " app.exe 5F00A1B2c000\ncrash-9 lib.pdb " ID_B "\n",
	       "code file and id kept when given; quotes removed");

	is_int(scan("app.pdb," ID_A ",app.exe,5F00A1B2c000\r\n", "obj-1", "report"), 1,
	       "Socorro's four columns with --object (CRLF)");
	is_str(lines, "obj-1 app.pdb " ID_A " app.exe 5F00A1B2c000\n", "read");
	is_int(scan("obj-2,app.pdb," ID_A "\n# a comment\n\n", NULL, "report"), 1,
	       "three columns: the object first, as in missing");
	is_str(lines, "obj-2 app.pdb " ID_A "\n", "read");

	is_int(scan("app.pdb," ID_A ",app.exe,5F00A1B2c000\n", NULL, "report"), -EINVAL,
	       "no object column and no --object: refused (a file name is no crash id for CSV)");
	is_int(scan("a,b,c,d,e,f\n", "o", NULL), -EINVAL, "six columns without a header: refused");
	ok(strstr(err, "line 1") != NULL, "with the line: %s", err);
	is_int(scan("obj,My File.pdb," ID_A "\n", NULL, NULL), -EINVAL, "a debug file with a blank: refused");
	is_int(scan("obj,app.pdb," ID_A ",My App.exe,5F00A1B2c000\n", NULL, NULL), 1,
	       "a code file with a blank is dropped (it is optional)");
	is_str(lines, "obj app.pdb " ID_A "\n", "read without it");
	is_int(scan("debug_file,debug_id\napp.pdb,\n", "o", NULL), 0, "a module without an id is skipped");
}

int main(void)
{
	stackwalk();
	csv();
	return tap_done();
}
