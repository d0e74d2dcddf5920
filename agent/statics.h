/* statics.h - follow a pool's static assignments: <root>/config/static/<pool>/<port>. */
#ifndef PC_STATICS_H
#define PC_STATICS_H

#include "agent.h"

/*
 * Read the static assignments of pool p and watch them (p->watching_statics
 * while the watch is set). A new set is installed only when every node of it
 * was read; when a read fails the previous set stays in force and
 * pc_pools_read_failed() schedules the reading again.
 */
void pc_statics_follow(pc_apool *p);

#endif
