/* Placeholder until the check command lands; replaced in this same issue. */
#include <stdio.h>

#include "cli/commands.h"

int rs_cmd_check(int argc, char **argv)
{
	(void)argc;
	(void)argv;
	fprintf(stderr, "reestr check: not built yet\n");
	return 1;
}
