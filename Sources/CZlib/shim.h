#ifndef OGGEDGE_CZLIB_SHIM_H
#define OGGEDGE_CZLIB_SHIM_H
#include <zlib.h>
#endif
