/* Counters for mod_status and the server-status page. */
#include "mod_mpp.h"
