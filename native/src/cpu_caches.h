// The data cache sizes of this CPU that the tiled weight kernels block for
// (tiled_gemm.h): as the operating system reports them.
#pragma once

#include <cstdint>

// The size in bytes of one core's level-`level` data (or unified) cache, 1, 2 or 3 (level 3: the cache the core
// shares with others, whole); 0 where the operating system does not say (Linux: glibc's sysconf; Windows:
// GetLogicalProcessorInformation).
int64_t cpu_data_cache_bytes(int level);
