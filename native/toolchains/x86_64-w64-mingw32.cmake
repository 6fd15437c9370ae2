# Cross-compiles the addon for win32-x64 on a Debian/Ubuntu host with
# g++-mingw-w64-x86-64-posix (std::thread through winpthreads). Used by
# tools/platforms/cross-build.ts, which links the addon against prebuilt ggml DLLs
# (@node-llama-cpp/win-x64, built with MSVC: ggml's API is C, and the x64
# calling convention is the same for both compilers) and against node.exe
# through a delay-load import library made from node-api-headers' .def file
# (native/src/win_delay_load_hook.cpp resolves it to the running executable).
set(CMAKE_SYSTEM_NAME Windows)
set(CMAKE_SYSTEM_PROCESSOR AMD64)
set(CMAKE_C_COMPILER x86_64-w64-mingw32-gcc-posix)
set(CMAKE_CXX_COMPILER x86_64-w64-mingw32-g++-posix)
set(CMAKE_RC_COMPILER x86_64-w64-mingw32-windres)
set(CMAKE_FIND_ROOT_PATH /usr/x86_64-w64-mingw32)
set(CMAKE_FIND_ROOT_PATH_MODE_PROGRAM NEVER)
set(CMAKE_FIND_ROOT_PATH_MODE_LIBRARY ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_INCLUDE ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_PACKAGE ONLY)
# Windows 10 APIs; libstdc++, libgcc and winpthread linked in statically, so
# the addon needs no MinGW DLL beside it (only ggml's DLLs and Windows' own)
add_compile_definitions(_WIN32_WINNT=0x0A00)
set(CMAKE_SHARED_LINKER_FLAGS_INIT "-static -static-libgcc -static-libstdc++")
