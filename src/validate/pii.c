#include "validate/pii.h"

#include <errno.h>
#include <fcntl.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "reestr/error.h"

/* A key file is small: 64 hex digits and a newline when reestr made it. */
enum { KEY_FILE_MAX = 4096 };

struct rs_pii {
	char *key_file;
	bool create;
	pthread_mutex_t lock;
	atomic_bool loaded; /* set once key, inner and outer are */
	unsigned char key[KEY_FILE_MAX];
	size_t key_len;
	/* HMAC's two SHA-256 states after the key's padded block (RFC 2104),
	 * made once: HMAC() sets the key up again for every value, which
	 * cost four times the hash itself (docs/security.md) */
	EVP_MD_CTX *inner, *outer;
	atomic_uint_fast64_t hashed, redacted, rejected;
};

rs_pii *rs_pii_new(const char *key_file, bool create)
{
	rs_pii *p = calloc(1, sizeof *p);
	if (!p)
		return NULL;
	p->key_file = strdup(key_file);
	if (!p->key_file) {
		free(p);
		return NULL;
	}
	p->create = create;
	pthread_mutex_init(&p->lock, NULL);
	return p;
}

void rs_pii_free(rs_pii *p)
{
	if (!p)
		return;
	pthread_mutex_destroy(&p->lock);
	EVP_MD_CTX_free(p->inner);
	EVP_MD_CTX_free(p->outer);
	OPENSSL_cleanse(p->key, sizeof p->key);
	free(p->key_file);
	free(p);
}

/* Makes the key file: written to a temporary name and linked into place,
 * so two collectors sharing a data folder never read half a key, and the
 * one that links second reads the first one's. */
static int make_key_file(const char *path)
{
	unsigned char raw[32];
	if (RAND_bytes(raw, sizeof raw) != 1)
		return rs_error_set(RS_EIO, "pii key %s: no random bytes",
				    path);
	char text[sizeof raw * 2 + 2];
	for (size_t i = 0; i < sizeof raw; i++)
		snprintf(text + 2 * i, 3, "%02x", raw[i]);
	text[sizeof raw * 2] = '\n';
	OPENSSL_cleanse(raw, sizeof raw);
	size_t len = strlen(path) + 32;
	char *tmp = malloc(len);
	if (!tmp)
		return rs_error_set(RS_ENOMEM, "out of memory");
	snprintf(tmp, len, "%s.%ld.tmp", path, (long)getpid());
	int rc = 0;
	int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0) {
		rc = rs_error_set(RS_EIO, "pii key: cannot create %s: %s", tmp,
				  strerror(errno));
		goto done;
	}
	ssize_t w = write(fd, text, sizeof raw * 2 + 1);
	if (w != (ssize_t)(sizeof raw * 2 + 1) || fsync(fd) < 0) {
		rc = rs_error_set(RS_EIO, "pii key: cannot write %s: %s", tmp,
				  strerror(errno));
		close(fd);
		unlink(tmp);
		goto done;
	}
	close(fd);
	if (link(tmp, path) < 0 && errno != EEXIST)
		rc = rs_error_set(RS_EIO, "pii key: cannot create %s: %s", path,
				  strerror(errno));
	unlink(tmp);
done:
	OPENSSL_cleanse(text, sizeof text);
	free(tmp);
	return rc;
}

