// The environment switches that turn llama-reward's weight-product kernels off
// one by one (LLAMA_REWARD_AMX_BF16, LLAMA_REWARD_AVX512_BF16, ...; listed in
// docs/installing.md), for A/B comparisons against llama.cpp's own kernels.
#pragma once

#include <cstdlib>
#include <cstring>

// True when the environment variable `name` is "0": the kernel it names is switched off.
inline bool kernel_switched_off(const char * name) {
    const char * value = std::getenv(name);
    return value != nullptr && std::strcmp(value, "0") == 0;
}
