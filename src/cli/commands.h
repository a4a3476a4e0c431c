/* Subcommands of the `reestr` binary. Each takes the arguments after its
 * name (argv[0] is the subcommand's name), prints its own --help, and
 * returns the process exit status: 0 success, 1 failure, 2 bad usage. */
#ifndef RS_CLI_COMMANDS_H
#define RS_CLI_COMMANDS_H

int rs_cmd_serve(int argc, char **argv);
int rs_cmd_check(int argc, char **argv);
int rs_cmd_query(int argc, char **argv);
int rs_cmd_gen(int argc, char **argv);
int rs_cmd_publish(int argc, char **argv);
int rs_cmd_diff(int argc, char **argv);
int rs_cmd_agent(int argc, char **argv);
int rs_cmd_send(int argc, char **argv);
int rs_cmd_load(int argc, char **argv);
int rs_cmd_new(int argc, char **argv);
int rs_cmd_keys(int argc, char **argv);
int rs_cmd_deviations(int argc, char **argv);
int rs_cmd_unused(int argc, char **argv);
int rs_cmd_usage(int argc, char **argv);
int rs_cmd_decommission(int argc, char **argv);
int rs_cmd_owners(int argc, char **argv);
int rs_cmd_docs(int argc, char **argv);

#endif