/* The inner and outer states of HMAC-SHA-256 under p's key. */
static int prepare(rs_pii *p)
{
	enum { BLOCK = 64 };
	unsigned char k0[BLOCK] = {0}, pad[BLOCK];
	unsigned int n = 0;
	if (p->key_len > BLOCK) {
		if (!EVP_Digest(p->key, p->key_len, k0, &n, EVP_sha256(), NULL))
			return rs_error_set(RS_EIO, "pii key: SHA-256 failed");
	} else {
		memcpy(k0, p->key, p->key_len);
	}
	p->inner = EVP_MD_CTX_new();
	p->outer = EVP_MD_CTX_new();
	int ok = p->inner && p->outer;
	for (int i = 0; ok && i < BLOCK; i++)
		pad[i] = k0[i] ^ 0x36;
	ok = ok && EVP_DigestInit_ex(p->inner, EVP_sha256(), NULL) &&
	     EVP_DigestUpdate(p->inner, pad, BLOCK);
	for (int i = 0; ok && i < BLOCK; i++)
		pad[i] = k0[i] ^ 0x5c;
	ok = ok && EVP_DigestInit_ex(p->outer, EVP_sha256(), NULL) &&
	     EVP_DigestUpdate(p->outer, pad, BLOCK);
	OPENSSL_cleanse(k0, sizeof k0);
	OPENSSL_cleanse(pad, sizeof pad);
	if (ok)
		return 0;
	EVP_MD_CTX_free(p->inner);
	EVP_MD_CTX_free(p->outer);
	p->inner = p->outer = NULL;
	return rs_error_set(RS_ENOMEM, "pii key: cannot set up HMAC-SHA-256");
}

static int read_key(rs_pii *p)
{
	const char *path = p->key_file;
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0 && errno == ENOENT && p->create) {
		int rc = make_key_file(path);
		if (rc < 0)
			return rc;
		fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	}
	if (fd < 0)
		return rs_error_set(RS_EIO,
				    "pii key: cannot open %s: %s (the key "
				    "that hashes personal data: "
				    "--pii-key-file, or DATA/pii.key made on "
				    "first use)",
				    path, strerror(errno));
	struct stat st;
	int rc = 0;
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
		rc = rs_error_set(RS_EIO, "pii key: %s is not a regular file",
				  path);
		goto done;
	}
	if (st.st_mode & 077) {
		rc = rs_error_set(RS_EINVAL,
				  "pii key: %s may be read by group or others "
				  "(mode %04o): chmod 600 %s",
				  path, (unsigned)(st.st_mode & 07777), path);
		goto done;
	}
	ssize_t n = read(fd, p->key, sizeof p->key);
	if (n < 0) {
		rc = rs_error_set(RS_EIO, "pii key: cannot read %s: %s", path,
				  strerror(errno));
		goto done;
	}
	if (n == (ssize_t)sizeof p->key) {
		rc = rs_error_set(RS_EINVAL,
				  "pii key: %s is larger than %d bytes", path,
				  KEY_FILE_MAX - 1);
		goto done;
	}
	while (n > 0 && (p->key[n - 1] == '\n' || p->key[n - 1] == '\r'))
		n--;
	if (n < RS_PII_KEY_MIN) {
		rc = rs_error_set(RS_EINVAL,
				  "pii key: %s holds %zd bytes, fewer than "
				  "the %d a key needs",
				  path, n, RS_PII_KEY_MIN);
		goto done;
	}
	p->key_len = (size_t)n;
	if ((rc = prepare(p)) < 0)
		goto done;
	atomic_store_explicit(&p->loaded, true, memory_order_release);
done:
	if (rc < 0)
		OPENSSL_cleanse(p->key, sizeof p->key);
	close(fd);
	return rc;
}

int rs_pii_load(rs_pii *p)
{
	if (atomic_load_explicit(&p->loaded, memory_order_acquire))
		return 0;
	pthread_mutex_lock(&p->lock);
	int rc = p->loaded ? 0 : read_key(p);
	pthread_mutex_unlock(&p->lock);
	return rc;
}

static void to_hex(const unsigned char md[32], char hex[RS_PII_HASH_HEX + 1])
{
	static const char digits[] = "0123456789abcdef";
	for (size_t i = 0; i < 32; i++) {
		hex[2 * i] = digits[md[i] >> 4];
		hex[2 * i + 1] = digits[md[i] & 15];
	}
	hex[RS_PII_HASH_HEX] = '\0';
}

void rs_pii_hmac_hex(const unsigned char *key, size_t key_len, const void *data,
		     size_t n, char hex[RS_PII_HASH_HEX + 1])
{
	unsigned char md[32];
	unsigned int md_len = sizeof md;
	static const unsigned char none = 0;
	HMAC(EVP_sha256(), key, (int)key_len,
	     n ? (const unsigned char *)data : &none, n, md, &md_len);
	to_hex(md, hex);
}

