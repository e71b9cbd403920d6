#ifndef OGGEDGE_CHIREDIS_SHIM_H
#define OGGEDGE_CHIREDIS_SHIM_H
#include <hiredis/hiredis.h>
#endif
