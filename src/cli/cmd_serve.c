/* Placeholder until the serve command lands; replaced in this same issue. */
#include <stdio.h>

#include "cli/commands.h"

int rs_cmd_serve(int argc, char **argv)
{
	(void)argc;
	(void)argv;
	fprintf(stderr, "reestr serve: not built yet\n");
	return 1;
}