int rs_pii_hash(rs_pii *p, const void *data, size_t n,
		char hex[RS_PII_HASH_HEX + 1])
{
	if (!p)
		return rs_error_set(RS_EINVAL,
				    "pii: a field is to be hashed but the "
				    "collector has no key");
	int rc = rs_pii_load(p); /* once loaded, the states never change */
	if (rc < 0)
		return rc;
	unsigned char ih[32], md[32];
	unsigned int len = 0;
	EVP_MD_CTX *c = EVP_MD_CTX_new();
	int ok = c && EVP_MD_CTX_copy_ex(c, p->inner) &&
		 EVP_DigestUpdate(c, data, n) &&
		 EVP_DigestFinal_ex(c, ih, &len) &&
		 EVP_MD_CTX_copy_ex(c, p->outer) &&
		 EVP_DigestUpdate(c, ih, sizeof ih) &&
		 EVP_DigestFinal_ex(c, md, &len);
	EVP_MD_CTX_free(c);
	if (!ok)
		return rs_error_set(RS_ENOMEM, "pii: HMAC-SHA-256 failed");
	to_hex(md, hex);
	return 0;
}

void rs_pii_count(rs_pii *p, uint64_t hashed, uint64_t redacted,
		  uint64_t rejected)
{
	if (!p)
		return;
	atomic_fetch_add(&p->hashed, hashed);
	atomic_fetch_add(&p->redacted, redacted);
	atomic_fetch_add(&p->rejected, rejected);
}

rs_pii_counts rs_pii_counts_get(const rs_pii *p)
{
	rs_pii_counts c = {0};
	if (p) {
		c.hashed = atomic_load(&((rs_pii *)p)->hashed);
		c.redacted = atomic_load(&((rs_pii *)p)->redacted);
		c.rejected = atomic_load(&((rs_pii *)p)->rejected);
	}
	return c;
}

/* ---- which fields are marked ------------------------------------------ */

/* Objects form a DAG that can be wide: the walk is bounded, and a walk
 * that runs out says "marked" (the safe answer). */
enum { MARK_WALK_MAX = 100000 };

static bool type_marked(const rs_type *t, size_t *budget);

static bool fields_marked(const rs_field *f, size_t n, size_t *budget)
{
	for (size_t i = 0; i < n; i++) {
		if (!*budget)
			return true;
		--*budget;
		if (f[i].pii || type_marked(&f[i].type, budget))
			return true;
	}
	return false;
}

static bool type_marked(const rs_type *t, size_t *budget)
{
	while (t->kind == RS_TYPE_ARRAY && t->items)
		t = t->items;
	return t->kind == RS_TYPE_OBJECT && t->object &&
	       fields_marked(t->object->fields, t->object->field_count, budget);
}

bool rs_pii_fields_marked(const rs_field *fields, size_t n)
{
	size_t budget = MARK_WALK_MAX;
	return fields_marked(fields, n, &budget);
}

static bool event_marked(const rs_event *ev, int version)
{
	const rs_version *v =
		version >= 0 ? rs_event_version(ev, version) : NULL;
	if (v)
		return rs_pii_fields_marked(v->fields, v->field_count);
	for (size_t i = 0; i < ev->version_count; i++)
		if (rs_pii_fields_marked(ev->versions[i].fields,
					 ev->versions[i].field_count))
			return true;
	return false;
}

static bool registry_marked(const rs_registry *reg, int *has_pii)
{
	if (*has_pii >= 0)
		return *has_pii;
	bool any = false;
	for (size_t i = 0; !any && i < rs_registry_event_count(reg); i++)
		any = event_marked(rs_registry_event_at(reg, i), -1);
	*has_pii = any;
	return any;
}

/* The policy for an event whose environment is not known: store only when
 * every environment listing the event stores (so none would hide it). */
