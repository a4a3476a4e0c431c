#include "sink/kafka_properties.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "reestr/error.h"

/* longer lines are refused rather than cut */
#define LINE_MAX_BYTES 4096

static char *trim(char *s)
{
	while (*s == ' ' || *s == '\t')
		s++;
	size_t n = strlen(s);
	while (n > 0 && (s[n - 1] == ' ' || s[n - 1] == '\t' ||
			 s[n - 1] == '\r' || s[n - 1] == '\n'))
		s[--n] = '\0';
	return s;
}

int rs_kafka_properties_load(const char *path, rd_kafka_conf_t *conf,
			     const char *const *refused)
{
	FILE *f = fopen(path, "r");
	if (!f)
		return rs_error_set(RS_EIO, "kafka config %s: %s", path,
				    strerror(errno));
	char line[LINE_MAX_BYTES + 2];
	int rc = 0;
	for (unsigned no = 1; fgets(line, sizeof line, f); no++) {
		if (!strchr(line, '\n') && !feof(f)) {
			rc = rs_error_set(RS_EINVAL,
					  "kafka config %s:%u: line longer "
					  "than %d bytes",
					  path, no, LINE_MAX_BYTES);
			break;
		}
		char *s = trim(line);
		if (*s == '\0' || *s == '#')
			continue;
		char *eq = strchr(s, '=');
		if (!eq) {
			rc = rs_error_set(RS_EINVAL,
					  "kafka config %s:%u: not key=value",
					  path, no);
			break;
		}
		*eq = '\0';
		char *key = trim(s), *value = trim(eq + 1);
		if (*key == '\0') {
			rc = rs_error_set(RS_EINVAL,
					  "kafka config %s:%u: empty key", path,
					  no);
			break;
		}
		for (size_t i = 0; refused && refused[i]; i++)
			if (!strcmp(key, refused[i])) {
				rc = rs_error_set(RS_EINVAL,
						  "kafka config %s:%u: %s "
						  "cannot be set here (reestr "
						  "sets it)",
						  path, no, key);
				goto done;
			}
		char err[512];
		if (rd_kafka_conf_set(conf, key, value, err, sizeof err) !=
		    RD_KAFKA_CONF_OK) {
			rc = rs_error_set(RS_EINVAL, "kafka config %s:%u: %s",
					  path, no, err);
			break;
		}
	}
	if (rc == 0 && ferror(f))
		rc = rs_error_set(RS_EIO, "kafka config %s: %s", path,
				  strerror(errno));
done:
	fclose(f);
	return rc;
}
