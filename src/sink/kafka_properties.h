/* A librdkafka properties file (--kafka-config): key=value lines, blank
 * lines and # comments; spaces around key and value are ignored. Written
 * for `reestr load`, meant for every Kafka client of reestr. */
#ifndef RS_SINK_KAFKA_PROPERTIES_H
#define RS_SINK_KAFKA_PROPERTIES_H

#include <librdkafka/rdkafka.h>

/* Sets every property of the file at path on conf. A key in refused
 * (NULL-terminated; the settings reestr's guarantees rest on) is refused,
 * naming it. Returns 0, or RS_EIO / RS_EINVAL with rs_error_last() naming
 * the file, the line and what is wrong (librdkafka's own message for an
 * unknown key or a bad value). */
int rs_kafka_properties_load(const char *path, rd_kafka_conf_t *conf,
			     const char *const *refused);

#endif