static rs_pii_policy unknown_env_policy(const rs_registry *reg,
					const rs_event *ev)
{
	if (!ev)
		return RS_PII_REDACT;
	bool listed = false;
	for (size_t i = 0; i < rs_registry_environment_count(reg); i++) {
		const rs_environment *env = rs_registry_environment_at(reg, i);
		if (!rs_environment_has_event(env, ev))
			continue;
		listed = true;
		if (env->pii != RS_PII_STORE)
			return RS_PII_REDACT;
	}
	return listed ? RS_PII_STORE : RS_PII_REDACT;
}

/* ---- scrubbing a rejected event's payload ----------------------------- */

enum { MAX_MARKS = 4096 };

typedef struct scrub {
	const rs_json *marks[MAX_MARKS];
	size_t n;
	bool overflow; /* more marks than room: replace the whole fields */
} scrub;

static void mark(scrub *s, const rs_json *v)
{
	if (v->type == RS_JSON_NULL && !v->over_limit)
		return;
	for (size_t i = 0; i < s->n; i++)
		if (s->marks[i] == v)
			return;
	if (s->n == MAX_MARKS) {
		s->overflow = true;
		return;
	}
	s->marks[s->n++] = v;
}

static void walk_fields(scrub *s, const rs_field *fields, size_t n,
			const rs_json *obj, unsigned depth);

static void walk_value(scrub *s, const rs_type *t, const rs_json *v,
		       unsigned depth)
{
	if (depth > 64)
		return;
	if (t->kind == RS_TYPE_ARRAY && t->items && v->type == RS_JSON_ARRAY) {
		for (size_t i = 0; i < v->u.arr.count; i++)
			walk_value(s, t->items, &v->u.arr.items[i], depth + 1);
		return;
	}
	if (t->kind == RS_TYPE_OBJECT && t->object)
		walk_fields(s, t->object->fields, t->object->field_count, v,
			    depth + 1);
}

static void walk_fields(scrub *s, const rs_field *fields, size_t n,
			const rs_json *obj, unsigned depth)
{
	if (obj->type != RS_JSON_OBJECT)
		return;
	for (size_t i = 0; i < obj->u.obj.count; i++) {
		const rs_json_member *m = &obj->u.obj.items[i];
		for (size_t k = 0; k < n; k++) {
			if (strcmp(fields[k].name, m->key))
				continue;
			if (fields[k].pii)
				mark(s, &m->value);
			else
				walk_value(s, &fields[k].type, &m->value,
					   depth);
		}
	}
}

static bool marked(const scrub *s, const rs_json *v)
{
	for (size_t i = 0; i < s->n; i++)
		if (s->marks[i] == v)
			return true;
	return false;
}

/* The policy's replacement of one value: the HMAC of its text (a
 * string's characters, any other value's compact JSON) or null. */
static int write_replacement(rs_buf *out, rs_pii *p, rs_pii_policy policy,
			     const rs_json *v)
{
	if (policy != RS_PII_HASH || v->over_limit)
		return rs_buf_puts(out, "null") < 0 ? RS_ENOMEM : 0;
	char hex[RS_PII_HASH_HEX + 1];
	int rc;
	if (v->type == RS_JSON_STRING) {
		rc = rs_pii_hash(p, v->u.str.ptr, v->u.str.len, hex);
	} else {
		rs_buf text = RS_BUF_INIT;
		rc = rs_json_write(&text, v) < 0 ? RS_ENOMEM : 0;
		if (rc == 0)
			rc = rs_pii_hash(p, text.data ? text.data : "",
					 text.len, hex);
		rs_buf_free(&text);
	}
	if (rc < 0)
		return rc;
	return rs_buf_printf(out, "\"%s\"", hex) < 0 ? RS_ENOMEM : 0;
}

