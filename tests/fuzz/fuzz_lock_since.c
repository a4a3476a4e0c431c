/* Fuzzes the lock check made since the registry checked before
 * (rs_lock_check_since_text, serve's reload) against the full check: the
 * example registry, published, is the registry before and its lock the
 * bytes remembered; each input edits those bytes (two bytes of offset, one
 * of how many bytes to cut, then the bytes put in their place), so that
 * most inputs share a start and an end with them and take the incremental
 * path. The answer must be the full check's (rs_lock_check_text): the same
 * result, the same problems, the same published marks; never a crash. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/buf.h"
#include "model/loader.h"
#include "model/lock.h"
#include "model/registry_impl.h"
#include "reestr/error.h"
#include "reestr/publish.h"

static rs_registry *prev;
static rs_lock_memory *mem;
static rs_registry_file *files;
static size_t nfiles;
static char *base;
static size_t base_len;

static char *read_all(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	if (!f)
		abort();
	rs_buf b = RS_BUF_INIT;
	char chunk[65536];
	size_t n;
	while ((n = fread(chunk, 1, sizeof chunk, f)))
		if (rs_buf_append(&b, chunk, n))
			abort();
	fclose(f);
	*len = b.len;
	return rs_buf_detach(&b);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	rs_diags d = RS_DIAGS_INIT;
	if (rs_registry_read_folder(REESTR_SOURCE_DIR "/examples/registry",
				    &files, &nfiles) < 0)
		abort();
	/* without its mappings: a registry with mappings is checked in full
	 * (rs_lock_check_since) */
	size_t kept = 0;
	for (size_t i = 0; i < nfiles; i++) {
		if (!strncmp(files[i].name, "mappings/", 9)) {
			free((char *)files[i].name);
			free((char *)files[i].data);
			continue;
		}
		files[kept++] = files[i];
	}
	nfiles = kept;
	if (rs_registry_load_files(files, nfiles, &prev, &d) < 0)
		abort();
	/* its lock: every version published */
	char dir[] = "/tmp/reestr-fuzz-lock-XXXXXX";
	if (!mkdtemp(dir))
		abort();
	size_t added = 0;
	char path[64];
	snprintf(path, sizeof path, "%s/" RS_LOCK_FILE, dir);
	if (rs_lock_write(prev, dir, &added) < 0)
		abort();
	base = read_all(path, &base_len);
	unlink(path);
	rmdir(dir);
	if (rs_lock_check_since_text(prev, base, base_len, NULL, NULL, &mem,
				     &d) != 0)
		abort();
	rs_diags_free(&d);
	return 0;
}

static char *text_of(const rs_diags *d)
{
	rs_buf o = RS_BUF_INIT;
	if (rs_buf_puts(&o, ""))
		abort();
	for (size_t i = 0; i < d->count; i++)
		if (rs_buf_printf(&o, "%s:%d:%d: %s\n", d->items[i].file,
				  d->items[i].line, d->items[i].col,
				  d->items[i].message) < 0)
			abort();
	return rs_buf_detach(&o);
}

static bool same_marks(const rs_registry *a, const rs_registry *b)
{
	if (a->nevents != b->nevents)
		return false;
	for (size_t i = 0; i < a->nevents; i++)
		for (size_t v = 0; v < a->events[i].version_count; v++)
			if (a->events[i].versions[v].published !=
			    b->events[i].versions[v].published)
				return false;
	return true;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 3)
		return 0;
	size_t off = ((size_t)data[0] << 8 | data[1]) % (base_len + 1);
	size_t cut = data[2];
	if (cut > base_len - off)
		cut = base_len - off;
	rs_buf text = RS_BUF_INIT;
	if (rs_buf_append(&text, base, off) ||
	    rs_buf_append(&text, data + 3, size - 3) ||
	    rs_buf_append(&text, base + off + cut, base_len - off - cut))
		abort();
	/* the registry loaded since prev (nothing changed: every event
	 * kept), and one loaded in full */
	rs_registry *inc = NULL, *full = NULL;
	rs_diags d = RS_DIAGS_INIT, di = RS_DIAGS_INIT, df = RS_DIAGS_INIT;
	if (rs_registry_load_files_since(prev, files, nfiles, NULL, &inc, &d,
					 NULL) < 0 ||
	    rs_registry_load_files(files, nfiles, &full, &d) < 0)
		abort();
	rs_lock_memory *next = NULL;
	int rci = rs_lock_check_since_text(inc, text.data ? text.data : "",
					   text.len, prev, mem, &next, &di);
	int rcf = rs_lock_check_text(full, text.data ? text.data : "", text.len,
				     &df);
	if (rci != rcf || (rci != 0 && rci != RS_EINVAL && rci != RS_ENOMEM))
		abort();
	if (rci == RS_EINVAL && di.count == 0)
		abort(); /* a refusal always says why */
	char *ti = text_of(&di), *tf = text_of(&df);
	if (strcmp(ti, tf))
		abort();
	if (rci == 0 && (!next || !same_marks(inc, full)))
		abort();
	free(ti);
	free(tf);
	rs_lock_memory_free(next);
	rs_registry_free(inc);
	rs_registry_free(full);
	rs_diags_free(&d);
	rs_diags_free(&di);
	rs_diags_free(&df);
	rs_buf_free(&text);
	return 0;
}
