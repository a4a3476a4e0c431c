#include "http/client_tls.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "reestr/error.h"

int rs_client_cacert(const char *flag, const char **out)
{
	*out = NULL;
	const char *env = getenv("REESTR_CACERT");
	const char *path = flag ? flag : (env && *env ? env : NULL);
	if (!path)
		return 0;
	FILE *f = fopen(path, "rb");
	if (!f)
		return rs_error_set(RS_EINVAL, "%s %s: %s",
				    flag ? "--cacert" : "REESTR_CACERT", path,
				    strerror(errno));
	fclose(f);
	*out = path;
	return 0;
}

void rs_client_tls(CURL *c, const char *cacert)
{
	curl_easy_setopt(c, CURLOPT_SSL_VERIFYPEER, 1L);
	curl_easy_setopt(c, CURLOPT_SSL_VERIFYHOST, 2L);
	if (cacert)
		curl_easy_setopt(c, CURLOPT_CAINFO, cacert);
}

const char *rs_client_tls_hint(CURLcode rc)
{
	if (rc == CURLE_PEER_FAILED_VERIFICATION ||
	    rc == CURLE_SSL_CACERT_BADFILE)
		return " (the collector's certificate could not be verified: "
		       "not signed by a CA this host trusts, or not for the "
		       "URL's host name; a private CA is given with --cacert "
		       "FILE or REESTR_CACERT)";
	if (rc == CURLE_SSL_CONNECT_ERROR)
		return " (TLS handshake failed: is the collector serving "
		       "https?)";
	return "";
}