static int write_scrubbed(rs_buf *out, rs_pii *p, rs_pii_policy policy,
			  const scrub *s, const rs_json *v)
{
	if (marked(s, v))
		return write_replacement(out, p, policy, v);
	int rc = 0;
	if (v->type == RS_JSON_OBJECT) {
		if (rs_buf_putc(out, '{') < 0)
			return RS_ENOMEM;
		for (size_t i = 0; i < v->u.obj.count && !rc; i++) {
			const rs_json_member *m = &v->u.obj.items[i];
			if ((i && rs_buf_putc(out, ',') < 0) ||
			    rs_json_write_string(out, m->key, m->key_len) < 0 ||
			    rs_buf_putc(out, ':') < 0)
				return RS_ENOMEM;
			rc = write_scrubbed(out, p, policy, s, &m->value);
		}
		return rc ? rc : rs_buf_putc(out, '}') < 0 ? RS_ENOMEM : 0;
	}
	if (v->type == RS_JSON_ARRAY) {
		if (rs_buf_putc(out, '[') < 0)
			return RS_ENOMEM;
		for (size_t i = 0; i < v->u.arr.count && !rc; i++) {
			if (i && rs_buf_putc(out, ',') < 0)
				return RS_ENOMEM;
			rc = write_scrubbed(out, p, policy, s,
					    &v->u.arr.items[i]);
		}
		return rc ? rc : rs_buf_putc(out, ']') < 0 ? RS_ENOMEM : 0;
	}
	return rs_json_write(out, v) < 0 ? RS_ENOMEM : 0;
}

static const char withheld[] =
	"{\"withheld\":\"personal data: this event could not be read field "
	"by field, so its payload is not kept (docs/security.md, "
	"\\\"Personal data\\\")\"}";

int rs_pii_scrub(const rs_registry *reg, rs_pii *p, const rs_json *event,
		 bool rendered, int64_t event_id, int version, int *has_pii,
		 rs_buf *out, bool *use_out)
{
	*use_out = false;
	rs_buf_reset(out);
	const rs_event *ev =
		event_id >= 0 ? rs_registry_event_by_id(reg, event_id) : NULL;
	const rs_environment *env = NULL;
	if (event && event->type == RS_JSON_OBJECT) {
		const rs_json *e = rs_json_get(event, "environment");
		if (e && e->type == RS_JSON_STRING &&
		    strlen(e->u.str.ptr) == e->u.str.len)
			env = rs_registry_environment_by_name(reg,
							      e->u.str.ptr);
	}
	rs_pii_policy policy = env ? env->pii : unknown_env_policy(reg, ev);
	if (policy == RS_PII_STORE)
		return 0;
	bool may_hold =
		ev ? event_marked(ev, version) : registry_marked(reg, has_pii);
	if (!may_hold)
		return 0;
	const rs_json *fields = event && event->type == RS_JSON_OBJECT
					? rs_json_get(event, "fields")
					: NULL;
	if (!event || event->type != RS_JSON_OBJECT || event->over_limit) {
		*use_out = true;
		return rs_buf_puts(out, withheld) < 0 ? RS_ENOMEM : 0;
	}
	scrub *s = calloc(1, sizeof *s);
	if (!s)
		return RS_ENOMEM;
	if (fields) {
		const rs_version *v = ev ? rs_event_version(ev, version) : NULL;
		if (!ev || fields->type != RS_JSON_OBJECT)
			mark(s, fields);
		else if (v)
			walk_fields(s, v->fields, v->field_count, fields, 0);
		else
			for (size_t i = 0; i < ev->version_count; i++)
				walk_fields(s, ev->versions[i].fields,
					    ev->versions[i].field_count, fields,
					    0);
		if (s->overflow) {
			s->n = 0;
			s->overflow = false;
			mark(s, fields);
		}
	}
	int rc = 0;
	if (s->n || rendered) {
		*use_out = true;
		/* hashed or not, a marked value is never kept in clear:
		 * reject keeps null, as redact */
		rs_pii_policy shown =
			policy == RS_PII_HASH ? RS_PII_HASH : RS_PII_REDACT;
		rc = write_scrubbed(out, p, shown, s, event);
	}
	free(s);
	return rc;
}
