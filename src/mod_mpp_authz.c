/* Require payment: the authorization-provider form of the gate. */
#include "mod_mpp.h"
