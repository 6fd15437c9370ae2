# Cross-compiles the addon for linux-arm64 (glibc) on an x86-64 Debian/Ubuntu
# host with g++-aarch64-linux-gnu. Used by tools/platforms/cross-build.ts, which
# passes prebuilt ggml for arm64 (@node-llama-cpp/linux-arm64) and the N-API
# headers; ggml's own CPU code is not compiled.
set(CMAKE_SYSTEM_NAME Linux)
set(CMAKE_SYSTEM_PROCESSOR aarch64)
set(CMAKE_C_COMPILER aarch64-linux-gnu-gcc)
set(CMAKE_CXX_COMPILER aarch64-linux-gnu-g++)
set(CMAKE_FIND_ROOT_PATH /usr/aarch64-linux-gnu)
set(CMAKE_FIND_ROOT_PATH_MODE_PROGRAM NEVER)
set(CMAKE_FIND_ROOT_PATH_MODE_LIBRARY ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_INCLUDE ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_PACKAGE ONLY)
# baseline ARMv8.0-A for libllama and the addon: ggml's CPU variants carry the NEON/dotprod/i8mm code
set(CMAKE_C_FLAGS_INIT "-march=armv8-a")
set(CMAKE_CXX_FLAGS_INIT "-march=armv8-a")
