/* SPDX-License-Identifier: MIT */
/*
 * cli: the agent's client subcommands for scripts.
 *
 *   vigil-agent beat [--status S] [--payload N] [--deadline MS] [--every MS]
 *   vigil-agent emit scenario-start NAME | scenario-pause [NAME] |
 *                    scenario-resume [NAME] | scenario-end [NAME] |
 *                    sched-exit [--code N] [--kind K] REASON |
 *                    result NAME pass|fail|skip|error [--duration D] [MESSAGE]
 *   vigil-agent snapshot --kind memory|cpu|counters [--tag T] [--timeout D]
 *
 * beat declares a deadline only with --deadline; otherwise deadline_ms is 0
 * and the host's --stall-threshold applies to the beating process.
 *
 * Exit codes: CLI_OK, CLI_FAILED (the agent or host refused, snapshot
 * status not 0), CLI_USAGE, CLI_UNREACHABLE (no agent on the socket),
 * CLI_TIMEOUT.
 */
#ifndef VIGIL_GUEST_CLI_H
#define VIGIL_GUEST_CLI_H

#define CLI_OK          0
#define CLI_FAILED      1
#define CLI_USAGE       2
#define CLI_UNREACHABLE 3
#define CLI_TIMEOUT     124

int cli_beat(int argc, char **argv);
int cli_emit(int argc, char **argv);
int cli_snapshot(int argc, char **argv);

#endif
