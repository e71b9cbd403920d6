#ifndef OGGEDGE_CLMDB_SHIM_H
#define OGGEDGE_CLMDB_SHIM_H
#include <lmdb.h>
#endif
