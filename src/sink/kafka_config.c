#include "sink/kafka_config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "reestr/error.h"

void rs_kafka_config_free(rs_kafka_config *cfg)
{
	if (!cfg)
		return;
	for (size_t i = 0; i < cfg->count; i++) {
		free(cfg->props[i].key);
		free(cfg->props[i].value);
	}
	free(cfg->props);
	free(cfg->file);
	*cfg = (rs_kafka_config){0};
}

static int read_file(const char *path, char **out, size_t *len)
{
	FILE *f = fopen(path, "rb");
	if (!f)
		return rs_error_set(RS_EIO, "%s: %s", path, strerror(errno));
	char *data = malloc(RS_KAFKA_CONFIG_MAX_BYTES + 1);
	if (!data) {
		fclose(f);
		return rs_error_set(RS_ENOMEM, "out of memory");
	}
	size_t n = fread(data, 1, RS_KAFKA_CONFIG_MAX_BYTES + 1, f);
	int err = ferror(f);
	fclose(f);
	if (err) {
		free(data);
		return rs_error_set(RS_EIO, "%s: read error", path);
	}
	if (n > RS_KAFKA_CONFIG_MAX_BYTES) {
		free(data);
		return rs_error_set(RS_EINVAL, "%s: larger than %u bytes", path,
				    RS_KAFKA_CONFIG_MAX_BYTES);
	}
	data[n] = '\0';
	*out = data;
	*len = n;
	return 0;
}

static int is_space(char c)
{
	return c == ' ' || c == '\t' || c == '\r';
}

/* [*b, *e) without the spaces around it */
static void trim(const char **b, const char **e)
{
	while (*b < *e && is_space(**b))
		(*b)++;
	while (*e > *b && is_space((*e)[-1]))
		(*e)--;
}

int rs_kafka_config_load(const char *path, const rs_kafka_refused_key *refused,
			 size_t n_refused, rs_kafka_config *out)
{
	*out = (rs_kafka_config){0};
	char *data = NULL;
	size_t len = 0;
	int rc = read_file(path, &data, &len);
	if (rc < 0)
		return rc;
	out->file = strdup(path);
	if (!out->file)
		goto nomem;
	if (memchr(data, '\0', len)) {
		rc = rs_error_set(RS_EINVAL, "%s: holds a NUL byte", path);
		goto fail;
	}
	const char *p = data, *end = data + len;
	for (unsigned line = 1; p < end; line++) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		const char *le = nl ? nl : end;
		if ((size_t)(le - p) > RS_KAFKA_CONFIG_MAX_LINE) {
			rc = rs_error_set(RS_EINVAL,
					  "%s:%u: line longer than %u bytes",
					  path, line, RS_KAFKA_CONFIG_MAX_LINE);
			goto fail;
		}
		const char *b = p, *e = le;
		p = nl ? nl + 1 : end;
		trim(&b, &e);
		if (b == e || *b == '#')
			continue;
		const char *eq = memchr(b, '=', (size_t)(e - b));
		if (!eq) {
			rc = rs_error_set(RS_EINVAL,
					  "%s:%u: '%.*s' is not key=value",
					  path, line, (int)(e - b), b);
			goto fail;
		}
		const char *kb = b, *ke = eq, *vb = eq + 1, *ve = e;
		trim(&kb, &ke);
		trim(&vb, &ve);
		if (kb == ke) {
			rc = rs_error_set(RS_EINVAL, "%s:%u: no key before '='",
					  path, line);
			goto fail;
		}
		int klen = (int)(ke - kb);
		for (size_t i = 0; i < n_refused; i++)
			if (strlen(refused[i].key) == (size_t)klen &&
			    !memcmp(refused[i].key, kb, (size_t)klen)) {
				rc = rs_error_set(RS_EINVAL,
						  "%s:%u: %s cannot be set "
						  "here: %s",
						  path, line, refused[i].key,
						  refused[i].why);
				goto fail;
			}
		for (size_t i = 0; i < out->count; i++)
			if (strlen(out->props[i].key) == (size_t)klen &&
			    !memcmp(out->props[i].key, kb, (size_t)klen)) {
				rc = rs_error_set(RS_EINVAL,
						  "%s:%u: %s is already set on "
						  "line %u",
						  path, line, out->props[i].key,
						  out->props[i].line);
				goto fail;
			}
		rs_kafka_property *grown =
			realloc(out->props, (out->count + 1) * sizeof *grown);
		if (!grown)
			goto nomem;
		out->props = grown;
		rs_kafka_property *prop = &out->props[out->count];
		*prop = (rs_kafka_property){strndup(kb, (size_t)klen),
					    strndup(vb, (size_t)(ve - vb)),
					    line};
		out->count++;
		if (!prop->key || !prop->value)
			goto nomem;
	}
	free(data);
	return 0;
nomem:
	rc = rs_error_set(RS_ENOMEM, "out of memory");
fail:
	free(data);
	rs_kafka_config_free(out);
	return rc;
}

int rs_kafka_config_apply(const rs_kafka_config *cfg, rd_kafka_conf_t *conf)
{
	for (size_t i = 0; cfg && i < cfg->count; i++) {
		const rs_kafka_property *p = &cfg->props[i];
		char err[512];
		if (rd_kafka_conf_set(conf, p->key, p->value, err,
				      sizeof err) != RD_KAFKA_CONF_OK)
			return rs_error_set(RS_EINVAL, "%s:%u: %s", cfg->file,
					    p->line, err);
	}
	return 0;
}
