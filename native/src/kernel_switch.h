// The environment switches that turn llama-reward's weight-product kernels off
// one by one (LLAMA_REWARD_AMX_BF16, LLAMA_REWARD_AVX512_BF16, ...; listed in
// docs/installing.md), for A/B comparisons against llama.cpp's own kernels.
#pragma once

#include <cstdlib>
#include <cstring>

// True when the environment variable `name` is `value`.
inline bool kernel_switch_is(const char * name, const char * value) {
    const char * set = std::getenv(name);
    return set != nullptr && std::strcmp(set, value) == 0;
}

// True when the environment variable `name` is "0": the kernel it names is switched off.
inline bool kernel_switched_off(const char * name) {
    return kernel_switch_is(name, "0");
}

// True when the environment variable `name` is "1": the kernel it names is preferred where another could run.
inline bool kernel_preferred(const char * name) {
    return kernel_switch_is(name, "1");
}
