/* Placeholder until the query command lands; replaced in this same issue. */
#include <stdio.h>

#include "cli/commands.h"

int rs_cmd_query(int argc, char **argv)
{
	(void)argc;
	(void)argv;
	fprintf(stderr, "reestr query: not built yet\n");
	return 1;
}
