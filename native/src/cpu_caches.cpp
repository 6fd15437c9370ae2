// The data cache sizes of this CPU (L1 and L2 per core, L3 whole) as the operating system reports them. See
// cpu_caches.h.
#include "cpu_caches.h"

#if defined(_WIN32)
#    define WIN32_LEAN_AND_MEAN
#    define NOMINMAX
#    include <windows.h>

#    include <vector>
#elif defined(__linux__)
#    include <unistd.h>
#endif

int64_t cpu_data_cache_bytes(int level) {
#if defined(_WIN32)
    DWORD length = 0;
    GetLogicalProcessorInformation(nullptr, &length);
    std::vector<SYSTEM_LOGICAL_PROCESSOR_INFORMATION> info(length / sizeof(SYSTEM_LOGICAL_PROCESSOR_INFORMATION));
    if (info.empty() || !GetLogicalProcessorInformation(info.data(), &length)) {
        return 0;
    }
    for (const SYSTEM_LOGICAL_PROCESSOR_INFORMATION & entry : info) {
        if (entry.Relationship == RelationCache && entry.Cache.Level == level &&
            (entry.Cache.Type == CacheData || entry.Cache.Type == CacheUnified)) {
            return static_cast<int64_t>(entry.Cache.Size);
        }
    }
    return 0;
#elif defined(__linux__) && defined(_SC_LEVEL1_DCACHE_SIZE) && defined(_SC_LEVEL2_CACHE_SIZE) && \
    defined(_SC_LEVEL3_CACHE_SIZE)
    const long bytes = sysconf(level == 1 ? _SC_LEVEL1_DCACHE_SIZE :
                               level == 2 ? _SC_LEVEL2_CACHE_SIZE :
                                            _SC_LEVEL3_CACHE_SIZE);
    return bytes > 0 ? static_cast<int64_t>(bytes) : 0;
#else
    (void) level;
    return 0;
#endif
}
