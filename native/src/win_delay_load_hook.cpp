// Windows, MinGW builds (the win32-x64 prebuilt, tools/platforms/cross-build.ts):
// the addon imports N-API from "node.exe" through a delay-load import library,
// and this hook hands the delay loader the running executable instead, so the
// addon also loads in hosts with another name (electron.exe, a renamed
// node.exe). MSVC builds get the same hook from cmake-js
// (win_delay_load_hook.cc).
#if defined(_WIN32) && defined(__MINGW32__)

#    ifndef WIN32_LEAN_AND_MEAN
#        define WIN32_LEAN_AND_MEAN
#    endif
#    include <windows.h>
// windows.h first: delayimp.h uses its types
#    include <delayimp.h>
#    include <string.h>

static FARPROC WINAPI llama_reward_load_exe_hook(unsigned int event, PDelayLoadInfo info) {
    if (event == dliNotePreLoadLibrary && _stricmp(info->szDll, "node.exe") == 0) {
        return (FARPROC) GetModuleHandleA(NULL);
    }
    return NULL;
}

// MinGW's delay loader (libmingwex) reads this hook; defining it replaces its empty default
extern "C" {
PfnDliHook __pfnDliNotifyHook2 = llama_reward_load_exe_hook;
}

#endif
